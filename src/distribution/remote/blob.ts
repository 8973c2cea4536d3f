/**
 * One blob's download: its bytes from a registry as one continuous stream, resumed with `Range` after a broken
 * connection, and the errors of a failed download or pull, named after the blob.
 */
import type { FetchedBlob } from '../../images/index.ts';
import type { Descriptor } from '../../oci/types.ts';
import { type FetchSource, IDLE } from '../../util/blob-fetch.ts';
import { proxyFor } from '../../util/proxy.ts';
import { CanceledError, DataLossError, errorMessage, isBerthError, UnavailableError } from '../../util/errors.ts';
import { repoScope } from './auth.ts';
import type { Session } from './client.ts';
import { IdleTimeoutError } from './transport.ts';

/** Times a broken blob download is resumed before the pull fails. */
const MAX_RESUMES = 5;
/** Bytes of a download handed on at once (to the content store and the unpack). */
const WRITE_BATCH = 1 << 20;

/**
 * A blob's bytes from byte 0 to the end, resuming with `Range` after a broken connection (not after an idle
 * timeout: a hung registry would hang again). `onBytes` gets the running count. The socket's pieces are handed on
 * in batches of about 1 MiB (one store write each), or as they come with `batch: false` (for a consumer that copies
 * them anyway: the unpack threads' ring). `from`: the bytes before it were had another way (a thread's own
 * download that failed there); the stream starts there, as a resume would.
 *
 * A download broken after every byte of the blob came (a chunked answer cut before its terminating chunk, here or
 * in the thread's download that ended at `from`) ends with what came: nothing is left to ask for (a Range from the
 * blob's end is answered 416), and the digest and size checks decide. The unpack thread's download follows the
 * same rule (`fetchedBlob`).
 */
export async function* blobBytes(
  session: Session,
  repo: string,
  d: Descriptor,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
  opts: { batch?: boolean; from?: number } = {},
): AsyncGenerator<Buffer> {
  const batch = opts.batch === false ? 1 : WRITE_BATCH;
  let received = opts.from ?? 0;
  let resumes = 0;
  // Socket reads are 16-64 KiB: hand them on in batches, so the store writes (each a thread-pool round trip)
  // are few. What is batched was received, so a resume continues after it.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  let resuming = opts.from !== undefined;
  for (;;) {
    if (resuming && received >= d.size) {
      onBytes(received);
      if (pendingBytes > 0) yield flush();
      return;
    }
    resuming = true;
    let res;
    try {
      res = await session.blob(repo, d.digest, received, signal);
    } catch (err) {
      if (!resumable(err) || ++resumes > MAX_RESUMES) throw err;
      await new Promise((r) => setTimeout(r, 100 * resumes));
      continue;
    }
    let skip = 0;
    if (received > 0) {
      const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (res.status === 200)
        skip = received; // the registry ignored Range: drop what we have
      else if (!range || Number(range[1]) > received) {
        res.raw.destroy();
        throw new DataLossError(
          `the registry resumed blob ${d.digest} at the wrong offset (${res.headers['content-range']})`,
        );
      } else skip = received - Number(range[1]);
    }
    try {
      for await (const c of res.body) {
        let chunk = c;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        received += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= batch) {
          onBytes(received);
          yield flush();
        }
      }
      onBytes(received);
      if (pendingBytes > 0) yield flush();
      return;
    } catch (err) {
      // Every byte came: the loop ends with them (an idle registry too, as nothing is left to wait for).
      if (received >= d.size && err instanceof UnavailableError) continue;
      if (!resumable(err) || ++resumes > MAX_RESUMES) throw err;
    } finally {
      if (!res.raw.complete) res.raw.destroy();
    }
  }
}

/**
 * A blob for the unpack thread to download by itself (`FetchedBlob`, snapshots/apply.ts): a GET of the blob on the
 * session's endpoint (a mirror's too), with the authorization the session holds for pulling from `repo`, the TLS
 * settings the transport uses for the endpoint on every hop, and its timeouts. `bytes(from)` is the way of this
 * thread, for the rest of the blob if the thread's download fails: through the session, which asks for a new token
 * after a 401, follows redirects over plain HTTP, and resumes as it always does. The thread's download failing for
 * its idle timeout is not tried again (a hung registry would hang again). Undefined where the thread cannot go the
 * session's way: through a proxy (the registry client's rule, util/proxy.ts: not for a registry NO_PROXY names; a
 * redirect to a host that would go through one fails the thread's download, and the session takes over).
 */
export async function fetchedBlob(
  session: Session,
  repo: string,
  d: Descriptor,
  signal: AbortSignal | undefined,
  bytes: (from: number) => AsyncIterable<Buffer>,
  progress: { onBytes: (n: number) => void; onReceived: () => void },
): Promise<FetchedBlob | undefined> {
  const t = session.transport;
  const ep = session.endpoint;
  const url = `${ep.base.replace(/\/+$/, '')}/v2/${repo}/blobs/${d.digest}`;
  if (proxyFor(new URL(url), t.config.proxy)) return undefined;
  const authz = await session.authorizer.header([repoScope(repo, ['pull'])], signal);
  const source: FetchSource = {
    url,
    headers: authz ? { Authorization: authz } : {},
    tls: t.tlsSettings(ep),
    idleMs: t.idleTimeout,
    connectMs: t.connectTimeout,
    ...(t.config.proxy ? { proxy: t.config.proxy } : {}),
  };
  return {
    fetch: source,
    size: d.size,
    ...progress,
    rest(from, failure) {
      // Every byte came before the download failed: `bytes` ends at once (`blobBytes`' rule for a download broken
      // after the blob's last byte).
      if (from >= d.size || failure.code !== IDLE) return bytes(from);
      const err = new IdleTimeoutError(`GET ${source.url}: the registry sent nothing for ${t.idleTimeout / 1000} s`, {
        cause: failure,
      });
      return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }) };
    },
  };
}

/** Whether a failed request or body may be resumed: a broken connection, not a registry that hangs. */
function resumable(err: unknown): boolean {
  return err instanceof UnavailableError && !(err instanceof IdleTimeoutError);
}

/** A failed blob download as an error naming the blob. */
export function blobError(err: unknown, digest: string): Error {
  if (err instanceof CanceledError) return err;
  const e = err as { name?: string; code?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`download of blob ${digest} was canceled`, { cause: err });
  if (err instanceof DataLossError)
    return new DataLossError(`filesystem layer verification failed for digest ${digest}: ${err.message}`, {
      cause: err,
    });
  if (isBerthError(err)) {
    if (err.message.includes(digest)) return err;
    const Cls = err.constructor as new (m: string, o?: { cause?: unknown }) => Error;
    return new Cls(`blob ${digest}: ${err.message}`, { cause: err });
  }
  return new DataLossError(`blob ${digest}: ${errorMessage(err)}`, { cause: err });
}

/** An unpack or register failure as a BerthError (stream and zlib errors are data loss). */
export function pullError(err: unknown, what: string): Error {
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`${what} was canceled`, { cause: err });
  return new DataLossError(`${what}: ${errorMessage(err)}`, { cause: err });
}
