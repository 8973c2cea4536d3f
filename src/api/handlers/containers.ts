import type { ServerResponse } from 'node:http';
import type { ContainerRow, ContainerService, ContainerSize } from '../../containers/index.ts';
import type { ContainerCreateRequest, HostConfig } from '../../engine-api/containers.ts';
import type { DiskUsageContainer } from '../../engine-api/system.ts';
import { formatTimestampNano, PS_FILTERS, psPorts, statusText } from '../../containers/index.ts';
import type { ImageService } from '../../images/index.ts';
import type { ImageRunConfig } from '../../oci/types.ts';

import { InvalidArgumentError, errorMessage } from '../../util/errors.ts';
import { phaseEnd, phaseStart } from '../../util/trace.ts';
import { drained } from '../../util/chunks.ts';
import { boolParam, filtersParam, intParam, readJSONBody, sendJSON, type Request } from '../http.ts';
import type { Router } from '../router.ts';
import { frame, STDERR, STDOUT, SYSTEMERR } from '../stdcopy.ts';
import { parseDetachKeys, pipeSession } from '../session.ts';
import { pack } from '../../util/tar/index.ts';
import { inspectContainer, mountsJSON, withoutNewerFields } from './container-json.ts';
import { versionAtLeast } from '../version.ts';
import { parseTimestamp } from '../../util/timestamp.ts';

export interface ContainerHandlerDeps {
  containers: ContainerService;
  images: ImageService;
  snapshotterName: string;
  /** The signature policy's check of the image a container is created from (Berth's; none accepts anything). */
  checkImage?: (image: string, signal: AbortSignal) => Promise<void>;
}

/** `ps`'s COMMAND as dockerd builds it: the path, then the arguments, each one holding a space in single quotes. */
export function psCommand(path: string, args: readonly string[]): string {
  return [path, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** An item of `GET /containers/json` (and of `system df`'s Containers); sizes only when asked, left out when 0. */
export function summary(
  d: ContainerHandlerDeps,
  r: ContainerRow,
  version: string,
  links: ReadonlyMap<string, string[]>,
  size?: ContainerSize,
): Record<string, unknown> {
  const net = d.containers.networkSettings(r);
  return {
    Id: r.id,
    Names: [`/${r.name}`, ...(links.get(r.id) ?? [])],
    Image: r.imageRef,
    ImageID: r.imageId,
    Command: psCommand(r.config.Path, r.config.Args),
    Created: Math.floor(r.created / 1000),
    Ports: psPorts(net),
    Labels: r.config.Config.Labels ?? {},
    State: r.state.Status,
    Status: statusText(r.state),
    ...(size?.SizeRw ? { SizeRw: size.SizeRw } : {}),
    ...(size?.SizeRootFs ? { SizeRootFs: size.SizeRootFs } : {}),
    HostConfig: { NetworkMode: r.hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: withoutNewerFields(net, version).Networks },
    Mounts: mountsJSON(r),
  };
}

/** `system df`'s containers: every one, with its sizes, as the list gives them with `all` and `size`. */
export async function diskUsageContainers(d: ContainerHandlerDeps, version: string): Promise<DiskUsageContainer[]> {
  const links = d.containers.linkNames();
  const out: DiskUsageContainer[] = [];
  for (const r of d.containers.list({ all: true, limit: -1, filters: new Map() }))
    out.push(summary(d, r, version, links, await d.containers.files.size(r)) as DiskUsageContainer);
  return out;
}

async function list(d: ContainerHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const rows = d.containers.list({
    all: boolParam(req.query, 'all'),
    limit: intParam(req.query, 'limit') ?? -1,
    filters: filtersParam(req.query, PS_FILTERS),
  });
  const links = d.containers.linkNames();
  const sized = boolParam(req.query, 'size');
  const out: Record<string, unknown>[] = [];
  for (const r of rows)
    out.push(summary(d, r, req.version, links, sized ? await d.containers.files.size(r) : undefined));
  sendJSON(res, 200, out);
}

async function create(d: ContainerHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const t0 = phaseStart();
  const body = await readJSONBody<ContainerCreateRequest>(req.raw);
  if (!body) throw new InvalidArgumentError('config cannot be empty in order to create a container');
  const name = req.query.get('name') || undefined;
  if (d.checkImage && typeof body.Image === 'string' && body.Image !== '') await d.checkImage(body.Image, req.signal);
  const out = await d.containers.create(body, name);
  sendJSON(res, 201, out);
  // The whole create, from its arrival, under the new container's ID (the request's own phase has none).
  phaseEnd('create.call', out.Id, t0);
}

async function wait(d: ContainerHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const condition = req.query.get('condition') || 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition))
    throw new InvalidArgumentError(`invalid condition: "${condition}"`);
  const p = d.containers.wait(req.params.id!, condition as 'not-running', req.signal);
  // The docker CLI calls wait before start and blocks until the headers arrive: flush them now.
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    const r = await p;
    res.end(`${JSON.stringify(r)}\n`);
  } catch (err) {
    if (!req.signal.aborted) res.end(`${JSON.stringify({ StatusCode: -1, Error: { Message: errorMessage(err) } })}\n`);
  }
}

