import type { Readable } from 'node:stream';
import type { FetchableBlob, FetchSource } from '../../content/index.ts';
import type { Digest } from '../../util/digest.ts';

/** A manifest as stored, byte for byte. */
export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** An upload in progress at a destination, resumable from `offset` through `token`. */
export interface UploadHandle {
  /** What finds the upload again after an interruption (a Location URL, or a local upload ID). */
  readonly token: string;
  /** Bytes the destination has acknowledged. */
  readonly offset: number;
  /** Appends exactly `length` bytes from `body` (all acknowledged, or none). */
  append(body: AsyncIterable<Buffer> | Readable, length: number, signal: AbortSignal): Promise<void>;
  /** Ends the upload: the destination verifies the bytes against `digest`. */
  finish(digest: Digest, signal: AbortSignal): Promise<void>;
}

/**
 * One end of a replication: this registry (`local.ts`, through the registry service) or another one over HTTP
 * (`remote.ts`, through the registry client). A copy reads from one Side and writes to the other, so pushes and
 * pulls are the same code.
 */
export interface Side {
  /** For messages: `this registry` or the remote's URL. */
  readonly label: string;
  /** Repositories whose name matches, all of them when `exact` is given (no listing needed). */
  repositories(matches: (name: string) => boolean, signal: AbortSignal): Promise<string[]>;
  /** Tags of a repository; none when the repository does not exist. */
  tags(repo: string, signal: AbortSignal): Promise<string[]>;
  /** A manifest by tag or digest, or undefined. */
  manifest(repo: string, ref: string, signal: AbortSignal): Promise<Manifest | undefined>;
  /** The digest a tag (or digest) names, or undefined: a HEAD. */
  manifestDigest(repo: string, ref: string, signal: AbortSignal): Promise<string | undefined>;
  /** A small blob read whole (an image config), verified. */
  smallBlob(repo: string, digest: Digest, signal: AbortSignal): Promise<Buffer>;
  /**
   * The blob's bytes from `start` to its end. A chunk may be valid only until the next is asked for (this
   * registry reads its files into reused buffers): a consumer writes or copies each before asking for the next.
   */
  readBlob(repo: string, digest: Digest, start: number, signal: AbortSignal): Promise<AsyncIterable<Buffer>>;
  /**
   * Where another thread can GET the whole blob itself (URL, authorization, TLS settings), so that its bytes need
   * not pass through this one: a side served over HTTP has it.
   */
  blobSource?(repo: string, digest: Digest, signal: AbortSignal): Promise<FetchSource>;
  /** Its size when the repository has the blob. */
  hasBlob(repo: string, digest: Digest, signal: AbortSignal): Promise<number | undefined>;
  /**
   * Whether `mount` with no other repository to mount from answers for the repository itself (a mount from the
   * repository into itself succeeds when it has the blob), so that no `hasBlob` is needed before it: one request
   * where there would be two.
   */
  readonly mountFindsOwn: boolean;
  /**
   * Whether a large blob goes to this side in one request for all its remaining bytes rather than in chunks, each
   * acknowledged before the next: true for another registry, where each request waits for its answer (and costs
   * docker-registry a high fixed price), and which keeps the bytes of a cut request where it can (berth records a
   * ranged request's progress as it comes); a resume asks it where the upload stands.
   */
  readonly streamsUploads: boolean;
  /** Links a blob from another repository of this side; false when that cannot be done. */
  mount(repo: string, digest: Digest, from: string | undefined, signal: AbortSignal): Promise<boolean>;
  /** Starts an upload (for `digest`, which a refused mount may have started already), or finds the one `token` names (undefined when it is gone). */
  upload(
    repo: string,
    token: string | undefined,
    signal: AbortSignal,
    digest?: Digest,
  ): Promise<UploadHandle | undefined>;
  /**
   * A whole small blob in one upload (no resume needed). A side that stores a blob after reading its body (this
   * registry: syncs, rename, metadata) calls `received` in between, so that the copy starts its next blob meanwhile.
   * A `FetchableBlob` may be fetched by the side's own thread (this registry's ingest thread), else it is opened.
   */
  putBlob(
    repo: string,
    digest: Digest,
    size: number,
    body: AsyncIterable<Buffer> | FetchableBlob,
    signal: AbortSignal,
    received?: () => void,
  ): Promise<void>;
  putManifest(repo: string, ref: string, m: Manifest, signal: AbortSignal): Promise<void>;
  /** Deletes a tag (and, where the side can only delete by digest, its manifest). */
  deleteTag(repo: string, tag: string, signal: AbortSignal): Promise<void>;
  close(): void;
}
