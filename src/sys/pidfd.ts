import { koffi, libcFunctions } from './koffi.ts';
import { systemError } from './libc.ts';

/**
 * Process file descriptors (pidfd_open(2), Linux 5.3): a descriptor that names one process, not a PID, so a PID
 * reused after that process is gone never answers for it. It polls readable once the process has exited (a zombie
 * too), so one poll(2) tells which of many processes are gone, in one syscall whatever their number.
 */
const load = libcFunctions({
  pidfd_open: 'int pidfd_open(int pid, unsigned int flags)',
  poll: 'int poll(void *fds, unsigned long nfds, int timeout)',
});

const ESRCH = 3;
const POLLIN = 0x1;
/** struct pollfd: int fd; short events; short revents. */
const POLLFD = 8;

/**
 * A pidfd for `pid`; undefined when `pid` is gone (ESRCH). Throws for other failures, such as a kernel or libc
 * without pidfd_open (ENOSYS, or the symbol missing) or no descriptors left. Close it with fs.closeSync.
 */
export function pidfdOpen(pid: number): number | undefined {
  const fd = load().pidfd_open(pid, 0) as number;
  if (fd >= 0) return fd;
  if (koffi().errno() === ESRCH) return undefined;
  throw systemError('pidfd_open');
}

/**
 * Which of the processes behind `fds` (pidfds) have exited, in one poll(2) that does not wait. A descriptor that
 * is not open (POLLNVAL) or fails counts as exited.
 */
export function pidfdsExited(fds: readonly number[]): boolean[] {
  if (fds.length === 0) return [];
  const buf = Buffer.alloc(fds.length * POLLFD);
  for (let i = 0; i < fds.length; i++) {
    buf.writeInt32LE(fds[i]!, i * POLLFD);
    buf.writeInt16LE(POLLIN, i * POLLFD + 4);
  }
  const n = load().poll(buf, fds.length, 0) as number;
  if (n < 0) throw systemError('poll');
  return fds.map((_, i) => buf.readInt16LE(i * POLLFD + 6) !== 0);
}
