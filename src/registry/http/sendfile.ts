import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { DataLossError } from '../../util/errors.ts';

const CHUNK = 1 << 20;

/**
 * Sends bytes `start`..`end` of an open file as the body of `res`, through two 1 MiB buffers used in turn: the
 * next chunk is read while the previous one is written, and a buffer is read into again only once the socket
 * has taken its last chunk. Streams (a ReadStream piped into the response) allocate a fresh buffer for every
 * chunk and cost a turn of the event loop per stream; under a loaded machine that halved blob GET throughput.
 * Resolves when the last chunk was handed to the socket; rejects (the caller destroys the response) otherwise.
 */
export async function sendFileRange(res: ServerResponse, fh: FileHandle, start: number, end: number): Promise<void> {
  const total = end - start + 1;
  const size = Math.min(CHUNK, total);
  const bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const written: (Promise<void> | undefined)[] = [undefined, undefined];
  let pos = start;
  let turn = 0;
  const readInto = async (i: number, at: number) => {
    await written[i];
    const n = Math.min(size, end - at + 1);
    const { bytesRead } = await fh.read(bufs[i]!, 0, n, at);
    if (bytesRead < n) throw new DataLossError(`blob ended at byte ${at + bytesRead}, before byte ${end}`);
    return n;
  };
  let next = readInto(0, pos);
  while (pos <= end) {
    const i = turn;
    const n = await next;
    pos += n;
    turn = 1 - turn;
    if (pos <= end) next = readInto(turn, pos);
    const chunk = n === size ? bufs[i]! : bufs[i]!.subarray(0, n);
    let ok = true;
    written[i] = new Promise<void>((resolve, reject) => {
      ok = res.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
    written[i]!.catch(() => {});
    if (!ok && res.destroyed) throw new Error('the client went away');
  }
  await Promise.all(written);
}