async function attach(d: ContainerHandlerDeps, req: Request): Promise<void> {
  const r = d.containers.get(req.params.id!);
  const tty = r.config.Config.Tty ?? false;
  const wantStdin = boolParam(req.query, 'stdin');
  const wantOut = boolParam(req.query, 'stdout');
  const wantErr = boolParam(req.query, 'stderr');
  if (!boolParam(req.query, 'stream') && !boolParam(req.query, 'logs'))
    throw new InvalidArgumentError('either stream or logs must be true');
  // Without a TTY the streams are framed (stdcopy); the content type says so from API 1.42 on.
  const multiplexed = !tty;
  // Answer the upgrade first: `docker run` waits for it before it asks for /wait and /start, and the session of a
  // container not started yet only comes with the start.
  const { stream } = req.hijack(
    multiplexed && versionAtLeast(req.version, '1.42')
      ? 'application/vnd.docker.multiplexed-stream'
      : 'application/vnd.docker.raw-stream',
  );
  const ac = new AbortController();
  stream.on('close', () => ac.abort());
  // logs=1: what the container wrote so far comes first; with stream=0 that is all (docker-py's
  // `attach(logs=True, stream=False)`).
  if (boolParam(req.query, 'logs') && (wantOut || wantErr)) {
    try {
      for await (const out of logFrames(d, r.id, {
        follow: false,
        stdout: wantOut,
        stderr: wantErr,
        signal: ac.signal,
        timestamps: false,
        multiplexed,
      }))
        if (!stream.write(out) && !(await drained(stream))) return;
    } catch (err) {
      if (!stream.destroyed) stream.end(multiplexed ? frame(SYSTEMERR, Buffer.from(`${errorMessage(err)}\n`)) : '');
      return;
    }
  }
  if (!boolParam(req.query, 'stream')) {
    stream.end();
    return;
  }
  let session: Awaited<ReturnType<ContainerService['attach']>>;
  try {
    session = await d.containers.attach(r.id, ac.signal);
  } catch (err) {
    if (!stream.destroyed) {
      if (multiplexed) stream.write(frame(SYSTEMERR, Buffer.from(`${errorMessage(err)}\n`)));
      stream.end();
    }
    return;
  }
  let detachKeys: number[];
  try {
    detachKeys = tty ? parseDetachKeys(req.query.get('detachKeys') ?? 'ctrl-p,ctrl-q') : [];
  } catch (err) {
    session.close();
    stream.end(errorMessage(err));
    return;
  }
  await pipeSession(session, stream, {
    multiplexed,
    stdout: wantOut,
    stderr: wantErr,
    stdin: wantStdin && (r.config.Config.OpenStdin ?? false),
    detachKeys,
  });
}

