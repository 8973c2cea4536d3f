import { once } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType } from '../../oci/mediatypes.ts';
import type { Digest } from '../../util/digest.ts';
import type { Action, AuthGate, Principal } from '../auth/gate.ts';
import { RegistryError, blobUnknown } from '../errors.ts';
import { MAX_MANIFEST_BYTES } from '../manifest.ts';
import { checkDigest, checkName, isTag, parseReference } from '../names.ts';
import type { ManifestRecord } from '../meta/store.ts';
import type { ChunkRange, Registry } from '../service.ts';
import { API_VERSION, API_VERSION_HEADER, send, sendError, sendJSON } from './respond.ts';
import { sendFileRange } from './sendfile.ts';

const MANIFEST_RE = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const UPLOAD_RE = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/;
const BLOB_RE = /^\/v2\/(.+)\/blobs\/([^/]+)$/;
const TAGS_RE = /^\/v2\/(.+)\/tags\/list$/;
const REFERRERS_RE = /^\/v2\/(.+)\/referrers\/([^/]+)$/;
const CONTENT_RANGE_RE = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/;
const RANGE_RE = /^bytes=(\d*)-(\d*)$/;
const DEFAULT_PAGE = 100;
/** Blobs from this size up are sent from the file through reused buffers (sendfile.ts); smaller ones streamed. */
const FILE_LOOP_MIN = 4 << 20;
const MAX_PAGE = 10_000;
/** Referrers per page unless `n` says fewer, and the JSON a page holds at most (clients read indexes of 4 MiB). */
const REFERRERS_PAGE = 1000;
const REFERRERS_PAGE_BYTES = 1 << 20;

/** One request to the distribution API, after routing. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  principal: Principal;
  /** `http(s)://host`, as the client addressed the registry (for challenges). */
  base: string;
  /** The client's address (the audit log's). */
  address: string;
}

/** The pull-through cache as the API asks it (proxy/cache.ts): each a no-op for a repository of no proxy project. */
export interface PullThroughHook {
  /** The manifest, fetched from the upstream when needed; undefined when not a proxy's or not found. */
  manifest(repo: string, ref: { digest: Digest } | { tag: string }): Promise<ManifestRecord | undefined>;
  /**
   * Fetches the blob from the upstream when the repository lacks it; with `stream`, may answer with the bytes as
   * they arrive instead (the blob being stored meanwhile).
   */
  blob(
    repo: string,
    digest: Digest,
    opts?: { stream?: boolean },
  ): Promise<{ size: number; body: Readable } | undefined>;
  /** Throws DENIED for a proxy project's repository. */
  checkPush(repo: string): Promise<void>;
}

