import type { ServerResponse } from 'node:http';
import type { RegistryAuth } from '../../distribution/index.ts';
import type { Image, ImageService } from '../../images/index.ts';
import { chainIds, matchLabels } from '../../images/index.ts';
import type { ImageRecord } from '../../metadata/index.ts';
import { familiarName, familiarString, parseReference, withDefaultTag } from '../../oci/reference.ts';
import type { ImageConfig } from '../../oci/types.ts';
import type { Digest } from '../../util/digest.ts';
import {
  BerthError,
  InvalidArgumentError,
  NotImplementedError,
  UnauthorizedError,
  errorMessage,
} from '../../util/errors.ts';
import { boolParam, filtersParam, JSONLines, readJSONBody, sendJSON, type Request } from '../http.ts';
import type { Router } from '../router.ts';
import { versionAtLeast } from '../version.ts';
import { parseTimestamp } from '../../util/timestamp.ts';

/** What the image handlers need of the archive code (src/distribution). */
export interface Archives {
  load(
    source: AsyncIterable<Uint8Array>,
    opts: { signal: AbortSignal; onProgress?: (p: object) => void },
  ): Promise<{ images: { id: string; tags: string[] }[] }>;
  save(refs: string[], opts: { signal: AbortSignal }): Promise<AsyncIterable<Uint8Array>>;
  importRootfs(
    source: AsyncIterable<Uint8Array>,
    opts: { tag?: string; changes: string[]; message?: string; signal: AbortSignal },
  ): Promise<Image>;
  /** Pulls `ref` (every tag of the repository with `allTags`), reporting Docker's JSON progress messages. */
  pull(
    ref: string,
    opts: {
      platform?: string;
      allTags: boolean;
      auth?: RegistryAuth;
      signal: AbortSignal;
      onProgress: (m: object) => void;
    },
  ): Promise<unknown>;
  /** Pushes `ref` (every local tag of the repository with `allTags`). */
  push(
    ref: string,
    opts: { allTags: boolean; auth?: RegistryAuth; signal: AbortSignal; onProgress: (m: object) => void },
  ): Promise<unknown>;
  /** Checks credentials against a registry (`POST /auth`). */
  login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken?: string }>;
}

export interface ImageHandlerDeps {
  images: ImageService;
  archives: Archives;
}

