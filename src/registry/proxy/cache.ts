import { PassThrough, type Readable } from 'node:stream';
import { drained } from '../../util/chunks.ts';
import type { Digest } from '../../util/digest.ts';
import { UnavailableError, errorMessage, isBerthError } from '../../util/errors.ts';
import { KeyedMutex } from '../../util/lock.ts';
import type { Policy } from '../auth/policy.ts';
import { RegistryError } from '../errors.ts';
import type { ManifestRecord } from '../meta/store.ts';
import type { ProxyRow, SettingsStore } from '../ops/settings.ts';
import { RemoteSide, preloadClient } from '../replication/remote.ts';
import type { Registry } from '../service.ts';

/** A blob answered while it is fetched: its length and the client's side of its bytes. */
export interface StreamedBlob {
  size: number;
  body: Readable;
}

/**
 * The source's chunks, each also written to `client` (while it is open; a client gone does not stop the source)
 * except the last, left in `held` for the caller to send once the whole is verified. A slow client slows the source.
 */
async function* teeAllButLast(
  source: AsyncIterable<Buffer>,
  client: PassThrough | undefined,
  held: { last?: Buffer | undefined },
): AsyncGenerator<Buffer> {
  for await (const c of source) {
    if (client && !client.destroyed) {
      if (held.last && !client.write(held.last) && !client.destroyed) await drained(client);
      held.last = c;
    }
    yield c;
  }
}

/** How long the list of proxy projects is trusted before it is read again (a change elsewhere shows this late). */
const PROXIES_TTL_MS = 2000;
const ACTOR = 'proxy';

interface Upstream {
  row: ProxyRow;
  /** The repository's name upstream: its name here without the project's. */
  repo: string;
}

/**
 * The pull-through cache: a project with an upstream (`project create cache --proxy URL`) serves `cache/<repo>`
 * from `<repo>` upstream. A tag is served from what the registry holds while its last check is younger than the
 * project's revalidation age; older, the upstream is asked for the tag's digest (a HEAD) and the manifest fetched
 * when it changed; when the upstream cannot be reached, what the registry holds is served. Manifests by digest and
 * blobs are immutable: fetched once, on the first request, verified, and stored as any pushed content (quotas
 * count them, GC collects them). Pushes to a proxy project are refused.
 */
export class PullThrough {
  readonly #reg: Registry;
  readonly #settings: SettingsStore;
  readonly #policy: Policy;
  readonly #log: (line: string) => void;
  readonly #fetching = new KeyedMutex();
  /** Blob fetches under way, by repository and digest: settled once the blob is stored (or failed). */
  readonly #blobFetches = new Map<string, Promise<void>>();
  /** One connection set per project, remade when its settings change. */
  readonly #sides = new Map<string, { key: string; side: Promise<RemoteSide> }>();
  #proxies: { at: number; rows: ProxyRow[] } | undefined;
  #closed = new AbortController();

  constructor(deps: { registry: Registry; settings: SettingsStore; policy: Policy; log?: (line: string) => void }) {
    this.#reg = deps.registry;
    this.#settings = deps.settings;
    this.#policy = deps.policy;
    this.#log = deps.log ?? (() => {});
  }

