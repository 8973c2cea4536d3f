/**
 * `ADD <url>`: the file is fetched into the build's work directory while it is hashed, and its hash is the tarsum
 * of a one-entry archive (the classic builder's, mode 0600), so the cache sees the content, not the URL. An
 * unreachable URL or an error status fails the step with the URL and the reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { posix, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, UnavailableError } from '../util/errors.ts';
import { entryHash, fileSourceHash } from './cachekey.ts';

export interface Fetched {
  url: string;
  /** The downloaded file. */
  path: string;
  /** The name it gets under a directory destination. */
  filename: string;
  /** Last-Modified, seconds since the epoch. */
  mtime?: number;
  size: number;
  hash: string;
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export async function fetchUrl(
  url: string,
  dir: string,
  opts: { checksum?: string; signal?: AbortSignal | undefined } = {},
): Promise<Fetched> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new UnavailableError(`ADD failed: failed to GET ${url}: ${cause}`);
  }
  if (!res.ok || !res.body) {
    throw new UnavailableError(`ADD failed: failed to GET ${url} with status ${res.status} ${res.statusText}`.trim());
  }
  const path = join(dir, `url-${randomBytes(8).toString('hex')}`);
  const sha = createHash('sha256');
  let size = 0;
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
    async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        sha.update(c);
        size += c.length;
        yield c;
      }
    },
    createWriteStream(path, { mode: 0o600 }),
  );
  const digest = `sha256:${sha.digest('hex')}`;
  if (opts.checksum && opts.checksum !== digest)
    throw new InvalidArgumentError(`ADD failed: digest mismatch for ${url}: ${digest}, expected ${opts.checksum}`);
  const filename = filenameOf(url, res.headers.get('content-disposition'));
  const modified = Date.parse(res.headers.get('last-modified') ?? '');
  // the tarsum of the file as a one-entry archive, as the classic builder hashes a download
  const h = entryHash({ name: filename, mode: 0o600, uid: 0, gid: 0, size, typeflag: '0' });
  const { createReadStream } = await import('node:fs');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return {
    url,
    path,
    filename,
    size,
    hash: fileSourceHash(h.digest('hex')),
    ...(Number.isFinite(modified) ? { mtime: modified / 1000 } : {}),
  };
}

function filenameOf(url: string, disposition: string | null): string {
  const m = disposition ? /filename="?([^";]+)"?/i.exec(disposition) : null;
  if (m?.[1]) return posix.basename(m[1]);
  const base = posix.basename(new URL(url).pathname);
  return base === '' || base === '/' ? 'download' : base;
}
