import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FetchableBlob, FetchSource } from '../../content/index.ts';
import type { Endpoint, RegistryResponse, Session, Transport } from '../../distribution/index.ts';
import { type Digest, sha256 } from '../../util/digest.ts';
import { DataLossError, isBerthError } from '../../util/errors.ts';
import type { Rule } from './rules.ts';
import type { Manifest, Side, UploadHandle } from './side.ts';

const MAX_SMALL_BLOB = 16 << 20;
const DEFAULT_TIMEOUT_MS = 30_000;
const PAGE = 1000;

type Distribution = typeof import('../../distribution/index.ts');

let client: Promise<Distribution> | undefined;

/**
 * The registry client, loaded on first use. `preloadClient` starts that in the background where it will be needed
 * (a rule added, rules or proxy projects found at start): loading it takes a few hundred milliseconds on a loaded
 * machine, which an execution or a cache miss would otherwise wait for.
 */
function loadClient(): Promise<Distribution> {
  client ??= import('../../distribution/index.ts');
  client.catch(() => (client = undefined));
  return client;
}

export function preloadClient(): void {
  void loadClient().catch(() => {});
}

/** A connection to the remote (with its TLS handshake) not made within this long fails (ms). */
const connectTimeout = (remote: Rule['remote']) => Math.min(10_000, remote.timeoutMs ?? DEFAULT_TIMEOUT_MS);

const isNotFound = (err: unknown) => isBerthError(err) && err.code === 'NOT_FOUND';

/**
 * Another registry as a replication side, through the registry client (`distribution/`): its auth challenges
 * (Basic or bearer tokens with the rule's credentials), TLS (the rule's CA, or no verification when insecure),
 * and its timeouts. Loaded only when a rule runs (`open`), so a registry without replication never loads it.
 */
export class RemoteSide implements Side {
  readonly label: string;
  readonly mountFindsOwn = true;
  readonly streamsUploads = true;
  readonly #d: Distribution;
  readonly #session: Session;
  readonly #transport: Transport;
  readonly #certs: string | undefined;
  /** The remote's timeouts, for a thread fetching a blob by itself (`blobSource`). */
  readonly #timeouts: { idleMs: number; connectMs: number };
  /** Uploads a refused mount opened (the registry falls back to an upload): used by the next `upload`. */
  readonly #opened = new Map<string, string>();

  private constructor(d: Distribution, session: Session, transport: Transport, remote: Rule['remote'], certs?: string) {
    this.#d = d;
    this.#timeouts = { idleMs: remote.timeoutMs ?? DEFAULT_TIMEOUT_MS, connectMs: connectTimeout(remote) };
    this.#session = session;
    this.#transport = transport;
    this.label = remote.url;
    this.#certs = certs;
  }

  /** Connects (a ping of `/v2/`, which also learns how the remote authenticates). */
  static async open(remote: Rule['remote'], signal: AbortSignal): Promise<RemoteSide> {
    const d = await loadClient();
    const url = new URL(remote.url);
    let certs: string | undefined;
    if (remote.ca) {
      certs = await mkdtemp(join(tmpdir(), 'berth-replication-'));
      await mkdir(join(certs, url.host), { recursive: true });
      await writeFile(join(certs, url.host, 'ca.crt'), remote.ca);
    }
    const timeout = remote.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const transport = new d.Transport({
      insecureRegistries: remote.insecure ? [url.host] : [],
      mirrors: [],
      certsDir: certs ?? join(tmpdir(), 'berth-no-certs.d'),
      maxConcurrentDownloads: 8,
      maxConcurrentUploads: 8,
      connectTimeoutMs: connectTimeout(remote),
      idleTimeoutMs: timeout,
    });
    const endpoint: Endpoint = {
      base: url.origin,
      registry: url.host,
      skipVerify: remote.insecure,
      mirror: false,
    };
    const auth = remote.username ? { username: remote.username, password: remote.password ?? '' } : undefined;
    try {
      const session = await d.openSession(transport, [endpoint], auth, signal);
      return new RemoteSide(d, session, transport, remote, certs);
    } catch (err) {
      transport.close();
      if (certs) await rm(certs, { recursive: true, force: true });
      throw err;
    }
  }

  #scope(repo: string, write: boolean): string[] {
    return [this.#d.repoScope(repo, write ? ['pull', 'push'] : ['pull'])];
  }

