/**
 * Layers unpacked while an archive is read, in the same pass as their blobs are stored. An image archive names its
 * layers in manifests that come after the blobs (Docker's `docker save`, old and new, writes `manifest.json` and
 * `index.json` last), so a file is unpacked when its first bytes look like a layer (gzip or zstd, or a tar header
 * with a good checksum) before anything says it is one; once the archive is read, each image's layers take the
 * unpacked snapshot whose diff ID and compression match, and the rest are removed. A file that turns out not to be
 * a layer tar costs its unpack attempt, which fails quietly. Where the snapshotter's layers depend on their parents
 * (copy), nothing is unpacked ahead and layers unpack from the store as before.
 */
import { PassThrough } from 'node:stream';
import { chainIds, type ImageService } from '../images/index.ts';
import { layerCompression } from '../oci/mediatypes.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import { type Compression, detectCompression } from '../util/compression.ts';
import type { Digest } from '../util/digest.ts';
import { isZeroBlock, verifyChecksum } from '../util/tar/format.ts';

/** Bytes an unpack may lag behind the archive before the archive's reading waits for it. */
const LAG = 2 << 20;

/** What a file's first bytes say it may be: a layer in this compression, or not a layer. */
export function layerLike(head: Uint8Array): Compression | undefined {
  const c = detectCompression(head);
  if (c !== 'none') return c;
  if (head.length >= 512 && !isZeroBlock(head, 0) && verifyChecksum(head, 0).ok) return 'none';
  return undefined;
}

interface Unpacked {
  key: string;
  /** Undefined for an uncompressed blob until its digest (its diff ID) is known. */
  diffId: Digest | undefined;
  compression: Compression;
  used: boolean;
}

/** One file watched: what it unpacked to, and (set by the caller once the blob is stored) its digest. */
export interface Watched {
  digest?: Digest;
  unpacked?: Unpacked;
}

export class AheadUnpacks {
  readonly #images: ImageService;
  readonly #signal: AbortSignal | undefined;
  readonly #pending: Promise<void>[] = [];
  readonly #watched: Watched[] = [];
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
   * Passes `body` through unchanged, unpacking it on the side when its first bytes look like a layer; the caller
   * sets `w.digest` once the bytes are stored as a blob. `onBytes` hears of the bytes passed.
   */
  async *watch(body: AsyncIterable<Buffer>, w: Watched, onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
    this.#watched.push(w);
    const it = body[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headBytes = 0;
    let ended = false;
    while (headBytes < 512) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head.push(r.value);
      headBytes += r.value.length;
    }
    const compression = layerLike(head.length === 1 ? head[0]! : Buffer.concat(head));
    let sink: PassThrough | undefined;
    if (compression !== undefined) {
      const pt = new PassThrough({ highWaterMark: LAG });
      pt.on('error', () => {}); // the unpack reports its own failure (and a failure here means: not a layer)
      sink = pt;
      const unpacking = this.#images
        .unpackAhead(pt, compression, this.#signal ? { signal: this.#signal } : {})
        .then(
          ({ key, diffId }) => {
            w.unpacked = { key, diffId, compression, used: false };
          },
          () => {}, // not a layer after all, or the load failed: its own error says why
        )
        .finally(() => {
          if (!pt.writableFinished) pt.destroy();
        });
      this.#pending.push(unpacking);
    }
    let passed = 0;
    const pass = async (chunk: Buffer): Promise<void> => {
      if (sink !== undefined && !sink.destroyed && !sink.write(chunk)) await drained(sink);
      passed += chunk.length;
      onBytes?.(passed);
    };
    let done = false;
    try {
      for (const chunk of head) {
        await pass(chunk);
        yield chunk;
      }
      if (!ended) {
        for (let r = await it.next(); !r.done; r = await it.next()) {
          await pass(r.value);
          yield r.value;
        }
      }
      done = true;
      sink?.end();
    } finally {
      if (!done) sink?.destroy();
      if (!done) await it.return?.();
    }
  }

  /** Waits for every unpack under way to end, then files each by its blob's digest (once the archive is read). */
  async settle(): Promise<void> {
    await Promise.all(this.#pending);
    this.#pending.length = 0;
    for (const w of this.#watched) {
      const u = w.unpacked;
      if (u === undefined) continue;
      if (w.digest === undefined || this.#byDigest.has(w.digest)) this.#spare.push(u.key);
      else this.#byDigest.set(w.digest, { ...u, diffId: u.diffId ?? w.digest });
    }
    this.#watched.length = 0;
  }

  /**
   * The snapshots unpacked ahead for an image's layers (chain ID → key), for `ImageService.unpack`, which takes them
   * over: each is handed out once, for a layer whose blob, compression and diff ID match.
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

/** Resolves when `w` can take more bytes, or is gone. */
function drained(w: PassThrough): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}
