/**
 * A created container started through runc's exec fifo, without a runc process (the driver's `start`).
 */
import { closeSync, constants as fsConstants, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { ConflictError, isErrno } from '../util/errors.ts';
import { pidRunning } from './process.ts';

/**
 * `runc start`, without runc: a created container's init waits in `open(<state dir>/exec.fifo, O_WRONLY)` until
 * someone opens it for reading, writes "0", and execs the process; runc's `start` opens it, reads it and removes it,
 * nothing more. Doing that here spares a runtime process and a fork of berthd on every start (~10–17 ms each here,
 * and most of what 20 starts at once wait for). False when there is no fifo (another runtime version: the caller
 * runs `runc start`). If the init dies before it opens its end, the pending read is released by opening the write
 * end once, and the start fails as runc's does.
 *
 * The fifo is opened without blocking and read on the event loop (epoll), not on libuv's pool: a blocking open and
 * read there each held a pool thread until the init was scheduled, and with 20 starts at once the conmons being
 * spawned (on the same four threads) waited behind them. A fifo opened so reports no end of file until a writer
 * has come and gone, so the read waits for the init's byte (runc reads to the end of file, which comes only when
 * the init execs and which a write end held anywhere in berthd delays), or for the watchdog's open and close of a
 * write end.
 */
export async function startThroughFifo(stateDir: string, initPid: number): Promise<boolean> {
  const path = join(stateDir, 'exec.fifo');
  let fd: number;
  try {
    if (!statSync(path).isFIFO()) return false;
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
  let released = false;
  const watchdog = setInterval(() => {
    if (pidRunning(initPid)) return;
    released = true;
    try {
      closeSync(openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
      clearInterval(watchdog);
    } catch {
      // ENOENT: the start is over
    }
  }, 100);
  let n: number;
  try {
    n = await new Promise<number>((resolve, reject) => {
      const fifo = new Socket({ fd, readable: true, writable: false });
      fifo.once('data', (b: Buffer) => {
        fifo.destroy();
        resolve(b.length);
      });
      fifo.once('end', () => {
        fifo.destroy();
        resolve(0);
      });
      fifo.once('error', (err) => {
        fifo.destroy();
        reject(err);
      });
    });
  } finally {
    clearInterval(watchdog);
  }
  if (n === 0)
    throw new ConflictError(
      released ? 'the container process is already dead' : 'cannot start an already running container',
    );
  rmSync(path, { force: true });
  return true;
}

/**
 * `crun start`, without crun: crun's fifo works the other way round. A created container's init waits in a read of
 * `<state dir>/exec.fifo` (open since the create); `crun start` opens the write end, writes a byte and removes the
 * fifo (which is how `crun state` tells created from running). Done here, it spares a crun process and a fork of
 * berthd per start. A ConflictError when nobody reads it and the init is gone, as from runc's fifo; false when there
 * is no fifo (started already, or another crun version): the caller runs `crun start`, which says why.
 */
export function startThroughCrunFifo(stateDir: string, initPid: number): boolean {
  const path = join(stateDir, 'exec.fifo');
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENXIO') && !pidRunning(initPid)) throw new ConflictError('the container process is already dead');
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENXIO')) return false;
    throw e;
  }
  try {
    writeSync(fd, '0');
  } catch (e) {
    if (isErrno(e, 'EPIPE') || isErrno(e, 'EAGAIN')) return false;
    throw e;
  } finally {
    closeSync(fd);
  }
  rmSync(path, { force: true });
  return true;
}