/** The `/v2/` API: routes a request, checks access, calls the registry, writes the answer. */
export class DistributionApi {
  readonly #reg: Registry;
  readonly #gate: AuthGate;
  /** Headers `/v2/` answers with besides the usual (`X-Registry-Supports-Signatures` when that API is on). */
  readonly #pingHeaders: OutgoingHttpHeaders;
  readonly #cache: PullThroughHook | undefined;
  constructor(
    reg: Registry,
    gate: AuthGate,
    opts: { pingHeaders?: OutgoingHttpHeaders; cache?: PullThroughHook | undefined } = {},
  ) {
    this.#reg = reg;
    this.#gate = gate;
    this.#pingHeaders = opts.pingHeaders ?? {};
    this.#cache = opts.cache;
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    base: string,
    mirror?: string,
  ): Promise<void> {
    let scope: string | undefined;
    try {
      const principal = await this.#gate.authenticate(req.headers.authorization);
      const ctx: Ctx = { req, res, path, query, principal, base, address: req.socket.remoteAddress ?? '' };
      const method = req.method ?? 'GET';
      if (path === '/v2/' || path === '/v2') {
        this.#gate.requireLogin(principal);
        send(req, res, 200, { 'Content-Type': 'application/json', ...this.#pingHeaders }, '{}');
        return;
      }
      if (path === '/v2/_catalog') {
        scope = 'registry:catalog:*';
        this.#gate.requireLogin(principal);
        return await this.#catalog(ctx);
      }
      let m: RegExpExecArray | null;
      if ((m = MANIFEST_RE.exec(path))) {
        const repo = checkName(m[1]!);
        const action: Action = method === 'PUT' ? 'push' : method === 'DELETE' ? 'delete' : 'pull';
        scope = `repository:${repo}:${action === 'pull' ? 'pull' : action === 'push' ? 'pull,push' : 'delete'}`;
        await this.#gate.require(principal, repo, action);
        const ref = parseReference(decodeURIComponent(m[2]!));
        if (method === 'GET' || method === 'HEAD') return await this.#getManifest(ctx, repo, ref);
        if (method === 'PUT') {
          await this.#cache?.checkPush(repo);
          return await this.#putManifest(ctx, repo, ref);
        }
        if (method === 'DELETE') return await this.#deleteManifest(ctx, repo, ref);
        return notAllowed(ctx, 'GET, HEAD, PUT, DELETE');
      }
      if ((m = UPLOAD_RE.exec(path))) {
        const repo = checkName(m[1]!);
        scope = `repository:${repo}:pull,push`;
        await this.#gate.require(principal, repo, 'push');
        const id = m[2]!;
        if (id === '') {
          await this.#cache?.checkPush(repo);
          if (method === 'POST') return await this.#startUpload(ctx, repo);
          return notAllowed(ctx, 'POST');
        }
        const upload = await this.#reg.upload(repo, id, principal.name);
        if (method === 'PATCH') return await this.#patch(ctx, repo, upload.id);
        if (method === 'PUT') return await this.#finish(ctx, repo, upload.id);
        if (method === 'GET') return this.#uploadStatus(ctx, repo, upload.id, upload.size, 204);
        if (method === 'DELETE') {
          await this.#reg.cancelUpload(upload);
          return send(req, res, 204, {});
        }
        return notAllowed(ctx, 'GET, PATCH, PUT, DELETE');
      }
      if ((m = BLOB_RE.exec(path))) {
        const repo = checkName(m[1]!);
        const action: Action = method === 'DELETE' ? 'delete' : 'pull';
        scope = `repository:${repo}:${action}`;
        await this.#gate.require(principal, repo, action);
        const digest = checkDigest(decodeURIComponent(m[2]!));
        if (method === 'GET' || method === 'HEAD') return await this.#getBlob(ctx, repo, digest);
        if (method === 'DELETE') {
          await this.#reg.deleteBlob(repo, digest);
          return send(req, res, 202, {});
        }
        return notAllowed(ctx, 'GET, HEAD, DELETE');
      }
      if ((m = TAGS_RE.exec(path))) {
        const repo = checkName(m[1]!);
        scope = `repository:${repo}:pull`;
        await this.#gate.require(principal, repo, 'pull');
        if (method !== 'GET' && method !== 'HEAD') return notAllowed(ctx, 'GET');
        return await this.#tags(ctx, repo);
      }
      if ((m = REFERRERS_RE.exec(path))) {
        const repo = checkName(m[1]!);
        scope = `repository:${repo}:pull`;
        await this.#gate.require(principal, repo, 'pull');
        if (method !== 'GET' && method !== 'HEAD') return notAllowed(ctx, 'GET');
        return await this.#referrers(ctx, repo, checkDigest(decodeURIComponent(m[2]!)));
      }
      sendError(req, res, new RegistryError('NAME_UNKNOWN', `no route for ${method} ${path}`, { status: 404 }));
    } catch (err) {
      // The ping's headers go with its 401 too: clients read them from whichever answer they get.
      const headers: OutgoingHttpHeaders = path === '/v2/' || path === '/v2' ? { ...this.#pingHeaders } : {};
      if (err instanceof RegistryError && err.status === 401) {
        // Through a mirror path the client knows the repository without the project: its scope says so, and
        // the mirror's token service (the realm, under `base`) puts the project back.
        if (mirror !== undefined && scope?.startsWith(`repository:${mirror}/`))
          scope = `repository:${scope.slice(`repository:${mirror}/`.length)}`;
        const c = this.#gate.challenge(base, scope);
        if (c) headers['WWW-Authenticate'] = c;
      }
      if (err instanceof RegistryError && err.status === 416 && typeof err.detail === 'object' && err.detail) {
        const m = UPLOAD_RE.exec(path);
        const size = (err.detail as { size?: number }).size;
        if (m && size !== undefined) uploadHeaders(headers, m[1]!, m[2]!, size);
      }
      sendError(req, res, err, headers);
    }
  }

  async #getManifest(ctx: Ctx, repo: string, ref: { digest: Digest } | { tag: string }): Promise<void> {
    const m = (await this.#cache?.manifest(repo, ref)) ?? (await this.#reg.manifest(repo, ref));
    if (ctx.req.method === 'GET') await this.#reg.guard?.beforePull(repo, m);
    send(
      ctx.req,
      ctx.res,
      200,
      {
        'Content-Type': m.mediaType,
        'Content-Length': m.size,
        'Docker-Content-Digest': m.digest,
        ETag: `"${m.digest}"`,
      },
      m.content,
    );
    if (ctx.req.method === 'GET')
      this.#reg.emit({
        action: 'pull',
        repo,
        digest: m.digest,
        tag: 'tag' in ref ? ref.tag : undefined,
        mediaType: m.mediaType,
        actor: ctx.principal.name,
        address: ctx.address,
      });
  }

  async #putManifest(ctx: Ctx, repo: string, ref: { digest: Digest } | { tag: string }): Promise<void> {
    const extra = ctx.query.getAll('tag');
    for (const t of extra) if (!isTag(t)) throw new RegistryError('MANIFEST_INVALID', `invalid tag "${t}"`);
    const body = await readBody(ctx.req, MAX_MANIFEST_BYTES);
    const r = await this.#reg.putManifest(
      repo,
      ref,
      body,
      ctx.req.headers['content-type'],
      extra,
      ctx.principal.name,
      ctx.address,
    );
    const headers: OutgoingHttpHeaders = {
      Location: `/v2/${repo}/manifests/${r.digest}`,
      'Docker-Content-Digest': r.digest,
    };
    if (r.subject) headers['OCI-Subject'] = r.subject;
    if (extra.length > 0) headers['OCI-Tag'] = extra.join(', ');
    send(ctx.req, ctx.res, 201, headers);
  }

  async #deleteManifest(ctx: Ctx, repo: string, ref: { digest: Digest } | { tag: string }): Promise<void> {
    await this.#reg.deleteManifest(repo, ref, ctx.principal.name, ctx.address);
    send(ctx.req, ctx.res, 202, {});
  }

  async #getBlob(ctx: Ctx, repo: string, digest: Digest): Promise<void> {
    const headers: OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
      'Cache-Control': 'max-age=31536000',
    };
    const whole = ctx.req.method === 'GET' && ctx.req.headers.range === undefined;
    const fetching = await this.#cache?.blob(repo, digest, { stream: whole });
    if (fetching) {
      // A pull-through cache's first pull: the bytes as they come from the upstream (cut short if they fail).
      ctx.res.writeHead(200, { ...headers, 'Content-Length': fetching.size, [API_VERSION_HEADER]: API_VERSION });
      try {
        await pipeline(fetching.body, ctx.res);
      } catch {
        ctx.res.destroy();
      }
      return;
    }
    const size = await this.#reg.blobSize(repo, digest);
    let range: ChunkRange | undefined;
    const want = ctx.req.headers.range;
    if (want !== undefined) {
      const r = parseRange(want, size);
      if (r === null) {
        const err = new RegistryError('BLOB_UNKNOWN', `range "${want}" is outside the blob's ${size} bytes`, {
          status: 416,
        });
        return sendError(ctx.req, ctx.res, err, { 'Content-Range': `bytes */${size}` });
      }
      range = r;
    }
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['Content-Length'] = range.end - range.start + 1;
    } else headers['Content-Length'] = size;
    if (ctx.req.method === 'HEAD' || size === 0) return send(ctx.req, ctx.res, range ? 206 : 200, headers);
    headers[API_VERSION_HEADER] = API_VERSION;
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const blobs = this.#reg.blobs;
    if (end - start + 1 >= FILE_LOOP_MIN && blobs.path) {
      // A large blob in the filesystem store: read into reused buffers straight into the socket.
      let fh: FileHandle;
      try {
        fh = await open(blobs.path(digest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw blobUnknown(digest);
        throw err;
      }
      try {
        ctx.res.writeHead(range ? 206 : 200, headers);
        await sendFileRange(ctx.res, fh, start, end);
        ctx.res.end();
      } catch {
        ctx.res.destroy();
      } finally {
        await fh.close();
      }
      return;
    }
    // An explicit end also sizes the read buffers to the blob (small blobs do not get 1 MiB buffers).
    const stream = this.#reg.readBlob(digest, range ?? { start: 0, end: size - 1 });
    // The first bytes decide the status: a blob the backend lost is an error answer, not a cut stream.
    await once(stream, 'readable');
    ctx.res.writeHead(range ? 206 : 200, headers);
    try {
      await pipeline(stream, ctx.res);
    } catch (err) {
      if (!ctx.res.headersSent) throw err;
      ctx.res.destroy();
    }
  }

  async #startUpload(ctx: Ctx, repo: string): Promise<void> {
    const { req, query, principal } = ctx;
    const mount = query.get('mount');
    if (mount !== null) {
      const digest = checkDigest(mount);
      const from = query.get('from');
      const source = from !== null ? checkName(from) : undefined;
      if (source !== undefined && (await this.#gate.allows(principal, source, 'pull'))) {
        const size = await this.#reg.mount(repo, source, digest, principal.name, ctx.address);
        if (size !== undefined) return this.#blobCreated(ctx, repo, digest);
      }
    }
    const algorithm = query.get('digest-algorithm') ?? 'sha256';
    if (algorithm !== 'sha256' && algorithm !== 'sha512')
      throw new RegistryError(
        'UNSUPPORTED',
        `digest algorithm "${algorithm}" is not supported (sha256 and sha512 are)`,
        {
          status: 400,
        },
      );
    const digestParam = query.get('digest');
    const digest = digestParam !== null ? checkDigest(digestParam) : undefined;
    const id = await this.#reg.startUpload(
      repo,
      principal.name,
      digest ? (digest.startsWith('sha512:') ? 'sha512' : 'sha256') : algorithm,
    );
    if (digest) {
      let info: { digest: Digest };
      try {
        const u = await this.#reg.upload(repo, id, principal.name);
        const length = contentLength(req);
        if (length !== undefined)
          info = await this.#reg.appendAndFinish(u, req, length, digest, principal.name, ctx.address);
        else {
          await this.#reg.appendUpload(u, req, { length });
          info = await this.#reg.finishUpload(u, digest, principal.name, ctx.address);
        }
      } catch (err) {
        // The client never heard of this upload (its location comes with a success only), so nothing can resume
        // it: it goes now rather than wait for the collector. (Docker's distribution leaves an upload whose body
        // was cut unusable too: its recorded offset no longer matches.)
        await this.#reg.purgeUpload(id).catch(() => {});
        throw err;
      }
      return this.#blobCreated(ctx, repo, info.digest);
    }
    this.#uploadStatus(ctx, repo, id, 0, 202);
  }

  #uploadStatus(ctx: Ctx, repo: string, id: string, size: number, status: number): void {
    send(ctx.req, ctx.res, status, uploadHeaders({}, repo, id, size));
  }

  async #patch(ctx: Ctx, repo: string, id: string): Promise<void> {
    const u = await this.#reg.upload(repo, id, ctx.principal.name);
    const size = await this.#reg.appendUpload(u, ctx.req, {
      range: contentRange(ctx.req),
      length: contentLength(ctx.req),
    });
    this.#uploadStatus(ctx, repo, id, size, 202);
  }

  async #finish(ctx: Ctx, repo: string, id: string): Promise<void> {
    const { req, principal } = ctx;
    const digest = checkDigest(ctx.query.get('digest'));
    let u = await this.#reg.upload(repo, id, principal.name);
    const length = contentLength(req);
    const range = contentRange(req);
    // The whole rest in this request, its length known (a monolithic upload, or a push rule's PUT): in one step.
    if (range === undefined && length !== undefined && length > 0) {
      const info = await this.#reg.appendAndFinish(u, req, length, digest, principal.name, ctx.address);
      return this.#blobCreated(ctx, repo, info.digest);
    }
    // Otherwise a body (its length unknown, or a range) is appended first.
    if (range !== undefined || (length === undefined && req.headers['transfer-encoding'] !== undefined)) {
      await this.#reg.appendUpload(u, req, { range, length });
      u = await this.#reg.upload(repo, id, principal.name);
    }
    const info = await this.#reg.finishUpload(u, digest, principal.name, ctx.address);
    this.#blobCreated(ctx, repo, info.digest);
  }

  #blobCreated(ctx: Ctx, repo: string, digest: Digest): void {
    send(ctx.req, ctx.res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
  }

  async #tags(ctx: Ctx, repo: string): Promise<void> {
    const n = pageSize(ctx.query.get('n'), undefined);
    const last = ctx.query.get('last') ?? '';
    if (n === 0) return sendJSON(ctx.req, ctx.res, 200, { name: repo, tags: [] });
    const tags = await this.#reg.tags(repo, last, n === undefined ? undefined : n + 1);
    const headers: OutgoingHttpHeaders = {};
    if (n !== undefined && tags.length > n) {
      tags.length = n;
      headers.Link = `</v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(tags[n - 1]!)}>; rel="next"`;
    }
    sendJSON(ctx.req, ctx.res, 200, { name: repo, tags }, headers);
  }

  async #catalog(ctx: Ctx): Promise<void> {
    const n = pageSize(ctx.query.get('n'), DEFAULT_PAGE)!;
    let last = ctx.query.get('last') ?? '';
    if (n === 0) return sendJSON(ctx.req, ctx.res, 200, { repositories: [] });
    const out: string[] = [];
    let more = false;
    // Only what the caller may pull is listed; pages are filled past the repositories it may not see.
    for (;;) {
      const batch = await this.#reg.catalog(last, n + 1);
      for (const name of batch) {
        if (out.length === n) {
          more = true;
          break;
        }
        if (await this.#gate.allows(ctx.principal, name, 'pull')) out.push(name);
      }
      if (more || batch.length < n + 1) break;
      last = batch[batch.length - 1]!;
    }
    const headers: OutgoingHttpHeaders = {};
    if (more) headers.Link = `</v2/_catalog?n=${n}&last=${encodeURIComponent(out[n - 1]!)}>; rel="next"`;
    sendJSON(ctx.req, ctx.res, 200, { repositories: out }, headers);
  }

  /**
   * One page of the referrers index: at most `n` descriptors (REFERRERS_PAGE by default) and about
   * REFERRERS_PAGE_BYTES of JSON, with a `Link` to the next page (after the last digest sent) when there is more.
   */
  async #referrers(ctx: Ctx, repo: string, digest: Digest): Promise<void> {
    const artifactType = ctx.query.get('artifactType') ?? undefined;
    const n = Math.max(1, pageSize(ctx.query.get('n'), REFERRERS_PAGE)!);
    const last = ctx.query.get('last');
    const after = last === null ? undefined : checkDigest(last);
    const list = await this.#reg.referrers(repo, digest, artifactType, {
      limit: n + 1,
      ...(after !== undefined ? { after } : {}),
    });
    let more = list.length > n;
    if (more) list.length = n;
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      bytes += JSON.stringify(list[i]).length + 1;
      if (bytes > REFERRERS_PAGE_BYTES && i > 0) {
        list.length = i;
        more = true;
        break;
      }
    }
    const headers: OutgoingHttpHeaders = { 'Content-Type': MediaType.OciIndex };
    if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
    if (more) {
      const q = new URLSearchParams({ n: String(n), last: list[list.length - 1]!.digest });
      if (artifactType !== undefined) q.set('artifactType', artifactType);
      headers.Link = `</v2/${repo}/referrers/${digest}?${q}>; rel="next"`;
    }
    sendJSON(ctx.req, ctx.res, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: list }, headers);
  }
}