type LogOptions = Parameters<ContainerService['logs']>[1] & {
  timestamps: boolean;
  multiplexed: boolean;
  /** `details=1`: this prefix (the log options' attributes) before each line. */
  details?: string;
};

/**
 * The attributes `docker logs --details` shows, as the json-file driver records them: the container's labels named
 * by the `labels` log option (and matching `labels-regex`), the environment variables named by `env` (and matching
 * `env-regex`), as `key=value` joined by commas, sorted by key.
 */
export function logDetails(r: ContainerRow): string {
  const opts = r.hostConfig.LogConfig?.Config ?? {};
  const attrs = new Map<string, string>();
  const labels = r.config.Config.Labels ?? {};
  const env = new Map(
    (r.config.Config.Env ?? []).map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? ([kv, ''] as const) : ([kv.slice(0, i), kv.slice(i + 1)] as const);
    }),
  );
  const pick = (names: string | undefined, regex: string | undefined, from: Map<string, string>) => {
    for (const n of (names ?? '').split(',').filter(Boolean)) {
      const v = from.get(n);
      if (v !== undefined) attrs.set(n, v);
    }
    if (regex) {
      let re: RegExp;
      try {
        re = new RegExp(regex);
      } catch {
        return;
      }
      for (const [k, v] of from) if (re.test(k)) attrs.set(k, v);
    }
  };
  pick(opts.labels, opts['labels-regex'], new Map(Object.entries(labels)));
  pick(opts.env, opts['env-regex'], env);
  return [...attrs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** A container's log lines as the API sends them: stdcopy frames (or raw with a TTY), partial lines joined. */
async function* logFrames(d: ContainerHandlerDeps, id: string, o: LogOptions): AsyncGenerator<Buffer> {
  const { timestamps, multiplexed, details, ...opts } = o;
  const pending = new Map<string, Buffer[]>();
  for await (const e of d.containers.logs(id, opts)) {
    // Partial lines are joined with what follows, as the program wrote them.
    const parts = pending.get(e.stream) ?? [];
    if (e.partial) {
      parts.push(e.message);
      pending.set(e.stream, parts);
      continue;
    }
    pending.delete(e.stream);
    let line = Buffer.concat([...parts, e.message, Buffer.from('\n')]);
    if (details !== undefined) line = Buffer.concat([Buffer.from(`${details} `), line]);
    if (timestamps) line = Buffer.concat([Buffer.from(`${formatTimestampNano(e.timeNano)} `), line]);
    yield multiplexed ? frame(e.stream === 'stdout' ? STDOUT : STDERR, line) : line;
  }
}

async function logs(d: ContainerHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const r = d.containers.get(req.params.id!);
  const stdout = boolParam(req.query, 'stdout');
  const stderr = boolParam(req.query, 'stderr');
  if (!stdout && !stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
  const tailRaw = req.query.get('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? undefined : Number(tailRaw);
  if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgumentError(`invalid tail value "${tailRaw}"`);
  const toNano = (v: string | null) => (v && v !== '0' ? BigInt(Math.round(parseTimestamp(v) * 1e9)) : undefined);
  const since = toNano(req.query.get('since'));
  const until = toNano(req.query.get('until'));
  const timestamps = boolParam(req.query, 'timestamps');
  const tty = r.config.Config.Tty ?? false;
  const multiplexed = !tty;
  // Refused before the headers go (the `none` log driver keeps nothing to read: 501).
  d.containers.readableLog(r.id);
  res.writeHead(200, {
    'Content-Type':
      multiplexed && versionAtLeast(req.version, '1.42')
        ? 'application/vnd.docker.multiplexed-stream'
        : 'application/vnd.docker.raw-stream',
  });
  res.flushHeaders();
  for await (const out of logFrames(d, r.id, {
    follow: boolParam(req.query, 'follow'),
    stdout,
    stderr,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(tail !== undefined ? { tail } : {}),
    signal: req.signal,
    timestamps,
    multiplexed,
    ...(boolParam(req.query, 'details') ? { details: logDetails(r) } : {}),
  }))
    if (!res.write(out) && !(await drained(res))) break;
  res.end();
}

function toTimeout(q: URLSearchParams): number | undefined {
  const t = q.get('t') ?? q.get('timeout');
  if (t === null || t === '') return undefined;
  const n = Number(t);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`invalid timeout "${t}"`);
  return n;
}

export function containerRoutes(router: Router, d: ContainerHandlerDeps): void {
  const c = d.containers;
  router
    .add('GET', '/containers/json', (req, res) => list(d, req, res))
    .add('POST', '/containers/create', (req, res) => create(d, req, res))
    .add('POST', '/containers/prune', async (req, res) => {
      const f = filtersParam(req.query, ['until', 'label']);
      const until = f.get('until')?.map((v) => parseTimestamp(v));
      sendJSON(
        res,
        200,
        await c.prune({
          ...(until?.length ? { until: Math.min(...until) } : {}),
          ...(f.get('label') ? { labels: f.get('label')! } : {}),
        }),
      );
    })
    .add('GET', '/containers/{id}/json', async (req, res) => {
      const r = c.get(req.params.id!);
      const size = boolParam(req.query, 'size') ? await c.files.size(r) : undefined;
      sendJSON(res, 200, inspectContainer(d, r, req.version, size));
    })
    .add('POST', '/containers/{id}/start', async (req, res) => {
      await c.start(req.params.id!);
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/stop', async (req, res) => {
      await c.stop(req.params.id!, { timeout: toTimeout(req.query), signal: req.query.get('signal') ?? undefined });
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/restart', async (req, res) => {
      const t = toTimeout(req.query);
      await c.restart(req.params.id!, {
        ...(t !== undefined ? { timeout: t } : {}),
        ...(req.query.get('signal') ? { signal: req.query.get('signal')! } : {}),
      });
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/kill', async (req, res) => {
      await c.kill(req.params.id!, req.query.get('signal') || 'SIGKILL');
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/wait', (req, res) => wait(d, req, res))
    .add('POST', '/containers/{id}/attach', (req) => attach(d, req))
    .add('GET', '/containers/{id}/logs', (req, res) => logs(d, req, res))
    .add('POST', '/containers/{id}/resize', async (req, res) => {
      const h = intParam(req.query, 'h');
      const w = intParam(req.query, 'w');
      if (h === undefined || w === undefined) throw new InvalidArgumentError('resize needs h and w');
      await c.resize(req.params.id!, h, w);
      res.writeHead(200);
      res.end();
    })
    .add('POST', '/containers/{id}/pause', async (req, res) => {
      await c.pause(req.params.id!);
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/unpause', async (req, res) => {
      await c.unpause(req.params.id!);
      res.writeHead(204);
      res.end();
    })
    .add('POST', '/containers/{id}/rename', async (req, res) => {
      const name = req.query.get('name');
      if (!name) throw new InvalidArgumentError('Neither old nor new names may be empty');
      await c.rename(req.params.id!, name);
      res.writeHead(204);
      res.end();
    })
    .add('GET', '/containers/{id}/stats', async (req, res) => {
      const stream = boolParam(req.query, 'stream', true);
      const oneShot = boolParam(req.query, 'one-shot');
      let sample = await c.stats(req.params.id!);
      if (!stream) {
        // Like dockerd: a second sample a second later, so that the CLI can compute CPU % (one-shot skips it).
        if (!oneShot) {
          await new Promise((r) => setTimeout(r, 1000));
          sample = await c.stats(req.params.id!, sample);
        }
        sendJSON(res, 200, sample);
        return;
      }
      // As dockerd: the stream has no Content-Type (only the one-shot answer is application/json).
      res.writeHead(200);
      while (!req.signal.aborted) {
        res.write(`${JSON.stringify(sample)}\n`);
        await new Promise((r) => setTimeout(r, 1000));
        if (req.signal.aborted) break;
        sample = await c.stats(req.params.id!, sample);
      }
      res.end();
    })
    .add('HEAD', '/containers/{id}/archive', async (req, res) => {
      const st = await c.files.stat(req.params.id!, archivePath(req.query));
      res.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(st)).toString('base64') });
      res.end();
    })
    .add('GET', '/containers/{id}/archive', async (req, res) => {
      const { stat, tar } = await c.files.get(req.params.id!, archivePath(req.query));
      res.writeHead(200, {
        'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'),
        'Content-Type': 'application/x-tar',
      });
      for (const chunk of tar) if (!res.write(chunk) && !(await drained(res))) return;
      res.end();
    })
    .add('PUT', '/containers/{id}/archive', async (req, res) => {
      await c.files.put(req.params.id!, archivePath(req.query), req.raw, {
        noOverwriteDirNonDir: boolParam(req.query, 'noOverwriteDirNonDir'),
        signal: req.signal,
      });
      res.writeHead(200);
      res.end();
    })
    .add('POST', '/commit', async (req, res) => {
      const q = req.query;
      const container = q.get('container');
      if (!container) throw new InvalidArgumentError('a container is required');
      const body = await readJSONBody<ImageRunConfig>(req.raw);
      const repo = q.get('repo') ?? '';
      const id = await c.commit(container, {
        ...(repo ? { repo } : {}),
        ...(q.get('tag') ? { tag: q.get('tag')! } : {}),
        ...(q.get('comment') ? { comment: q.get('comment')! } : {}),
        ...(q.get('author') ? { author: q.get('author')! } : {}),
        changes: q
          .getAll('changes')
          .flatMap((x) => x.split('\n'))
          .filter(Boolean),
        pause: boolParam(q, 'pause', true),
        ...(body ? { config: body } : {}),
      });
      sendJSON(res, 201, { Id: id });
    })
    .add('POST', '/containers/{id}/update', async (req, res) => {
      const body = (await readJSONBody<Partial<HostConfig>>(req.raw)) ?? {};
      const out = await c.update(req.params.id!, body);
      // dockerd's Warnings is null when there are none.
      sendJSON(res, 200, { ...out, Warnings: out.Warnings?.length ? out.Warnings : null });
    })
    .add('GET', '/containers/{id}/changes', async (req, res) => {
      // In path order, as dockerd lists them.
      const changes = await c.files.changes(req.params.id!);
      sendJSON(
        res,
        200,
        [...(changes ?? [])].sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0)),
      );
    })
    .add('GET', '/containers/{id}/export', async (req, res) => {
      const entries = c.files.export(req.params.id!);
      const tar = pack(entries, { signal: req.signal })[Symbol.asyncIterator]();
      let next = await tar.next();
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      while (!next.done) {
        if (!res.write(next.value) && !(await drained(res))) {
          await tar.return?.(undefined);
          return;
        }
        next = await tar.next();
      }
      res.end();
    })
    .add('GET', '/containers/{id}/top', async (req, res) =>
      sendJSON(res, 200, await c.top(req.params.id!, req.query.get('ps_args') ?? '')),
    )
    .add('DELETE', '/containers/{id*}', async (req, res) => {
      if (boolParam(req.query, 'link')) {
        c.removeLink(req.params.id!);
        res.writeHead(204);
        res.end();
        return;
      }
      await c.remove(req.params.id!, { force: boolParam(req.query, 'force'), volumes: boolParam(req.query, 'v') });
      res.writeHead(204);
      res.end();
    });
}

function archivePath(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw new InvalidArgumentError('bad parameter: path cannot be empty');
  return p;
}
