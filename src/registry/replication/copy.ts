import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../../util/digest.ts';
import { CanceledError, DataLossError, errorMessage, isBerthError } from '../../util/errors.ts';
import { Limit } from '../../util/lock.ts';
import { RegistryError } from '../errors.ts';
import type { ExecutionItem } from '../ops/api.ts';
import { Glob } from '../ops/glob.ts';
import type { Rule, RuleStore, Scope } from './rules.ts';
import type { Manifest, Side } from './side.ts';

/** How a copy behaves; the registry's config may change each (`"replication": {…}`). */
export interface CopyOptions {
  /** Tries of each request before the item fails (default 8). */
  attempts: number;
  /** First wait between tries (ms, default 500), doubled each time up to 30 s. */
  backoffMs: number;
  /**
   * Blobs up to this size go in one request; larger ones through a resumable upload: to another registry in one
   * request for the rest of the blob, into this one in chunks of this size, each acknowledged (32 MiB).
   */
  chunkBytes: number;
  /**
   * Blobs moving at once (default 8). A blob stored here counts until its bytes are read: its commit (syncs,
   * rename, metadata) goes on while the next blob comes.
   */
  parallelBlobs: number;
  /** Tags copied at once (default 4). */
  parallelImages: number;
}

export const DEFAULT_COPY_OPTIONS: CopyOptions = {
  attempts: 8,
  backoffMs: 500,
  chunkBytes: 32 << 20,
  parallelBlobs: 8,
  parallelImages: 4,
};

interface Descriptor {
  digest: Digest;
  size: number;
  mediaType?: string;
}

interface ManifestDoc {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
  blobs?: Descriptor[];
}

