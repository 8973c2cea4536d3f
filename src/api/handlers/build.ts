/**
 * `POST /build` as the docker CLI sends it without BuildKit (the classic protocol), `POST /build/prune`,
 * `POST /build/cancel`, and (Berth) `POST /build/context` for `berth build`'s kept contexts. The context is the
 * request body, streamed to the builder; the answer is the classic builder's JSON lines. An error before the first
 * line is an HTTP error (the docker CLI prints "Error response from daemon"); after it, an `errorDetail` line (with
 * the exit code of a failed RUN).
 *
 * The builder is loaded on its first request (`builder`): its modules are no part of berthd's start.
 */
import type { ServerResponse } from 'node:http';
import type { BuildEvent, BuildService, ManifestEntry } from '../../build/index.ts';
import { errorMessage, InvalidArgumentError, NotImplementedError } from '../../util/errors.ts';
import { parseGoDuration } from '../../util/units.ts';
import { boolParam, filtersParam, intParam, JSONLines, readJSONBody, sendJSON, type Request } from '../http.ts';
import type { Router } from '../router.ts';

function jsonParam<T>(q: URLSearchParams, name: string): T | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw new InvalidArgumentError(`invalid JSON in query parameter ${name}: ${v}`);
  }
}

function registryConfig(header: string | string[] | undefined): Record<string, unknown> | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  try {
    return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Berth's `X-Berth-Build-Secrets`: base64 of JSON `{id: base64 value}` (`berth build --secret`). */
function secretsHeader(header: string | string[] | undefined): Map<string, Buffer> | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(v, 'base64').toString('utf8'));
  } catch {
    throw new InvalidArgumentError('invalid X-Berth-Build-Secrets header: not base64 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new InvalidArgumentError('invalid X-Berth-Build-Secrets header');
  return new Map(
    Object.entries(parsed as Record<string, string>).map(([k, b]) => [k, Buffer.from(String(b), 'base64')]),
  );
}

/** The builder service, loaded (and its module with it) on first use. */
export type LoadBuilder = () => Promise<BuildService>;

async function build(builder: LoadBuilder, req: Request, res: ServerResponse): Promise<void> {
  const q = req.query;
  if (q.get('remote')) throw new NotImplementedError('remote build contexts (remote=) are not supported');
  if (q.get('version') === '2')
    throw new NotImplementedError('BuildKit (version=2) is not supported: use the classic builder');
  const svc = await builder();
  const { classicLines, RunFailedError } = await import('../../build/index.ts');
  const quiet = boolParam(q, 'q');
  const structured = boolParam(q, 'berthprogress');
  const out = new JSONLines(res);
  // With q=1 the lines are kept and sent only if the build fails (then with the error), as dockerd does. With
  // berthprogress=1 (berth build) the events go out as they are instead of the classic text.
  const held: unknown[] = [];
  const emit = (e: BuildEvent) => {
    if (structured) {
      void out.write({ berth: e });
      return;
    }
    for (const m of classicLines(e)) {
      if (quiet) held.push(m);
      else void out.write(m);
    }
  };
  const extraHosts = q
    .getAll('extrahosts')
    .flatMap((h) => h.split(','))
    .filter(Boolean);
  let result: Awaited<ReturnType<BuildService['build']>>;
  try {
    result = await svc.build({
      body: req.raw,
      dockerfile: q.get('dockerfile') ?? undefined,
      tags: q.getAll('t'),
      buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs'),
      labels: jsonParam<Record<string, string>>(q, 'labels'),
      target: q.get('target') ?? undefined,
      noCache: boolParam(q, 'nocache'),
      pull: boolParam(q, 'pull'),
      networkMode: q.get('networkmode') ?? undefined,
      extraHosts,
      shmSize: intParam(q, 'shmsize'),
      cacheFrom: jsonParam<string[]>(q, 'cachefrom') ?? [],
      platform: q.get('platform') ?? undefined,
      registryAuth: registryConfig(req.raw.headers['x-registry-config']),
      buildId: q.get('buildid') ?? undefined,
      keptContext: q.get('berthcontext') ?? undefined,
      keptPlan: q.get('berthplanned') ?? undefined,
      secrets: secretsHeader(req.raw.headers['x-berth-build-secrets']),
      signal: req.signal,
      emit,
    });
  } catch (err) {
    if (quiet) for (const m of held) void out.write(m);
    if (!out.started) {
      // nothing was sent yet: drain what the client still sends, then an HTTP error
      req.raw.resume();
      throw err;
    }
    const message = errorMessage(err);
    const detail = err instanceof RunFailedError ? { code: err.exitCode, message } : { message };
    if (!res.writableEnded) {
      res.write(`${JSON.stringify({ errorDetail: detail, error: message })}\r\n`);
      res.end();
    }
    return;
  }
  if (structured) await out.write({ aux: { ID: result.id } });
  else if (quiet) await out.write({ stream: `${result.id}\n` });
  else {
    await out.write({ stream: `Successfully built ${result.id.slice(7, 19)}\n` });
    for (const t of result.tags) await out.write({ stream: `Successfully tagged ${t}\n` });
  }
  out.end();
}

async function prune(builder: LoadBuilder, req: Request, res: ServerResponse): Promise<void> {
  const q = req.query;
  const filters = filtersParam(q, [
    'until',
    'unused-for',
    'type',
    'id',
    'inuse',
    'shared',
    'private',
    'parent',
    'label',
    'label!',
  ]);
  // `docker system prune --filter label=…` passes its filters here too. Cache records carry no labels: a `label`
  // filter matches none of them (nothing is pruned), a `label!` filter all of them, as dockerd answers.
  if (filters.get('label')?.length) {
    sendJSON(res, 200, { CachesDeleted: null, SpaceReclaimed: 0 });
    return;
  }
  const until = filters.get('until')?.[0] ?? filters.get('unused-for')?.[0];
  let untilSeconds: number | undefined;
  if (until !== undefined) {
    let ns: number;
    try {
      ns = parseGoDuration(until);
    } catch (err) {
      throw new InvalidArgumentError(`invalid filter 'until=${until}': ${errorMessage(err)}`);
    }
    untilSeconds = (Date.now() - ns / 1e6) / 1000;
  }
  const keep = intParam(q, 'keep-storage') ?? intParam(q, 'reserved-space') ?? intParam(q, 'max-used-space');
  const report = await (await builder()).prune({ all: boolParam(q, 'all'), until: untilSeconds, keepStorage: keep });
  sendJSON(res, 200, report);
}

export function buildRoutes(router: Router, builder: LoadBuilder): void {
  router
    .add('POST', '/build', (req, res) => build(builder, req, res))
    .add('POST', '/build/prune', (req, res) => prune(builder, req, res))
    .add('POST', '/build/context', async (req, res) => {
      const id = req.query.get('id');
      if (!id) throw new InvalidArgumentError('context ID not set: ?id= is required');
      const manifest = await readJSONBody<ManifestEntry[]>(req.raw, 256 << 20);
      if (!Array.isArray(manifest)) throw new InvalidArgumentError('the body must be a JSON list of context entries');
      const plan = await (await builder()).planContext(id, manifest);
      sendJSON(res, 200, { Need: plan.need, Planned: plan.planned });
    })
    .add('POST', '/build/cancel', async (req, res) => {
      const id = req.query.get('id');
      if (!id) throw new InvalidArgumentError('build ID not set: ?id= is required');
      (await builder()).cancel(id);
      res.writeHead(200);
      res.end();
    });
}