function uploadHeaders(h: OutgoingHttpHeaders, repo: string, id: string, size: number): OutgoingHttpHeaders {
  h.Location = `/v2/${repo}/blobs/uploads/${id}`;
  h.Range = `0-${Math.max(0, size - 1)}`;
  h['Docker-Upload-UUID'] = id;
  return h;
}

function notAllowed(ctx: Ctx, allow: string): void {
  sendError(
    ctx.req,
    ctx.res,
    new RegistryError('UNSUPPORTED', `method ${ctx.req.method} is not allowed here`, { status: 405 }),
    { Allow: allow },
  );
}

function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryError('SIZE_INVALID', `invalid Content-Length "${v}"`);
  return n;
}

function contentRange(req: IncomingMessage): ChunkRange | undefined {
  const v = req.headers['content-range'];
  if (v === undefined) return undefined;
  const m = CONTENT_RANGE_RE.exec(v.trim());
  if (!m) throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range "${v}"`, { status: 416 });
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** A single `bytes=` range within `size`; undefined for none or several (the whole blob), null if unsatisfiable. */
export function parseRange(header: string, size: number): ChunkRange | undefined | null {
  const m = RANGE_RE.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

function pageSize(v: string | null, fallback: number | undefined): number | undefined {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RegistryError('UNSUPPORTED', `invalid page size n="${v}"`, { status: 400, detail: { n: v } });
  return Math.min(n, MAX_PAGE);
}

/** Reads a manifest body; one over `max` is read to its end (up to 64 MiB, so the client sees the 413) and refused. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total <= max) chunks.push(chunk as Buffer);
    else if (total > 64 << 20) break;
  }
  if (total > max || (declared !== undefined && Number(declared) > max))
    throw new RegistryError(
      'MANIFEST_INVALID',
      `manifest of ${declared ?? total} bytes is larger than the ${max} allowed`,
      { status: 413 },
    );
  return Buffer.concat(chunks);
}
