import { Socket } from 'node:net';
import { libcFunctions } from './koffi.ts';
import { errnoError, systemError } from './libc.ts';

/**
 * Child processes started with glibc's posix_spawn(3) instead of Node's child_process. libuv's spawn forks the
 * daemon: it copies berthd's page tables and blocks the event loop until the child has exec'd (about 3 ms a child
 * here, whatever else is waiting), and every page berthd writes afterwards takes a copy-on-write fault. posix_spawn
 * uses clone(CLONE_VM | CLONE_VFORK): nothing is copied, and the call returns in well under a millisecond. Used
 * where a program is started on the path of every container start (conmon); everything else keeps child_process.
 *
 * The child gets the given fds (a pipe end, or /dev/null), a working directory, an environment, every signal at
 * its default disposition and an empty signal mask (as libuv gives its children); every other fd of berthd is
 * close-on-exec, as Node opens them. libuv reaps only the children it started, so these are reaped here, with
 * waitpid(WNOHANG) when a SIGCHLD arrives (and on a slow timer, in case one is missed).
 */

const load = libcFunctions({
  posixSpawn:
    'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
  faInit: 'int posix_spawn_file_actions_init(void *actions)',
  faDestroy: 'int posix_spawn_file_actions_destroy(void *actions)',
  faAddDup2: 'int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)',
  faAddOpen: 'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)',
  faAddChdir: 'int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)',
  attrInit: 'int posix_spawnattr_init(void *attr)',
  attrDestroy: 'int posix_spawnattr_destroy(void *attr)',
  attrSetFlags: 'int posix_spawnattr_setflags(void *attr, short flags)',
  attrSetSigMask: 'int posix_spawnattr_setsigmask(void *attr, const void *set)',
  attrSetSigDefault: 'int posix_spawnattr_setsigdefault(void *attr, const void *set)',
  sigEmptySet: 'int sigemptyset(void *set)',
  pipe2: 'int pipe2(_Out_ int *fds, int flags)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  close: 'int close(int fd)',
});

// glibc on Linux: <spawn.h>, <fcntl.h>, <sys/wait.h>.
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
// Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128).
const OPAQUE = 1024;

/** What the child's fd N is: /dev/null, or a pipe whose other end berthd keeps (`in`: the child reads it). */
export type ChildFd = 'null' | 'in' | 'out';