  async repositories(matches: (name: string) => boolean, signal: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = `/v2/_catalog?n=${PAGE}`;
    while (path) {
      const res: RegistryResponse = await this.#session.request(path, { scopes: ['registry:catalog:*'], signal });
      if (res.status !== 200) await this.#session.fail(res, `catalog of ${this.label}`);
      const doc = JSON.parse(await res.text(16 << 20)) as { repositories?: string[] | null };
      out.push(...(doc.repositories ?? []).filter(matches));
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      path = m ? new URL(m[1]!, res.url).href : undefined;
    }
    return out;
  }

  async tags(repo: string, signal: AbortSignal): Promise<string[]> {
    try {
      return await this.#session.tags(repo, signal);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async manifest(repo: string, ref: string, signal: AbortSignal): Promise<Manifest | undefined> {
    try {
      return await this.#session.manifest(repo, ref, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  manifestDigest(repo: string, ref: string, signal: AbortSignal): Promise<string | undefined> {
    return this.#session.statManifest(repo, ref, this.#scope(repo, true), signal);
  }

  async smallBlob(repo: string, digest: Digest, signal: AbortSignal): Promise<Buffer> {
    const res = await this.#session.blob(repo, digest, 0, signal);
    const bytes = await res.bytes(MAX_SMALL_BLOB);
    if (sha256(bytes) !== digest)
      throw new DataLossError(`blob ${digest} in ${repo}: ${this.label} sent other content`);
    return bytes;
  }

  async readBlob(repo: string, digest: Digest, start: number, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const res = await this.#session.blob(repo, digest, start, signal);
    let skip = 0;
    if (start > 0) {
      const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (res.status === 200) skip = start;
      else if (!range || Number(range[1]) !== start) {
        res.raw.destroy();
        throw new DataLossError(`${this.label} answered blob ${digest} from the wrong offset`);
      }
    }
    if (skip === 0) return res.body;
    return (async function* () {
      for await (const c of res.body) {
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        yield skip > 0 ? c.subarray(skip) : c;
        skip = 0;
      }
    })();
  }

  /** The whole blob as the remote sends it, with its length; undefined when the remote has no such blob. */
  async openBlob(
    repo: string,
    digest: Digest,
    signal: AbortSignal,
  ): Promise<{ size: number; body: AsyncIterable<Buffer> } | undefined> {
    let res: RegistryResponse;
    try {
      res = await this.#session.blob(repo, digest, 0, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const size = Number(res.headers['content-length']);
    if (res.status !== 200 || res.headers['content-length'] === undefined || !Number.isSafeInteger(size)) {
      res.raw.destroy();
      throw new DataLossError(`${this.label} sent blob ${digest} in ${repo} without its length`);
    }
    return { size, body: res.body };
  }

  hasBlob(repo: string, digest: Digest, signal: AbortSignal): Promise<number | undefined> {
    return this.#session.statBlob(repo, digest, this.#scope(repo, true), signal);
  }

  /** With no `from`, a mount from `repo` into itself: 201 when the repository has the blob, else an upload. */
  async mount(repo: string, digest: Digest, from: string | undefined, signal: AbortSignal): Promise<boolean> {
    const source = from ?? repo;
    const scopes =
      source === repo ? this.#scope(repo, true) : [...this.#scope(repo, true), ...this.#scope(source, false)];
    const r = await this.#session.startUpload(repo, scopes, { digest, from: source }, signal);
    if (r.mounted) return true;
    this.#opened.set(`${repo}\0${digest}`, r.location);
    return false;
  }

  async upload(
    repo: string,
    token: string | undefined,
    signal: AbortSignal,
    digest?: Digest,
  ): Promise<UploadHandle | undefined> {
    const scopes = this.#scope(repo, true);
    if (token === undefined) {
      const key = `${repo}\0${digest}`;
      const opened = digest === undefined ? undefined : this.#opened.get(key);
      if (opened !== undefined) {
        this.#opened.delete(key);
        return new RemoteUpload(this.#session, scopes, opened, 0);
      }
      const r = await this.#session.startUpload(repo, scopes, undefined, signal);
      if (r.mounted) throw new Error('unexpected mount');
      return new RemoteUpload(this.#session, scopes, r.location, 0);
    }
    // Where the interrupted upload stands: `Range: 0-N` (docker-registry also gives a new Location).
    const res = await this.#session.request(token, { scopes, signal });
    res.discard();
    if (res.status === 404 || res.status === 400) return undefined;
    if (res.status !== 204 && res.status !== 200) return this.#session.fail(res, `upload ${token}`);
    const m = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
    const offset = m ? Number(m[1]) + 1 : 0;
    const loc = res.headers.location ? new URL(res.headers.location, res.url).href : token;
    return new RemoteUpload(this.#session, scopes, loc, offset);
  }

  /**
   * The blob's URL here, with the authorization the session holds for pulling it (see `Side.blobSource`) and the TLS
   * settings the registry client uses for the remote (its CA, its verification off when insecure), for every hop.
   */
  async blobSource(repo: string, digest: Digest, signal: AbortSignal): Promise<FetchSource> {
    const authz = await this.#session.authorizer.header(this.#scope(repo, false), signal);
    const ep = this.#session.endpoint;
    const url = new URL(`${ep.base.replace(/\/+$/, '')}/v2/${repo}/blobs/${digest}`);
    return {
      url: url.href,
      headers: authz ? { Authorization: authz } : {},
      tls: this.#session.transport.tlsSettings(ep),
      ...this.#timeouts,
    };
  }

  async putBlob(
    repo: string,
    digest: Digest,
    size: number,
    blob: AsyncIterable<Buffer> | FetchableBlob,
    signal: AbortSignal,
  ) {
    const body = 'source' in blob ? await blob.open() : blob;
    const scopes = this.#scope(repo, true);
    const key = `${repo}\0${digest}`;
    let location = this.#opened.get(key);
    this.#opened.delete(key);
    if (location === undefined) {
      const r = await this.#session.startUpload(repo, scopes, undefined, signal);
      if (r.mounted) return;
      location = r.location;
    }
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.#session.request(url.href, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body,
      writeEach: true,
      scopes,
      signal,
    });
    res.discard();
    if (res.status !== 201) await this.#session.fail(res, `blob ${digest}`);
  }

  async putManifest(repo: string, ref: string, m: Manifest, signal: AbortSignal): Promise<void> {
    const digest = await this.#session.putManifest(repo, ref, m.mediaType, m.bytes, signal);
    if (digest !== m.digest)
      throw new DataLossError(`${this.label} stored manifest ${repo}@${m.digest} with digest ${digest}`);
  }

  /** By digest (docker-registry deletes manifests only by digest, with every tag that points at them). */
  async deleteTag(repo: string, tag: string, signal: AbortSignal): Promise<void> {
    const digest = await this.manifestDigest(repo, tag, signal);
    if (digest === undefined) return;
    const scopes = [this.#d.repoScope(repo, ['delete'])];
    const res = await this.#session.request(`/v2/${repo}/manifests/${digest}`, { method: 'DELETE', scopes, signal });
    res.discard();
    if (res.status !== 202 && res.status !== 200 && res.status !== 404)
      await this.#session.fail(res, `deleting ${repo}:${tag}`);
  }

  close(): void {
    this.#transport.close();
    if (this.#certs) void rm(this.#certs, { recursive: true, force: true });
  }
}

class RemoteUpload implements UploadHandle {
  readonly #session: Session;
  readonly #scopes: string[];
  #location: string;
  #offset: number;

  constructor(session: Session, scopes: string[], location: string, offset: number) {
    this.#session = session;
    this.#scopes = scopes;
    this.#location = location;
    this.#offset = offset;
  }

  get token(): string {
    return this.#location;
  }

  get offset(): number {
    return this.#offset;
  }

  async append(body: AsyncIterable<Buffer>, length: number, signal: AbortSignal): Promise<void> {
    const start = this.#offset;
    const res = await this.#session.request(this.#location, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(length),
        'Content-Range': `${start}-${start + length - 1}`,
      },
      body,
      writeEach: true,
      scopes: this.#scopes,
      signal,
    });
    res.discard();
    if (res.status !== 202) await this.#session.fail(res, `uploading to ${this.#location}`);
    if (res.headers.location) this.#location = new URL(res.headers.location, res.url).href;
    this.#offset = start + length;
  }

  async finish(digest: Digest, signal: AbortSignal): Promise<void> {
    await this.#session.finishUpload(this.#location, digest, Buffer.alloc(0), this.#scopes, signal);
  }
}
