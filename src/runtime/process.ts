import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { pidfdOpen } from '../sys/index.ts';

/** Whether a process with this pid exists (signal 0). A zombie still counts. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process with this pid exists and is not a zombie (reads /proc/<pid>/stat). */
export function pidRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const state = statFields(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * The fields of a `/proc/<pid>/stat` line after the command name (which may hold spaces and parens): proc(5)'s fields
 * from the third on, so [0] is the state, [1] the parent PID, [11] to [14] utime, stime, cutime and cstime (in clock
 * ticks). Undefined for a line without a command.
 */
export function statFields(stat: string): string[] | undefined {
  const end = stat.lastIndexOf(')');
  return end < 0 ? undefined : stat.slice(end + 2).split(' ');
}

/** The parent PID in a `/proc/<pid>/stat` line. */
export function parentPid(stat: string): number | undefined {
  const ppid = Number(statFields(stat)?.[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/**
 * The descriptor `open` gives for `pid` when that process is the conmon of `dir`: opened first, then its command line
 * checked (and `ok` asked with the descriptor), so that what was opened and what was checked were one process, not a
 * reused PID's two. Undefined, the descriptor closed, otherwise, or when it cannot be opened.
 */
function openForConmon(
  pid: number,
  dir: string,
  open: () => number | undefined,
  ok: (fd: number) => boolean = () => true,
): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let fd: number | undefined;
  try {
    fd = open();
  } catch {
    return undefined;
  }
  if (fd === undefined) return undefined;
  if (isConmonOf(pid, dir) && ok(fd)) return fd;
  closeSync(fd);
  return undefined;
}

/**
 * A pidfd for the conmon of `dir`; undefined when conmon is gone, its PID is another process's, or pidfds are not to
 * be had (Linux before 5.3).
 */
export function conmonPidfd(pid: number, dir: string): number | undefined {
  return openForConmon(pid, dir, () => pidfdOpen(pid));
}

/**
 * A descriptor on `/proc/<pid>/stat` of the conmon of `dir`, read through once it is known to be that conmon;
 * undefined when `pid` is not that conmon (gone, a zombie, a reused PID). Like a pidfd, but without the FFI: the
 * descriptor stays bound to the process it was opened for, so once that process is reaped a read through it fails
 * (ESRCH) even when its PID names another process by then. `statFdGone` reads it; close it with fs.closeSync.
 */
export function conmonStatFd(pid: number, dir: string): number | undefined {
  return openForConmon(
    pid,
    dir,
    () => openSync(`/proc/${pid}/stat`, 'r'),
    (fd) => !statFdGone(fd),
  );
}

/** The head of a stat line: the PID, the command (at most 15 bytes in parentheses) and the state fit in it. */
const statHead = Buffer.alloc(64);

/**
 * Whether the process behind a `conmonStatFd` descriptor has exited: reaped (the read fails), a zombie or dead.
 * One pread(2).
 */
export function statFdGone(fd: number): boolean {
  let n: number;
  try {
    n = readSync(fd, statHead, 0, statHead.length, 0);
  } catch {
    return true;
  }
  const close = statHead.lastIndexOf(0x29, n - 1); // ')'
  const state = close < 0 || close + 2 >= n ? undefined : String.fromCharCode(statHead[close + 2]!);
  return state === undefined || state === 'Z' || state === 'X';
}

/**
 * How an exit watcher (exits.ts, `waitFor`) follows the conmon of `dir`: through its pidfd when `usePidfd` (the FFI
 * is loaded already; a restarted daemon that has spawned nothing does not load it for this), else through a
 * `conmonStatFd` descriptor read by `check` (lost at once when `pid` is not that conmon). `close` when done.
 */
export function conmonWatch(
  pid: number,
  dir: string,
  usePidfd: boolean,
): { how: { pidfd: number } | { check: () => Promise<boolean> }; close: () => void } {
  const pidfd = usePidfd ? conmonPidfd(pid, dir) : undefined;
  if (pidfd !== undefined) return { how: { pidfd }, close: () => closeSync(pidfd) };
  const statFd = conmonStatFd(pid, dir);
  return {
    how: { check: async () => statFd === undefined || statFdGone(statFd) },
    close: () => {
      if (statFd !== undefined) closeSync(statFd);
    },
  };
}

/** Whether `pid` is the conmon of the container (or exec) directory `dir`, by its command line. */
export function isConmonOf(pid: number, dir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return cmdline.includes('conmon') && cmdline.includes(dir);
  } catch {
    return false;
  }
}