function toUnix(created: string | undefined): number {
  const t = created ? Date.parse(created) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

/**
 * RepoTags and RepoDigests in familiar form. A repository the image was pulled from by another digest (an
 * index's) shows that digest, as Docker; other repositories of its tags show the manifest's.
 */
function repoNames(
  tags: string[],
  manifestDigest: string,
  pulledBy: string[] = [],
): { RepoTags: string[]; RepoDigests: string[] } {
  const RepoTags = tags.map((t) => familiarString(parseReference(t)));
  const byRepo = new Map<string, string[]>();
  for (const p of pulledBy) {
    const r = parseReference(p);
    const name = familiarName(r);
    byRepo.set(name, [...(byRepo.get(name) ?? []), `${name}@${r.digest}`]);
  }
  const repos = [...new Set([...tags.map((t) => familiarName(parseReference(t))), ...byRepo.keys()])];
  return { RepoTags, RepoDigests: repos.flatMap((r) => byRepo.get(r) ?? [`${r}@${manifestDigest}`]) };
}

export async function imageSummary(
  images: ImageService,
  rec: ImageRecord,
  version: string,
): Promise<Record<string, unknown> & { _config: ImageConfig }> {
  const img = await images.load(rec);
  const names = repoNames(img.tags, rec.manifestDigest, images.records.repoDigestsOf(rec.manifestDigest));
  const size = images.size(img.config);
  const legacy = !versionAtLeast(version, '1.44');
  const s: Record<string, unknown> & { _config: ImageConfig } = {
    Containers: -1,
    Created: toUnix(img.config.created),
    Id: rec.configDigest,
    Labels: img.config.config?.Labels ?? null,
    ParentId: '',
    RepoDigests: names.RepoDigests.length || !legacy ? names.RepoDigests : ['<none>@<none>'],
    RepoTags: names.RepoTags.length || !legacy ? names.RepoTags : ['<none>:<none>'],
    SharedSize: -1,
    Size: size,
    _config: img.config,
  };
  if (legacy) s.VirtualSize = size;
  return s;
}

function matchRef(pattern: string, tags: string[]): boolean {
  const re = globToRegExp(pattern);
  for (const t of tags) {
    const ref = parseReference(t);
    const fam = familiarName(ref);
    if (re.test(fam) || re.test(familiarString(ref))) return true;
    if (ref.tag !== undefined && re.test(`${fam}:${ref.tag}`)) return true;
  }
  return false;
}

/** Go's path.Match as docker uses it for reference filters: `*` and `?` do not cross '/'. */
function globToRegExp(p: string): RegExp {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') s += '[^/]*';
    else if (c === '?') s += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) throw new InvalidArgumentError(`invalid reference filter "${p}"`);
      s += `[${p
        .slice(i + 1, end)
        .replace(/^\^/, '^')
        .replace(/\\/g, '\\\\')}]`;
      i = end;
    } else s += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${s}$`);
}

function parseLabelFilters(values: string[]): { key: string; value?: string; negate: boolean }[] {
  return values.map((v) => {
    const neq = v.indexOf('!=');
    if (neq > 0) return { key: v.slice(0, neq), value: v.slice(neq + 2), negate: true };
    const eq = v.indexOf('=');
    return eq > 0 ? { key: v.slice(0, eq), value: v.slice(eq + 1), negate: false } : { key: v, negate: false };
  });
}

async function list(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const filters = filtersParam(req.query, ['dangling', 'reference', 'label', 'before', 'since', 'until']);
  const out: Record<string, unknown>[] = [];
  const dangling = filters.get('dangling');
  if (dangling?.some((v) => !['true', 'false', '1', '0'].includes(v)))
    throw new InvalidArgumentError(`invalid filter 'dangling=${dangling.join(',')}'`);
  const before = filters.get('before')?.map((r) => d.images.resolve(r));
  const since = filters.get('since')?.map((r) => d.images.resolve(r));
  const labels = parseLabelFilters(filters.get('label') ?? []);
  const until = filters.get('until')?.map((v) => parseTimestamp(v));
  const createdOf = async (r: ImageRecord) => toUnix((await d.images.readConfig(r.configDigest as Digest)).created);
  const beforeT = before ? Math.min(...(await Promise.all(before.map(createdOf)))) : undefined;
  const sinceT = since ? Math.max(...(await Promise.all(since.map(createdOf)))) : undefined;
  const seen = new Set<string>();
  for (const rec of d.images.list()) {
    const s = await imageSummary(d.images, rec, req.version);
    const tags = d.images.records.tagsOf(rec.manifestDigest);
    if (dangling) {
      const want = dangling.includes('true') || dangling.includes('1');
      if ((tags.length === 0) !== want) continue;
    }
    const refs = filters.get('reference');
    // As Docker: only the tags that match are listed (and the image only when one does).
    const matching = refs ? tags.filter((t) => refs.some((p) => matchRef(p, [t]))) : tags;
    if (matching.length === 0 && refs) continue;
    if (refs)
      Object.assign(s, repoNames(matching, rec.manifestDigest, d.images.records.repoDigestsOf(rec.manifestDigest)));
    if (labels.length && !matchLabels(s._config.config?.Labels ?? {}, labels)) continue;
    const created = s.Created as number;
    if (beforeT !== undefined && !(created < beforeT)) continue;
    if (sinceT !== undefined && !(created > sinceT)) continue;
    if (until && !until.every((u) => created < u)) continue;
    if (seen.has(rec.configDigest)) continue;
    seen.add(rec.configDigest);
    const { _config, ...summary } = s;
    void _config;
    out.push(summary);
  }
  out.sort((a, b) => (b.Created as number) - (a.Created as number));
  sendJSON(res, 200, out);
}

export async function imageInspect(
  d: { images: ImageService },
  rec: ImageRecord,
  version: string,
): Promise<Record<string, unknown>> {
  const img = await d.images.load(rec);
  const c = img.config;
  const names = repoNames(img.tags, rec.manifestDigest, d.images.records.repoDigestsOf(rec.manifestDigest));
  const size = d.images.size(c);
  const out: Record<string, unknown> = {
    Id: rec.configDigest,
    RepoTags: names.RepoTags,
    RepoDigests: names.RepoDigests,
    Parent: '',
    Comment: c.comment ?? c.history?.[c.history.length - 1]?.comment ?? '',
    Created: c.created ?? '',
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: runConfig(c),
    Architecture: c.architecture,
    Os: c.os,
    Size: size,
    GraphDriver: {
      Data: null,
      Name: d.images.snapshotter.name === 'overlay' ? 'overlayfs' : d.images.snapshotter.name,
    },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: rec.lastTagTime ? new Date(rec.lastTagTime).toISOString() : '0001-01-01T00:00:00Z' },
  };
  if (c.variant) out.Variant = c.variant;
  if (c['os.version']) out.OsVersion = c['os.version'];
  if (!versionAtLeast(version, '1.44')) out.VirtualSize = size;
  if (!versionAtLeast(version, '1.45')) {
    out.Container = c.container ?? '';
    out.ContainerConfig = c.container_config ?? runConfig({ ...c, config: {} });
  }
  if (versionAtLeast(version, '1.48'))
    out.Descriptor = { mediaType: rec.mediaType, digest: rec.manifestDigest, size: rec.manifestSize };
  return out;
}

/** Docker's inspect shows every field of the container config, with nulls. */
function runConfig(c: ImageConfig): Record<string, unknown> {
  const r = c.config ?? {};
  return {
    Hostname: r.Hostname ?? '',
    Domainname: r.Domainname ?? '',
    User: r.User ?? '',
    AttachStdin: r.AttachStdin ?? false,
    AttachStdout: r.AttachStdout ?? false,
    AttachStderr: r.AttachStderr ?? false,
    ...(r.ExposedPorts ? { ExposedPorts: r.ExposedPorts } : {}),
    Tty: r.Tty ?? false,
    OpenStdin: r.OpenStdin ?? false,
    StdinOnce: r.StdinOnce ?? false,
    Env: r.Env ?? null,
    Cmd: r.Cmd ?? null,
    ...(r.Healthcheck ? { Healthcheck: r.Healthcheck } : {}),
    ...(r.ArgsEscaped ? { ArgsEscaped: r.ArgsEscaped } : {}),
    Image: r.Image ?? '',
    Volumes: r.Volumes ?? null,
    WorkingDir: r.WorkingDir ?? '',
    Entrypoint: r.Entrypoint ?? null,
    OnBuild: r.OnBuild ?? null,
    Labels: r.Labels ?? null,
    ...(r.StopSignal ? { StopSignal: r.StopSignal } : {}),
    ...(r.Shell ? { Shell: r.Shell } : {}),
  };
}

async function history(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const rec = d.images.resolve(req.params.name!);
  const img = await d.images.load(rec);
  const c = img.config;
  const chain = chainIds(c.rootfs.diff_ids);
  const entries = c.history?.length
    ? c.history
    : c.rootfs.diff_ids.map(
        () => ({}) as { empty_layer?: boolean; created?: string; created_by?: string; comment?: string },
      );
  let layer = 0;
  const rows = entries.map((h) => {
    let size = 0;
    if (!h.empty_layer) {
      const id = chain[layer++];
      size = id ? (d.images.records.layerSize(id) ?? 0) : 0;
    }
    return {
      Id: '<missing>',
      Created: toUnix(h.created),
      CreatedBy: h.created_by ?? '',
      Tags: null as string[] | null,
      Size: size,
      Comment: h.comment ?? '',
    };
  });
  rows.reverse();
  if (rows[0]) {
    rows[0].Id = rec.configDigest;
    rows[0].Tags = img.tags.map((t) => familiarString(parseReference(t)));
  }
  sendJSON(res, 200, rows);
}

async function remove(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const out = await d.images.remove(req.params.name!, {
    force: boolParam(req.query, 'force'),
    noprune: boolParam(req.query, 'noprune'),
  });
  sendJSON(res, 200, out);
}

async function tag(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const repo = req.query.get('repo') ?? '';
  const t = req.query.get('tag') ?? '';
  if (repo === '') throw new InvalidArgumentError('repository name must have at least one component');
  const target = t ? `${repo}:${t}` : repo;
  d.images.tag(req.params.name!, target);
  res.writeHead(201);
  res.end();
}

async function load(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const quiet = boolParam(req.query, 'quiet');
  const out = new JSONLines(res);
  try {
    // The archive code reports layer progress (`status`) and the loaded images (`stream`); quiet keeps only the latter.
    await d.archives.load(req.raw, {
      signal: req.signal,
      onProgress: (p: object) => {
        if (!quiet || !('status' in p)) void out.write(p);
      },
    });
    out.end();
  } catch (err) {
    if (!out.started) throw err;
    out.error(errorMessage(err));
    out.end();
  }
}

async function save(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const names = req.params.name !== undefined ? [req.params.name] : req.query.getAll('names');
  if (names.length === 0) throw new InvalidArgumentError('no image names given');
  const stream = (await d.archives.save(names, { signal: req.signal }))[Symbol.asyncIterator]();
  // The first chunk comes only after every name resolved: a missing image is still a 404, not a cut stream.
  let next = await stream.next();
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  while (!next.done) {
    if (!res.write(next.value)) await new Promise<void>((r) => res.once('drain', () => r()));
    if (req.signal.aborted) {
      await stream.return?.();
      return;
    }
    next = await stream.next();
  }
  res.end();
}

async function create(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const fromSrc = req.query.get('fromSrc');
  if (fromSrc === null) {
    const from = req.query.get('fromImage');
    if (from === null) throw new InvalidArgumentError('either fromImage or fromSrc is required');
    return pull(d, req, res, from);
  }
  if (fromSrc !== '-')
    throw new NotImplementedError(
      `importing from a URL is not supported ("${fromSrc}"): send the tar in the request body`,
    );
  const repo = req.query.get('repo') ?? '';
  const t = req.query.get('tag') ?? '';
  let target: string | undefined;
  if (repo !== '') {
    target = t ? `${repo}:${t}` : repo;
    parseReference(target);
  }
  const out = new JSONLines(res);
  try {
    const img = await d.archives.importRootfs(req.raw, {
      ...(target !== undefined ? { tag: target } : {}),
      changes: req.query.getAll('changes'),
      ...(req.query.get('message') ? { message: req.query.get('message')! } : {}),
      signal: req.signal,
    });
    await out.write({ status: img.record.configDigest });
    out.end();
  } catch (err) {
    if (!out.started) throw err;
    out.error(errorMessage(err));
    out.end();
  }
}

/**
 * `X-Registry-Auth`: base64url (or plain base64) of Docker's AuthConfig JSON; absent, empty or `{}` is anonymous.
 * A header that does not decode is ignored, as dockerd does, so the pull goes on anonymously.
 */
export function registryAuthHeader(value: string | string[] | undefined): RegistryAuth | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    const obj = JSON.parse(
      Buffer.from(raw.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'),
    ) as unknown;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
    const auth = toRegistryAuth(obj as Record<string, unknown>);
    return Object.keys(auth).length > 0 ? auth : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Streams an operation's JSON messages. The first message is held until a second one comes: a pull announces
 * "Pulling from x" before it has the manifest, and dockerd answers an unknown image with a 404 status (which
 * `docker run`'s auto-pull and the CLI's messages rely on), not with an error inside a 200 stream.
 */
async function streamMessages(
  res: ServerResponse,
  run: (onProgress: (m: object) => void) => Promise<unknown>,
): Promise<void> {
  const out = new JSONLines(res);
  let held: object | undefined;
  let first = true;
  // Writes are chained, so a client that reads slowly holds one pending write, not a listener per message.
  let tail = Promise.resolve();
  const write = (m: object) => {
    tail = tail.then(() => out.write(m));
  };
  try {
    await run((m) => {
      if (first) {
        first = false;
        held = m;
        return;
      }
      if (held !== undefined) write(held);
      held = undefined;
      write(m);
    });
    if (held !== undefined) write(held);
    await tail;
    out.end();
  } catch (err) {
    // dockerd answers a registry's refusal of a pull or push with 500: a 401 would make the docker CLI ask
    // for a login as if the engine itself had refused it. (`POST /auth` keeps its 401.)
    await tail.catch(() => {});
    if (!out.started) throw err instanceof UnauthorizedError ? new BerthError(err.message, { cause: err }) : err;
    out.error(errorMessage(err));
    out.end();
  }
}

/** `POST /images/create?fromImage=&tag=`: a tag or digest in `tag`; no tag at all pulls every tag, as dockerd. */
async function pull(d: ImageHandlerDeps, req: Request, res: ServerResponse, from: string): Promise<void> {
  const tag = req.query.get('tag') ?? '';
  const ref = tag === '' ? from : `${from}${tag.includes(':') ? '@' : ':'}${tag}`;
  const parsed = parseReference(ref);
  const allTags = parsed.tag === undefined && parsed.digest === undefined;
  const auth = registryAuthHeader(req.raw.headers['x-registry-auth']);
  const platform = req.query.get('platform') ?? '';
  await streamMessages(res, (onProgress) =>
    d.archives.pull(ref, {
      allTags,
      signal: req.signal,
      onProgress,
      ...(auth ? { auth } : {}),
      ...(platform !== '' ? { platform } : {}),
    }),
  );
}

/** `POST /images/{name}/push?tag=`: no tag pushes every local tag of the repository, as dockerd. */
async function push(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const name = req.params.name!;
  const tag = req.query.get('tag') ?? '';
  const ref = tag === '' ? name : `${name}:${tag}`;
  const parsed = parseReference(ref);
  const auth = registryAuthHeader(req.raw.headers['x-registry-auth']);
  await streamMessages(res, (onProgress) =>
    d.archives.push(ref, {
      allTags: parsed.tag === undefined,
      signal: req.signal,
      onProgress,
      ...(auth ? { auth } : {}),
    }),
  );
}

/** `POST /auth`: Docker's AuthConfig in the body; 200 `{Status, IdentityToken}` when the registry accepts it. */
async function auth(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const body = await readJSONBody<unknown>(req.raw);
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidArgumentError('the body must be a JSON AuthConfig object');
  sendJSON(res, 200, await d.archives.login(toRegistryAuth(body as Record<string, unknown>)));
}

/** The string fields of Docker's AuthConfig (other fields and empty strings are dropped). */
function toRegistryAuth(obj: Record<string, unknown>): RegistryAuth {
  const auth: RegistryAuth = {};
  for (const k of ['username', 'password', 'auth', 'identitytoken', 'registrytoken', 'serveraddress'] as const) {
    const v = obj[k];
    if (typeof v === 'string' && v !== '') auth[k] = v;
  }
  return auth;
}

async function prune(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const filters = filtersParam(req.query, ['dangling', 'until', 'label', 'label!']);
  const dangling = filters.get('dangling') ?? ['true'];
  const all = dangling.some((v) => v === 'false' || v === '0');
  const labels = [
    ...parseLabelFilters(filters.get('label') ?? []),
    ...parseLabelFilters(filters.get('label!') ?? []).map((l) => ({ ...l, negate: true })),
  ];
  const until = filters.get('until')?.map((v) => parseTimestamp(v));
  const result = await d.images.prune({
    all,
    history: boolParam(req.query, 'history'),
    ...(until?.length ? { until: Math.min(...until) } : {}),
    labels,
  });
  sendJSON(res, 200, result);
}

async function rollback(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const r = d.images.rollback(req.params.name!, req.query.get('to') ?? undefined);
  sendJSON(res, 200, { Name: r.name, From: r.from, To: r.to });
}

async function tagHistory(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const h = d.images.tagHistory(req.params.name!);
  sendJSON(
    res,
    200,
    h.map((e) => ({
      Digest: e.manifestDigest,
      ImageID: e.configDigest,
      Time: new Date(e.at).toISOString(),
      Action: e.action,
      Exists: e.manifestDigest !== null && d.images.records.get(e.manifestDigest) !== undefined,
    })),
  );
}

export function imageRoutes(router: Router, d: ImageHandlerDeps): void {
  router
    .add('GET', '/images/json', (req, res) => list(d, req, res))
    .add('POST', '/images/load', (req, res) => load(d, req, res))
    .add('GET', '/images/get', (req, res) => save(d, req, res))
    .add('POST', '/images/create', (req, res) => create(d, req, res))
    .add('POST', '/images/prune', (req, res) => prune(d, req, res))
    .add('GET', '/images/{name*}/json', async (req, res) =>
      sendJSON(res, 200, await imageInspect(d, d.images.resolve(req.params.name!), req.version)),
    )
    .add('GET', '/images/{name*}/history', (req, res) => history(d, req, res))
    .add('GET', '/images/{name*}/get', (req, res) => save(d, req, res))
    .add('GET', '/images/{name*}/taghistory', (req, res) => tagHistory(d, req, res))
    .add('POST', '/images/{name*}/tag', (req, res) => tag(d, req, res))
    .add('POST', '/images/{name*}/push', (req, res) => push(d, req, res))
    .add('POST', '/auth', (req, res) => auth(d, req, res))
    .add('POST', '/images/{name*}/rollback', (req, res) => rollback(d, req, res))
    .add('DELETE', '/images/{name*}', (req, res) => remove(d, req, res));
}

export { withDefaultTag };
