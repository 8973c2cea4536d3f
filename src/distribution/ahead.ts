/**
 * Layers unpacked while an archive is read, in the same pass as their blobs are stored. An image archive names its
 * layers in manifests that come after the blobs (Docker's `docker save`, old and new, writes `manifest.json` and
 * `index.json` last), so a file is unpacked when its first bytes look like a layer (gzip or zstd, or a tar header
 * with a good checksum) before anything says it is one: its bytes go to an unpack thread, which writes and hashes
 * the blob and unpacks it at once (`ImageService.storeAndUnpackAhead`). Once the archive is read, each image's
 * layers take the unpacked snapshot whose blob, compression and diff ID match, and the rest are removed. A file that
 * turns out not to be a layer tar costs its unpack attempt, which fails quietly; it is stored all the same. Where
 * the snapshotter's layers depend on their parents (copy), nothing is unpacked ahead and layers unpack from the
 * store as before.
 */
import { rm } from 'node:fs/promises';
import type { Expected } from '../content/index.ts';
import { chainIds, type ImageService } from '../images/index.ts';
import { layerCompression } from '../oci/mediatypes.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import { type Compression, detectCompression } from '../util/compression.ts';
import type { Digest } from '../util/digest.ts';
import { isZeroBlock, verifyChecksum } from '../util/tar/format.ts';
import type { ImageWork } from './work.ts';

/** What a file's first bytes say it may be: a layer in this compression, or not a layer. */
export function layerLike(head: Uint8Array): Compression | undefined {
  const c = detectCompression(head);
  if (c !== 'none') return c;
  if (head.length >= 512 && !isZeroBlock(head, 0) && verifyChecksum(head, 0).ok) return 'none';
  return undefined;
}

/**
 * A stream's first `n` bytes (fewer if it is shorter), as a copy of their own, and the whole stream again from its
 * start: the head stays good after the chunks have gone on to a consumer that frees them (`releaseChunk`).
 */
export async function peek(
  source: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; all: AsyncGenerator<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let got = 0;
  let ended = false;
  while (got < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    first.push(r.value);
    got += r.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    let done = false;
    try {
      yield* first;
      if (!ended) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      done = true;
    } finally {
      if (!done) await it.return?.();
    }
  }
  return { head: Buffer.concat(first, Math.min(got, n)), all: all() };
}

interface Unpacked {
  key: string;
  diffId: Digest;
  compression: Compression;
  used: boolean;
}

export class AheadUnpacks {
  readonly #images: ImageService;
  readonly #signal: AbortSignal | undefined;
  /** Unpacks still running after their blobs were stored. */
  readonly #pending: Promise<void>[] = [];
  /** Blob digest → what its bytes unpacked to (the first unpack of a blob; repeats are removed). */
  readonly #byDigest = new Map<string, Unpacked>();
  readonly #spare: string[] = [];

  constructor(images: ImageService, signal: AbortSignal | undefined) {
    this.#images = images;
    this.#signal = signal;
  }

  /** Whether layers can unpack ahead here (the snapshotter's layers do not depend on their parents). */
  static possible(images: ImageService): boolean {
    return images.snapshotter.layersIndependent;
  }

  /**
   * Stores `source` (which looks like a layer in `compression`) as a blob checked against `expected`, unpacking it
   * in the same pass. Resolves once the blob is stored; the unpack may still be running (see `settle`). With
   * `release`, the source's chunks are the caller's to give up: each is freed once it is copied on (a request
   * body's pieces, which nothing else holds).
   */
  async store(
    work: ImageWork,
    source: AsyncIterable<Uint8Array>,
    compression: Compression,
    expected: Expected,
    opts: { release?: boolean } = {},
  ): Promise<{ digest: Digest; size: number }> {
    const tmp = work.ingestPath();
    let onStored!: (blob: { digest: Digest; size: number }) => void;
    const stored = new Promise<{ digest: Digest; size: number }>((resolve) => (onStored = resolve));
    const all = this.#images.storeAndUnpackAhead(source, compression, tmp, {
      ...(this.#signal ? { signal: this.#signal } : {}),
      onStored,
      ...(opts.release ? { releaseChunks: true } : {}),
    });
    let blob: { digest: Digest; size: number };
    try {
      blob = await Promise.race([stored, all.then((r) => r.blob)]);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    let info: { digest: Digest; size: number };
    try {
      info = await work.adopt(tmp, blob, expected);
    } catch (err) {
      this.#pending.push(
        all.then(
          (r) => void (r.key && this.#spare.push(r.key)),
          () => {},
        ),
      );
      throw err;
    }
    this.#pending.push(
      all.then(
        (r) => {
          if (r.key === undefined) return; // not a layer after all
          if (this.#byDigest.has(info.digest)) this.#spare.push(r.key);
          else this.#byDigest.set(info.digest, { key: r.key, diffId: r.diffId!, compression, used: false });
        },
        () => {}, // canceled: the load's own error says why
      ),
    );
    return info;
  }

  /** Waits for every unpack under way to end. */
  async settle(): Promise<void> {
    while (this.#pending.length > 0) await Promise.all(this.#pending.splice(0));
  }

  /**
   * The snapshots unpacked ahead for an image's layers (chain ID → key), for `ImageService.unpack`, which takes them
   * over: each is handed out once, for a layer whose blob, compression and diff ID match. Call after `settle`.
   */
  prepared(manifest: Manifest, config: ImageConfig): Map<string, string> {
    const chain = chainIds(config.rootfs.diff_ids);
    const out = new Map<string, string>();
    for (const [i, l] of manifest.layers.entries()) {
      const u = this.#byDigest.get(l.digest);
      if (u === undefined || u.used) continue;
      if (u.compression !== (layerCompression(l.mediaType) ?? 'none') || u.diffId !== config.rootfs.diff_ids[i])
        continue;
      u.used = true;
      out.set(chain[i]!, u.key);
    }
    return out;
  }

  /** Removes what no image took (call once the images are unpacked, or the load failed). */
  async discardUnused(): Promise<void> {
    await this.settle();
    const keys = [...this.#spare, ...[...this.#byDigest.values()].filter((u) => !u.used).map((u) => u.key)];
    this.#spare.length = 0;
    this.#byDigest.clear();
    for (const key of keys) await this.#images.discardLayer(key).catch(() => {});
  }
}