/** How a child ended: its exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: number | null;
}

/** A child started by `spawnDirect`: its pid, berthd's ends of its pipes (by child fd), and its end. */
export interface DirectChild {
  pid: number;
  /** For each child fd given as `in` or `out`: a Socket on berthd's end (writable for `in`, readable for `out`). */
  pipes: (Socket | undefined)[];
  /** Resolves once the child has exited and been reaped. */
  exited: Promise<ChildExit>;
  /** Whether it has been reaped (its pid may belong to another process since). */
  readonly done: boolean;
  /** Sends a signal while it has not been reaped. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `file` with `argv` (argv[0] included), `env` and `cwd`; child fd i is `fds[i]`. Rejects with a
 * SystemError-like Error (code ENOENT, EACCES, ...) when the program cannot be run: glibc's posix_spawn reports the
 * exec's failure. The call itself runs on a thread of libuv's pool: the calling thread waits until the child has
 * exec'd (CLONE_VFORK), which on a loaded machine is a wait for the child to be scheduled, and the event loop must not.
 */
export async function spawnDirect(
  file: string,
  argv: readonly string[],
  opts: { env: Record<string, string>; cwd: string; fds: readonly ChildFd[] },
): Promise<DirectChild> {
  const c = load();
  const actions = Buffer.alloc(OPAQUE);
  const attr = Buffer.alloc(OPAQUE);
  const mask = Buffer.alloc(OPAQUE);
  const all = Buffer.alloc(OPAQUE);
  const ours: number[] = [];
  const theirs: number[] = [];
  const pipes: (Socket | undefined)[] = [];
  check(c.faInit(actions), 'posix_spawn_file_actions_init');
  check(c.attrInit(attr), 'posix_spawnattr_init');
  try {
    opts.fds.forEach((kind, fd) => {
      if (kind === 'null') {
        check(c.faAddOpen(actions, fd, '/dev/null', O_RDWR, 0), 'posix_spawn_file_actions_addopen');
        return;
      }
      const p = [0, 0];
      if (c.pipe2(p, O_CLOEXEC) !== 0) throw systemError('pipe2');
      const [r, w] = p as [number, number];
      const child = kind === 'in' ? r : w;
      ours[fd] = kind === 'in' ? w : r;
      theirs.push(child);
      // A pipe end numbered below the child fds could be overwritten by an earlier dup2: pipes made here are
      // numbered above every fd Node holds at start (0–2 stdio, then libuv's), which the check below keeps true.
      if (child < opts.fds.length) throw new Error(`pipe fd ${child} collides with the child's fds`);
      check(c.faAddDup2(actions, child, fd), 'posix_spawn_file_actions_adddup2');
    });
    check(c.faAddChdir(actions, opts.cwd), 'posix_spawn_file_actions_addchdir_np');
    c.sigEmptySet(mask);
    // Every signal back to its default, glibc's own two (32, 33) too: sigfillset leaves them out, and glibc's
    // spawn then leaves them ignored across the exec. libuv resets all of them for its children.
    all.fill(0xff);
    check(c.attrSetSigMask(attr, mask), 'posix_spawnattr_setsigmask');
    check(c.attrSetSigDefault(attr, all), 'posix_spawnattr_setsigdefault');
    check(c.attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), 'posix_spawnattr_setflags');
    const envp = [...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`), null];
    const pid = [0];
    const rc = await new Promise<number>((resolve, reject) =>
      c.posixSpawn.async(pid, file, actions, attr, [...argv, null], envp, (err: unknown, r: number) =>
        err ? reject(err) : resolve(r),
      ),
    );
    if (rc !== 0) throw errnoError(rc, 'posix_spawn', file);
    for (const fd of theirs) c.close(fd);
    theirs.length = 0;
    opts.fds.forEach((kind, fd) => {
      if (kind === 'null') return;
      pipes[fd] = new Socket({ fd: ours[fd]!, readable: kind === 'out', writable: kind === 'in' });
    });
    return track(pid[0]!, pipes);
  } catch (err) {
    for (const fd of [...theirs, ...ours.filter((x) => x !== undefined)]) c.close(fd);
    throw err;
  } finally {
    c.faDestroy(actions);
    c.attrDestroy(attr);
  }
}

function check(rc: number, what: string): void {
  if (rc !== 0) throw errnoError(rc, what);
}

// ---- reaping --------------------------------------------------------------------------------------------

const pending = new Map<number, (e: ChildExit) => void>();
let poll: NodeJS.Timeout | undefined;

function reapAll(): void {
  const c = load();
  for (const [pid, done] of pending) {
    const status = [0];
    const r = c.waitpid(pid, status, WNOHANG);
    if (r === 0) continue;
    pending.delete(pid);
    const s = status[0]!;
    // WIFEXITED: low 7 bits zero; WEXITSTATUS: bits 8–15; WTERMSIG: low 7 bits. r < 0 (ECHILD): reaped elsewhere.
    done(
      r < 0
        ? { code: null, signal: null }
        : (s & 0x7f) === 0
          ? { code: (s >> 8) & 0xff, signal: null }
          : { code: null, signal: s & 0x7f },
    );
  }
  if (pending.size === 0) {
    process.off('SIGCHLD', reapAll);
    if (poll) clearInterval(poll);
    poll = undefined;
  }
}

function track(pid: number, pipes: (Socket | undefined)[]): DirectChild {
  let done = false;
  const exited = new Promise<ChildExit>((resolve) =>
    pending.set(pid, (e) => {
      done = true;
      resolve(e);
    }),
  );
  if (!poll) {
    process.on('SIGCHLD', reapAll);
    // A SIGCHLD that arrived before the listener is caught within 50 ms. The timer holds the event loop while a
    // child runs, as a child_process child does.
    poll = setInterval(reapAll, 50);
  }
  // The child may already be gone.
  setImmediate(reapAll);
  return {
    pid,
    pipes,
    exited,
    get done() {
      return done;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (done) return;
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile, not reaped yet
      }
    },
  };
}
