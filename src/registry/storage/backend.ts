import type { Manager, Provider, ResumableIngester } from '../../content/index.ts';

/**
 * Where blob bytes live: the roles of content/'s store the registry needs. The filesystem implementation is
 * content/'s `FileContentStore` itself; the S3 one (`s3.ts`) implements the same roles over a bucket. Which blobs
 * exist is the metadata's business: a blob the metadata does not list is not served, whatever the backend holds.
 */
export type BlobBackend = Pick<Provider, 'read' | 'info'> &
  Pick<Manager, 'delete' | 'walk' | 'digests'> &
  /** `path`: a backend whose blobs are files here (the filesystem one) lets large GETs read the file itself. */
  Partial<Pick<Provider, 'path'>> &
  ResumableIngester & {
    init(): Promise<void>;
    /**
     * Whether an append's bytes are in storage as they are written, each piece before the next is asked for (the
     * filesystem store), so that a cut append keeps its progress; S3's writer stores a chunk at its append's end.
     */
    readonly appendsInPlace?: boolean;
    /** Starts, in the background, what uploads will need (the filesystem store's ingest thread). */
    warm?(): Promise<void>;
    close?(): Promise<void>;
  };
