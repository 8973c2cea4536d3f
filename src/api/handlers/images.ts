import type { ServerResponse } from 'node:http';
import type {
  AuthConfig,
  AuthResponse,
  ImageHistoryItem,
  ImageInspect,
  ImageInspectConfig,
  ImageRollbackResult,
  ImageSummary,
  TagHistoryEntry,
} from '../../engine-api/images.ts';
import type { Image, ImageService } from '../../images/index.ts';
import { createdSeconds, IMAGE_LIST_FILTERS, IMAGE_PRUNE_FILTERS } from '../../images/index.ts';
import { familiarName, familiarString, parseReference } from '../../oci/reference.ts';
import type { ImageConfig } from '../../oci/types.ts';
import {
  BerthError,
  InvalidArgumentError,
  NotImplementedError,
  UnauthorizedError,
  errorMessage,
} from '../../util/errors.ts';
import { drained } from '../../util/chunks.ts';
import { boolParam, filtersParam, JSONLines, readJSONBody, sendJSON, type Request } from '../http.ts';
import type { Router } from '../router.ts';
import { versionAtLeast } from '../version.ts';

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
      auth?: AuthConfig;
      signal: AbortSignal;
      onProgress: (m: object) => void;
    },
  ): Promise<unknown>;
  /** Pushes `ref` (every local tag of the repository with `allTags`). */
  push(
    ref: string,
    opts: { allTags: boolean; auth?: AuthConfig; signal: AbortSignal; onProgress: (m: object) => void },
  ): Promise<unknown>;
  /** Checks credentials against a registry (`POST /auth`). */
  login(auth: AuthConfig): Promise<AuthResponse>;
}

export interface ImageHandlerDeps {
  images: ImageService;
  archives: Archives;
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

/** An image as `GET /images/json` (and `/system/df`) shows it; `tags` are those to list. */
export function imageSummary(images: ImageService, img: Image, version: string): ImageSummary {
  const rec = img.record;
  const names = repoNames(img.tags, rec.manifestDigest, images.records.repoDigestsOf(rec.manifestDigest));
  const size = images.size(img.config);
  const legacy = !versionAtLeast(version, '1.44');
  const s: ImageSummary = {
    Containers: -1,
    Created: createdSeconds(img.config.created),
    Id: rec.configDigest,
    Labels: img.config.config?.Labels ?? null,
    ParentId: '',
    RepoDigests: names.RepoDigests.length || !legacy ? names.RepoDigests : ['<none>@<none>'],
    RepoTags: names.RepoTags.length || !legacy ? names.RepoTags : ['<none>:<none>'],
    SharedSize: -1,
    Size: size,
  };
  if (legacy) s.VirtualSize = size;
  return s;
}

async function list(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const found = await d.images.find(filtersParam(req.query, IMAGE_LIST_FILTERS));
  sendJSON(
    res,
    200,
    found.map((img) => imageSummary(d.images, img, req.version)),
  );
}

export async function imageInspect(
  d: { images: ImageService },
  nameOrId: string,
  version: string,
): Promise<ImageInspect> {
  const img = await d.images.load(d.images.resolve(nameOrId));
  const rec = img.record;
  const c = img.config;
  const names = repoNames(img.tags, rec.manifestDigest, d.images.records.repoDigestsOf(rec.manifestDigest));
  const size = d.images.size(c);
  const out: ImageInspect = {
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
function runConfig(c: ImageConfig): ImageInspectConfig {
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
  const { image, steps } = await d.images.history(req.params.name!);
  const rows: ImageHistoryItem[] = steps.map((h) => ({
    Id: '<missing>',
    Created: h.created,
    CreatedBy: h.createdBy,
    Tags: null,
    Size: h.size,
    Comment: h.comment,
  }));
  if (rows[0]) {
    rows[0].Id = image.record.configDigest;
    rows[0].Tags = image.tags.map((t) => familiarString(parseReference(t)));
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
    if ((!res.write(next.value) && !(await drained(res))) || req.signal.aborted) {
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
export function registryAuthHeader(value: string | string[] | undefined): AuthConfig | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    const obj = JSON.parse(
      Buffer.from(raw.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'),
    ) as unknown;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
    const auth = toAuthConfig(obj as Record<string, unknown>);
    return Object.keys(auth).length > 0 ? auth : undefined;
  } catch {
    return undefined;
  }
}

/** A pull's or push's progress messages go out together at most this often (docker's display is redrawn as it reads). */
const MESSAGE_BATCH_MS = 20;

/**
 * Streams an operation's JSON messages. The first message is held until a second one comes: a pull announces
 * "Pulling from x" before it has the manifest, and dockerd answers an unknown image with a 404 status (which
 * `docker run`'s auto-pull and the CLI's messages rely on), not with an error inside a 200 stream.
 */
async function streamMessages(
  res: ServerResponse,
  run: (onProgress: (m: object) => void) => Promise<unknown>,
): Promise<void> {
  // Batched: a pull's or push's messages come per layer and per progress step, hundreds for a many-layer image.
  const out = new JSONLines(res, { batchMs: MESSAGE_BATCH_MS });
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
  sendJSON(res, 200, await d.archives.login(toAuthConfig(body as Record<string, unknown>)));
}

/** The string fields of Docker's AuthConfig (other fields and empty strings are dropped). */
function toAuthConfig(obj: Record<string, unknown>): AuthConfig {
  const auth: AuthConfig = {};
  for (const k of ['username', 'password', 'auth', 'identitytoken', 'registrytoken', 'serveraddress'] as const) {
    const v = obj[k];
    if (typeof v === 'string' && v !== '') auth[k] = v;
  }
  return auth;
}

async function prune(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const filters = filtersParam(req.query, IMAGE_PRUNE_FILTERS);
  sendJSON(res, 200, await d.images.prune({ filters, history: boolParam(req.query, 'history') }));
}

async function rollback(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const r = d.images.rollback(req.params.name!, req.query.get('to') ?? undefined);
  const out: ImageRollbackResult = { Name: r.name, From: r.from, To: r.to };
  sendJSON(res, 200, out);
}

async function tagHistory(d: ImageHandlerDeps, req: Request, res: ServerResponse): Promise<void> {
  const out: TagHistoryEntry[] = d.images.tagHistory(req.params.name!).map((e) => ({
    Digest: e.manifestDigest,
    ImageID: e.configDigest,
    Time: new Date(e.at).toISOString(),
    Action: e.action,
    Exists: e.exists,
  }));
  sendJSON(res, 200, out);
}

export function imageRoutes(router: Router, d: ImageHandlerDeps): void {
  router
    .add('GET', '/images/json', (req, res) => list(d, req, res))
    .add('POST', '/images/load', (req, res) => load(d, req, res))
    .add('GET', '/images/get', (req, res) => save(d, req, res))
    .add('POST', '/images/create', (req, res) => create(d, req, res))
    .add('POST', '/images/prune', (req, res) => prune(d, req, res))
    .add('GET', '/images/{name*}/json', async (req, res) =>
      sendJSON(res, 200, await imageInspect(d, req.params.name!, req.version)),
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