/** Whether an error may go away by trying again: the network, a 5xx, a remote restarting, bytes cut short. */
export function retryable(err: unknown): boolean {
  if (err instanceof CanceledError) return false;
  if (err instanceof RegistryError) return err.status === 429 || err.status >= 500;
  if (isBerthError(err)) return err.code === 'UNAVAILABLE' || err.code === 'DATA_LOSS';
  const code = (err as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** Splits one stream of buffers into consecutive parts of exact lengths. */
class Chunker {
  readonly #it: AsyncIterator<Buffer>;
  #left: Buffer | undefined;
  constructor(source: AsyncIterable<Buffer>) {
    this.#it = source[Symbol.asyncIterator]();
  }
  async *take(n: number): AsyncGenerator<Buffer> {
    let want = n;
    while (want > 0) {
      let c = this.#left;
      this.#left = undefined;
      if (c === undefined) {
        const r = await this.#it.next();
        if (r.done) throw new DataLossError('the source ended before the blob did');
        c = r.value;
      }
      if (c.length > want) {
        this.#left = c.subarray(want);
        c = c.subarray(0, want);
      }
      want -= c.length;
      yield c;
    }
  }
  close(): void {
    void this.#it.return?.();
  }
}

async function* counted(source: AsyncIterable<Buffer>, count: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of source) {
    count(c.length);
    yield c;
  }
}

const INDEX = /index|manifest\.list/;

/**
 * One execution of a rule: what the rule (or the scope of an on-push trigger) selects is copied from one side to
 * the other, tag by tag: each blob the destination lacks is mounted from another of its repositories when it can
 * be, else sent (small ones in one request, large ones through a resumable upload, resumed after an interruption
 * from what the destination says it has, reading the source with Range from there), several at once, each request
 * tried again with back-off; the manifest goes last, so the destination never shows an image it lacks parts of.
 * Each tag is recorded as copied, skipped (the destination had it), deleted or failed.
 */
export class Execution {
  readonly #store: RuleStore;
  readonly #rule: Rule;
  readonly #id: number;
  readonly #src: Side;
  readonly #dst: Side;
  readonly #o: CopyOptions;
  readonly #signal: AbortSignal;
  readonly #blobs: Limit;
  /** Blobs this execution already has at the destination: digest → repository there (for mounts). */
  readonly #where = new Map<string, string>();
  readonly #inflight = new Map<string, Promise<number>>();
  /** Local repositories this execution wrote or read, for the `replication` event. */
  readonly touched = new Set<string>();
  counts = { copied: 0, skipped: 0, failed: 0, deleted: 0 };
  /** The first item's failure, for the execution's summary. */
  firstError: string | undefined;

  constructor(deps: {
    store: RuleStore;
    rule: Rule;
    id: number;
    src: Side;
    dst: Side;
    options: CopyOptions;
    signal: AbortSignal;
  }) {
    this.#store = deps.store;
    this.#rule = deps.rule;
    this.#id = deps.id;
    this.#src = deps.src;
    this.#dst = deps.dst;
    this.#o = deps.options;
    this.#signal = deps.signal;
    this.#blobs = new Limit(deps.options.parallelBlobs);
  }

  #destOf(repo: string): string {
    return this.#rule.destPrefix ? `${this.#rule.destPrefix}/${repo}` : repo;
  }

  /** Runs `fn`, trying again with back-off while it fails with an error that may go away. */
  async #retry<T>(fn: () => Promise<T>, onRetry?: (err: unknown) => Promise<void> | void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.#signal.aborted) throw new CanceledError('the replication was stopped', { cause: this.#signal.reason });
      try {
        return await fn();
      } catch (err) {
        if (this.#signal.aborted || !retryable(err) || attempt >= this.#o.attempts) throw err;
        await onRetry?.(err);
        const wait = Math.min(this.#o.backoffMs * 2 ** (attempt - 1), 30_000);
        await sleep(wait * (0.75 + Math.random() / 2), undefined, { signal: this.#signal }).catch(() => {});
      }
    }
  }

  /** What the run covers: the scope's items, or every matching tag of every matching repository. */
  async plan(scope: Scope | null): Promise<Scope['items']> {
    const tagGlob = this.#rule.tag ? new Glob(this.#rule.tag) : undefined;
    if (scope) {
      const items: Scope['items'] = [];
      for (const it of scope.items) {
        if (it.op !== 'prune') {
          items.push(it);
          continue;
        }
        const have = new Set(await this.#retry(() => this.#src.tags(it.repo, this.#signal)));
        const there = await this.#retry(() => this.#dst.tags(this.#destOf(it.repo), this.#signal));
        for (const tag of there)
          if (!have.has(tag) && (!tagGlob || tagGlob.matches(tag))) items.push({ repo: it.repo, tag, op: 'delete' });
      }
      return items;
    }
    const repoGlob = new Glob(this.#rule.repo);
    const literal = !/[*?[{\\]/.test(this.#rule.repo);
    const repos = literal
      ? [this.#rule.repo]
      : await this.#retry(() => this.#src.repositories((n) => repoGlob.matches(n), this.#signal));
    const items: Scope['items'] = [];
    for (const repo of repos.sort()) {
      const tags = (await this.#retry(() => this.#src.tags(repo, this.#signal))).filter(
        (t) => !tagGlob || tagGlob.matches(t),
      );
      for (const tag of tags) items.push({ repo, tag, op: 'copy' });
      if (this.#rule.deletes) {
        const have = new Set(tags);
        const there = await this.#retry(() => this.#dst.tags(this.#destOf(repo), this.#signal));
        for (const tag of there)
          if (!have.has(tag) && (!tagGlob || tagGlob.matches(tag))) items.push({ repo, tag, op: 'delete' });
      }
    }
    return items;
  }

  async run(items: Scope['items']): Promise<void> {
    const images = new Limit(this.#o.parallelImages);
    await Promise.all(
      items.map((it) =>
        images.run(async () => {
          if (this.#signal.aborted) return;
          const dst = this.#destOf(it.repo);
          this.touched.add(this.#rule.direction === 'push' ? it.repo : dst);
          let item: Omit<ExecutionItem, 'at'>;
          try {
            item =
              it.op === 'delete' ? await this.#delete(it.repo, dst, it.tag) : await this.#copyTag(it.repo, dst, it.tag);
          } catch (err) {
            if (this.#signal.aborted) return;
            item = { repo: dst, tag: it.tag, digest: null, state: 'failed', bytes: 0, error: errorMessage(err) };
            this.firstError ??= `${dst}:${it.tag}: ${item.error}`;
          }
          if (item.state === 'skipped' && item.error === 'label') return;
          this.counts[item.state]++;
          await this.#store.item(this.#id, item);
        }),
      ),
    );
  }

  async #delete(repo: string, dst: string, tag: string): Promise<Omit<ExecutionItem, 'at'>> {
    // A tag that came back at the source meanwhile is not deleted.
    if ((await this.#retry(() => this.#src.manifestDigest(repo, tag, this.#signal))) !== undefined)
      return { repo: dst, tag, digest: null, state: 'skipped', bytes: 0, error: null };
    const digest = (await this.#retry(() => this.#dst.manifestDigest(dst, tag, this.#signal))) ?? null;
    if (digest === null) return { repo: dst, tag, digest, state: 'skipped', bytes: 0, error: null };
    await this.#retry(() => this.#dst.deleteTag(dst, tag, this.#signal));
    return { repo: dst, tag, digest, state: 'deleted', bytes: 0, error: null };
  }

  async #copyTag(repo: string, dst: string, tag: string): Promise<Omit<ExecutionItem, 'at'>> {
    const m = await this.#retry(() => this.#src.manifest(repo, tag, this.#signal));
    if (!m) throw new Error(`${repo}:${tag} is not at ${this.#src.label}`);
    if (this.#rule.label && !(await this.#hasLabel(repo, m, this.#rule.label)))
      return { repo: dst, tag, digest: m.digest, state: 'skipped', bytes: 0, error: 'label' };
    const there = await this.#retry(() => this.#dst.manifestDigest(dst, tag, this.#signal));
    if (there === m.digest) return { repo: dst, tag, digest: m.digest, state: 'skipped', bytes: 0, error: null };
    const bytes = await this.#tree(repo, dst, m);
    await this.#retry(() => this.#dst.putManifest(dst, tag, m, this.#signal));
    return { repo: dst, tag, digest: m.digest, state: 'copied', bytes, error: null };
  }

  /** Everything a manifest needs at the destination (child manifests, blobs), not the manifest itself. */
  async #tree(repo: string, dst: string, m: Manifest): Promise<number> {
    const doc = JSON.parse(m.bytes.toString('utf8')) as ManifestDoc;
    if (INDEX.test(m.mediaType) || Array.isArray(doc.manifests)) {
      const sizes = await Promise.all(
        (doc.manifests ?? []).map(async (child) => {
          const there = await this.#retry(() => this.#dst.manifestDigest(dst, child.digest, this.#signal));
          if (there === child.digest) return 0;
          const cm = await this.#retry(() => this.#src.manifest(repo, child.digest, this.#signal));
          if (!cm) throw new Error(`${repo}@${child.digest}, listed by ${m.digest}, is not at ${this.#src.label}`);
          const n = await this.#tree(repo, dst, cm);
          await this.#retry(() => this.#dst.putManifest(dst, child.digest, cm, this.#signal));
          return n;
        }),
      );
      return sizes.reduce((a, b) => a + b, 0);
    }
    const blobs = new Map<string, Descriptor>();
    for (const d of [doc.config, ...(doc.layers ?? []), ...(doc.blobs ?? [])]) if (d) blobs.set(d.digest, d);
    const sizes = await Promise.all([...blobs.values()].map((d) => this.#blob(repo, dst, d)));
    return sizes.reduce((a, b) => a + b, 0);
  }

  async #hasLabel(repo: string, m: Manifest, label: string): Promise<boolean> {
    const [key, value] = label.includes('=')
      ? [label.slice(0, label.indexOf('=')), label.slice(label.indexOf('=') + 1)]
      : [label, undefined];
    const doc = JSON.parse(m.bytes.toString('utf8')) as ManifestDoc & { annotations?: Record<string, string> };
    const ok = (labels: Record<string, string> | undefined | null) =>
      labels != null && key in labels && (value === undefined || labels[key] === value);
    if (ok(doc.annotations)) return true;
    if (doc.manifests) {
      for (const child of doc.manifests) {
        const cm = await this.#retry(() => this.#src.manifest(repo, child.digest, this.#signal));
        if (cm && (await this.#hasLabel(repo, cm, label))) return true;
      }
      return false;
    }
    if (!doc.config) return false;
    const config = JSON.parse(
      (await this.#retry(() => this.#src.smallBlob(repo, doc.config!.digest, this.#signal))).toString('utf8'),
    ) as { config?: { Labels?: Record<string, string> | null } };
    return ok(config.config?.Labels);
  }

  /** A blob at the destination once per execution, however many tags need it; resolves with the bytes sent. */
  #blob(repo: string, dst: string, d: Descriptor): Promise<number> {
    const key = `${dst}\0${d.digest}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = (async () => {
        let held = false;
        const slot = {
          take: async () => {
            if (held) return;
            await this.#blobs.take();
            held = true;
          },
          release: () => {
            if (held) this.#blobs.release();
            held = false;
          },
        };
        try {
          return await this.#transfer(repo, dst, d, slot);
        } finally {
          slot.release();
        }
      })();
      this.#inflight.set(key, p);
      p.catch(() => this.#inflight.delete(key));
    }
    return p;
  }

  /**
   * Each attempt holds one of the `parallelBlobs` slots; `slot.release` once the blob's bytes are read, as what is
   * left (the destination storing them) needs none. An attempt after such a release takes a slot again: a retry
   * reads the bytes anew.
   */
  async #transfer(
    repo: string,
    dst: string,
    d: Descriptor,
    slot: { take: () => Promise<void>; release: () => void },
  ): Promise<number> {
    const s = this.#signal;
    let sent = 0;
    const count = (n: number) => {
      sent += n;
    };
    await this.#retry(
      async () => {
        await slot.take();
        const from = this.#where.get(d.digest);
        if (!this.#dst.mountFindsOwn && (await this.#dst.hasBlob(dst, d.digest, s)) !== undefined) return;
        if (await this.#dst.mount(dst, d.digest, from, s)) return;
        // The other repository may have lost it meanwhile: the repository itself is asked too.
        if (from !== undefined && this.#dst.mountFindsOwn && (await this.#dst.mount(dst, d.digest, undefined, s)))
          return;
        const saved = await this.#store.upload(this.#rule.id, dst, d.digest);
        if (saved === undefined && d.size <= this.#o.chunkBytes) {
          let read = false;
          const open = async () => {
            read = true;
            return counted(await this.#src.readBlob(repo, d.digest, 0, s), count);
          };
          const source = await this.#src.blobSource?.(repo, d.digest, s);
          if (source === undefined) return this.#dst.putBlob(dst, d.digest, d.size, await open(), s, slot.release);
          try {
            await this.#dst.putBlob(dst, d.digest, d.size, { source, open }, s, slot.release);
          } catch (err) {
            // The source answered the other thread's GET with an error status (a token that expired meanwhile, a
            // blob it lacks): read through the registry client at once, which asks for a new token after a 401
            // and reports the rest as it does for every request.
            if ((err as { status?: number }).status === undefined || read) throw err;
            return this.#dst.putBlob(dst, d.digest, d.size, await open(), s, slot.release);
          }
          if (!read) count(d.size);
          return;
        }
        let up = saved === undefined ? undefined : await this.#dst.upload(dst, saved, s);
        if (up === undefined || up.offset > d.size) {
          up = (await this.#dst.upload(dst, undefined, s, d.digest))!;
          await this.#store.saveUpload(this.#rule.id, dst, d.digest, up.token);
        }
        if (up.offset < d.size) {
          const chunks = new Chunker(counted(await this.#src.readBlob(repo, d.digest, up.offset, s), count));
          try {
            while (up.offset < d.size) {
              const n = this.#dst.streamsUploads
                ? d.size - up.offset
                : Math.min(this.#o.chunkBytes, d.size - up.offset);
              const before = up.token;
              await up.append(chunks.take(n), n, s);
              if (up.token !== before) await this.#store.saveUpload(this.#rule.id, dst, d.digest, up.token);
            }
          } finally {
            chunks.close();
          }
        }
        await up.finish(d.digest, s);
        await this.#store.dropUpload(this.#rule.id, dst, d.digest);
      },
      async (err) => {
        // Bytes that hash wrong do not become right by appending more: that upload is dropped.
        if (err instanceof DataLossError || (err instanceof RegistryError && err.oci === 'DIGEST_INVALID'))
          await this.#store.dropUpload(this.#rule.id, dst, d.digest);
      },
    );
    this.#where.set(d.digest, dst);
    return sent;
  }
}