  async #upstreamOf(repo: string): Promise<Upstream | undefined> {
    const now = Date.now();
    if (!this.#proxies || now - this.#proxies.at > PROXIES_TTL_MS) {
      this.#proxies = { at: now, rows: await this.#settings.proxies() };
      if (this.#proxies.rows.length > 0) preloadClient();
    }
    if (this.#proxies.rows.length === 0) return undefined;
    const project = await this.#policy.projectOf(repo);
    if (!project || repo === project.name) return undefined;
    const row = this.#proxies.rows.find((r) => r.project === project.name);
    if (!row) return undefined;
    let up = repo.slice(project.name.length + 1);
    // Docker Hub keeps its official images under library/.
    if (/^https:\/\/(registry-1\.docker\.io|docker\.io|index\.docker\.io)$/.test(row.url) && !up.includes('/'))
      up = `library/${up}`;
    return { row, repo: up };
  }

  /** Refuses writes to a proxy project's repositories. */
  async checkPush(repo: string): Promise<void> {
    const up = await this.#upstreamOf(repo);
    if (up)
      throw new RegistryError(
        'DENIED',
        `project "${up.row.project}" is a pull-through cache of ${up.row.url}: pushes to it are refused`,
      );
  }

  #side(row: ProxyRow): Promise<RemoteSide> {
    const key = JSON.stringify([row.url, row.username, row.password, row.ca, row.insecure]);
    const have = this.#sides.get(row.project);
    if (have && have.key === key) return have.side;
    if (have) void have.side.then((s) => s.close()).catch(() => {});
    const side = RemoteSide.open(
      {
        url: row.url,
        username: row.username,
        password: row.password,
        ca: row.ca,
        insecure: row.insecure,
        timeoutMs: null,
      },
      this.#closed.signal,
    );
    side.catch(() => this.#sides.delete(row.project));
    this.#sides.set(row.project, { key, side });
    return side;
  }

  /**
   * The manifest `ref` names in a proxy project's repository, fetched from the upstream when needed; undefined
   * when `repo` is in no proxy project (or neither here nor upstream has it).
   */
  async manifest(repo: string, ref: { digest: Digest } | { tag: string }): Promise<ManifestRecord | undefined> {
    const up = await this.#upstreamOf(repo);
    if (!up) return undefined;
    const store = this.#reg.store;
    if ('digest' in ref) {
      const local = await store.manifestByDigest(repo, ref.digest);
      if (local) return local;
      return this.#fetching.run(`m\0${repo}\0${ref.digest}`, async () => {
        const again = await store.manifestByDigest(repo, ref.digest);
        if (again) return again;
        const m = await this.#upstream(up, (s) => s.manifest(up.repo, ref.digest, this.#closed.signal));
        if (!m) return undefined;
        await this.#reg.cacheManifest(repo, m.digest, m.bytes, m.mediaType);
        return store.manifestByDigest(repo, ref.digest);
      });
    }
    const cached = await store.cachedTag(repo, ref.tag);
    if (cached && cached.validatedAt !== null && Date.now() - cached.validatedAt < up.row.maxAgeMs) return cached.m;
    return this.#fetching.run(`t\0${repo}\0${ref.tag}`, async () => {
      const now = Date.now();
      const local = await store.cachedTag(repo, ref.tag);
      if (local && local.validatedAt !== null && now - local.validatedAt < up.row.maxAgeMs) return local.m;
      try {
        const digest = await this.#upstream(up, (s) => s.manifestDigest(up.repo, ref.tag, this.#closed.signal));
        if (digest === undefined) return local?.m;
        if (local && digest === local.m.digest) {
          await store.tagValidated(repo, ref.tag, now);
          return local.m;
        }
        const m = await this.#upstream(up, (s) => s.manifest(up.repo, digest, this.#closed.signal));
        if (!m) return local?.m;
        await this.#reg.cacheManifest(repo, m.digest, m.bytes, m.mediaType, ref.tag);
        await store.tagValidated(repo, ref.tag, now);
        return (await store.cachedTag(repo, ref.tag))?.m;
      } catch (err) {
        // The upstream is down or refuses: what is here is served, however old.
        if (local) {
          this.#log(`proxy ${repo}:${ref.tag}: serving the cached copy (${errorMessage(err)})`);
          return local.m;
        }
        throw err;
      }
    });
  }

  /**
   * Makes sure a proxy project's repository holds the blob, fetching it from the upstream when it does not. With
   * `stream` (a plain GET), a fetch this request starts is answered as it arrives: the bytes go to the client while
   * they are stored, all but the last chunk, which follows once the whole blob is stored and its digest verified;
   * a blob that fails its digest is not kept, and the client's answer is cut short. Other requests for the blob
   * meanwhile wait for the fetch and are served from here.
   */
  async blob(repo: string, digest: Digest, opts: { stream?: boolean } = {}): Promise<StreamedBlob | undefined> {
    const up = await this.#upstreamOf(repo);
    if (!up) return undefined;
    const store = this.#reg.store;
    const key = `b\0${repo}\0${digest}`;
    for (;;) {
      if ((await store.blobInRepo(repo, digest)) !== undefined) return undefined;
      const running = this.#blobFetches.get(key);
      if (running === undefined) break;
      await running;
    }
    let done!: () => void;
    let failed!: (err: unknown) => void;
    const settled = new Promise<void>((res, rej) => {
      done = res;
      failed = rej;
    });
    this.#blobFetches.set(key, settled);
    // Waiters see the outcome through the fetch's own promise; this copy only keeps rejections handled.
    settled.catch(() => {});
    const settle = (err?: unknown) => {
      if (this.#blobFetches.get(key) === settled) this.#blobFetches.delete(key);
      if (err === undefined) done();
      else failed(err);
    };
    try {
      const served = await this.#fetchBlob(up, repo, digest, opts.stream === true, settle);
      if (!served) settle();
      return served;
    } catch (err) {
      settle(err);
      throw err;
    }
  }

  /**
   * One fetch of a blob into the repository: linked from another repository here when one has it, else read from
   * the upstream into an upload. Resolves once it is stored, or, with `stream`, at once with the client's side of
   * the bytes; `settle` is called when the blob is stored or the fetch failed (which destroys the client's side).
   */
  async #fetchBlob(
    up: Upstream,
    repo: string,
    digest: Digest,
    stream: boolean,
    settle: (err?: unknown) => void,
  ): Promise<StreamedBlob | undefined> {
    // Another repository of this registry has it: linked, not fetched.
    const from = await this.#reg.store.db.get<{ name: string }>(
      `SELECT r.name FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id JOIN blobs b ON b.digest = l.digest
       WHERE l.digest = ? AND b.state = 'live' LIMIT 1`,
      [digest],
    );
    if (from && (await this.#reg.mount(repo, from.name, digest, ACTOR)) !== undefined) return undefined;
    const blob = await this.#upstream(up, (s) => s.openBlob(up.repo, digest, this.#closed.signal));
    if (!blob) return undefined;
    const id = await this.#reg.startUpload(repo, ACTOR);
    const u = await this.#reg.upload(repo, id, ACTOR);
    const client = stream && blob.size > 0 ? new PassThrough({ highWaterMark: 1 << 20 }) : undefined;
    const held: { last?: Buffer | undefined } = {};
    const storing = (async () => {
      try {
        await this.#reg.appendUpload(u, teeAllButLast(blob.body, client, held), { length: blob.size });
        await this.#reg.finishUpload(await this.#reg.upload(repo, id, ACTOR), digest, ACTOR);
      } catch (err) {
        await this.#reg.cancelUpload(u).catch(() => {});
        const e = isBerthError(err) || err instanceof RegistryError ? err : this.#asUnavailable(up, err);
        client?.destroy(e as Error);
        settle(e);
        throw e;
      }
      settle();
      if (client && !client.destroyed) client.end(held.last);
    })();
    if (!client) {
      await storing;
      return undefined;
    }
    storing.catch((err: unknown) => this.#log(`proxy ${repo}@${digest}: ${errorMessage(err)}`));
    return { size: blob.size, body: client };
  }

  /** A call to the upstream; its failures become UNAVAILABLE naming the upstream (a 401 stays what it is). */
  async #upstream<T>(up: Upstream, fn: (s: RemoteSide) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#side(up.row));
    } catch (err) {
      if (isBerthError(err) && (err.code === 'NOT_FOUND' || err.code === 'DATA_LOSS')) throw err;
      throw this.#asUnavailable(up, err);
    }
  }

  #asUnavailable(up: Upstream, err: unknown): UnavailableError {
    return new UnavailableError(`the upstream of project "${up.row.project}", ${up.row.url}: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  close(): void {
    this.#closed.abort();
    for (const { side } of this.#sides.values()) void side.then((s) => s.close()).catch(() => {});
    this.#sides.clear();
  }
}
