import { koffi, libcFunctions } from './koffi.ts';
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { basename, dirname } from 'node:path';
import { errnoError, systemError } from './libc.ts';

/**
 * AF_UNIX SOCK_SEQPACKET sockets, which node:net cannot open: socket(2), connect(2), bind(2), listen(2) and
 * accept4(2) through koffi, and a wrapper that turns the connected descriptor into a `net.Socket` driven by
 * the event loop. conmon's attach socket is one of these. Every descriptor made here is non-blocking and
 * close-on-exec; every failure is a SystemError shaped like node:fs's (`code`, negative `errno`, `syscall`,
 * `path`).
 */

const load = libcFunctions({
  socket: 'int socket(int domain, int type, int protocol)',
  connect: 'int connect(int fd, const void *addr, uint32_t len)',
  bind: 'int bind(int fd, const void *addr, uint32_t len)',
  listen: 'int listen(int fd, int backlog)',
  accept4: 'int accept4(int fd, void *addr, void *len, int flags)',
  recv: 'long recv(int fd, void *buf, size_t len, int flags)',
  fcntl: 'int fcntl(int fd, int cmd, ...)',
});

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const F_DUPFD_CLOEXEC = 1030;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const ECONNRESET = 104;
const ENAMETOOLONG = 36;

/** sun_path's size: a path of at most 107 bytes fits with its NUL. */
const SUN_PATH_SIZE = 108;
/** The longest path sockaddr_un holds. */
export const MAX_SOCKET_PATH = SUN_PATH_SIZE - 1;

/** A sockaddr_un for `name`, or undefined when it does not fit. */
function sockaddr(name: string): Buffer | undefined {
  const bytes = Buffer.from(name);
  if (bytes.length > MAX_SOCKET_PATH || bytes.includes(0)) return undefined;
  const addr = Buffer.alloc(2 + bytes.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  return addr;
}

/**
 * Calls `op` with a sockaddr_un naming `path`. A path longer than sun_path is reached through its directory:
 * the directory is opened with O_PATH and the address becomes `/proc/self/fd/<dirfd>/<name>` (as podman does).
 */
function withAddress(path: string, syscall: string, op: (addr: Buffer) => void): void {
  const direct = sockaddr(path);
  if (direct) {
    op(direct);
    return;
  }
  if (Buffer.from(path).includes(0)) throw new TypeError(`socket path ${JSON.stringify(path)} contains a NUL byte`);
  const dirfd = openSync(dirname(path), O_PATH | fsConstants.O_DIRECTORY);
  try {
    const viaProc = sockaddr(`/proc/self/fd/${dirfd}/${basename(path)}`);
    if (!viaProc) throw errnoError(ENAMETOOLONG, syscall, path);
    op(viaProc);
  } finally {
    closeSync(dirfd);
  }
}

function newSocket(path: string): number {
  const fd = load().socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw systemError('socket', path);
  return fd;
}

/**
 * Connects a new SOCK_SEQPACKET socket to the unix socket at `path` (of any length) and returns its descriptor,
 * non-blocking. A unix connect completes at once or fails: ENOENT (no such socket), ECONNREFUSED (nobody
 * listens), EAGAIN (the listener's backlog is full: try again shortly), EPROTOTYPE (not a seqpacket socket).
 * The caller owns the descriptor: pass it to `seqpacketSocket()` or close it.
 */
export function connectSeqpacket(path: string): number {
  const c = load();
  const fd = newSocket(path);
  try {
    withAddress(path, 'connect', (addr) => {
      if (c.connect(fd, addr, addr.length) !== 0) throw systemError('connect', path);
    });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Creates a SOCK_SEQPACKET socket listening at `path` (which must not exist) and returns its descriptor. */
export function listenSeqpacket(path: string, backlog = 16): number {
  const c = load();
  const fd = newSocket(path);
  try {
    withAddress(path, 'bind', (addr) => {
      if (c.bind(fd, addr, addr.length) !== 0) throw systemError('bind', path);
    });
    if (c.listen(fd, backlog) !== 0) throw systemError('listen', path);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/**
 * Accepts one pending connection on a socket from `listenSeqpacket()`: its descriptor (non-blocking), or
 * undefined when none is waiting (it never blocks).
 */
export function acceptSeqpacket(listenFd: number): number | undefined {
  const fd = load().accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC) as number;
  if (fd >= 0) return fd;
  const errno = koffi().errno();
  if (errno === EAGAIN) return undefined;
  throw errnoError(errno, 'accept4', `fd ${listenFd}`);
}

/** A second descriptor (close-on-exec) for the same socket as `fd`, as dup(2) makes. */
export function dupFd(fd: number): number {
  const copy = load().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0) as number;
  if (copy < 0) throw systemError('fcntl', `fd ${fd}`);
  return copy;
}

/** The largest packet `readQueuedPackets()` returns whole, as libuv's read buffer for `seqpacketSocket()`. */
const MAX_READ = 65536;

/**
 * Reads, without waiting, the packets already queued on the seqpacket socket `fd`, in order, until none is left
 * or end-of-file. For a descriptor kept (`dupFd()`) beside a `seqpacketSocket()`: when the peer closes with data
 * of ours unread, the kernel reports ECONNRESET before the packets it sent last, and the net.Socket is destroyed
 * on that error; those packets can still be read here.
 */
export function readQueuedPackets(fd: number): Buffer[] {
  const c = load();
  const packets: Buffer[] = [];
  let resetSeen = false;
  for (;;) {
    const buf = Buffer.allocUnsafe(MAX_READ);
    const n = Number(c.recv(fd, buf, MAX_READ, MSG_DONTWAIT));
    if (n > 0) {
      packets.push(Buffer.from(buf.subarray(0, n)));
      continue;
    }
    if (n === 0) return packets;
    const errno = koffi().errno();
    if (errno === EAGAIN) return packets;
    // A reset not yet reported (the socket failed on a write) is reported once, then the queue reads as usual.
    if (errno === ECONNRESET && !resetSeen) {
      resetSeen = true;
      continue;
    }
    throw errnoError(errno, 'recv', `fd ${fd}`);
  }
}

interface PipeHandle {
  open(fd: number): number;
  close(): void;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

let pipeWrap: PipeWrapBinding | undefined;

/**
 * Node's internal Pipe handle (libuv's uv_pipe_t), the only way to give a SOCK_SEQPACKET descriptor to the event
 * loop: `new net.Socket({ fd })` refuses it, as libuv's uv_guess_handle() calls it an unknown handle. It is
 * reached through process.binding(), deprecated (DEP0111, reported under --pending-deprecation): that one
 * warning is held back for this one call, every other warning passes as usual.
 */
function pipeBinding(): PipeWrapBinding {
  if (pipeWrap) return pipeWrap;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const [typeOrOpts, code] = rest;
    const warningCode =
      typeof typeOrOpts === 'object' && typeOrOpts !== null ? (typeOrOpts as { code?: unknown }).code : code;
    if (warningCode === 'DEP0111') return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    pipeWrap = (process as unknown as { binding(name: string): PipeWrapBinding }).binding('pipe_wrap');
  } finally {
    process.emitWarning = emitWarning;
  }
  return pipeWrap;
}

/**
 * Turns a connected SOCK_SEQPACKET descriptor into a `net.Socket` on the event loop, taking ownership of it
 * (destroying the socket closes it; so does a failure here). Message boundaries hold both ways:
 * - each 'data' event is one whole packet of at most 64 KiB (libuv's read buffer; a longer one is cut), as long
 *   as the socket is read by 'data' events or in flowing mode (`read()` on a paused stream may join them). libuv
 *   takes a zero-length packet for end-of-file.
 * - each `write()` is sent as one packet, never merged with others (the stream's writev batching is off); a
 *   packet larger than the socket's send buffer fails with EMSGSIZE.
 * - `end()` is shutdown(SHUT_WR): the peer reads end-of-file and this side can still read.
 * The socket is half-open (`allowHalfOpen`): after the peer's end-of-file it stays writable until `end()` or
 * `destroy()`. When the peer closes with packets of ours unread, the socket fails with ECONNRESET ahead of the
 * packets the peer sent last: keep a `dupFd()` to read them with `readQueuedPackets()`.
 */
export function seqpacketSocket(fd: number): Socket {
  let handle: PipeHandle;
  try {
    const { Pipe, constants } = pipeBinding();
    handle = new Pipe(constants.SOCKET);
    const err = handle.open(fd);
    if (err !== 0) {
      handle.close();
      throw errnoError(-err, 'uv_pipe_open', `fd ${fd}`);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  // `handle` takes a libuv stream handle made elsewhere (child_process passes its pipes so); the types know
  // only a BoundSocket there.
  const opts = { handle, readable: true, writable: true, allowHalfOpen: true };
  const socket = new Socket(opts as unknown as SocketConstructorOpts);
  // Writable joins chunks buffered while a write is under way into one writev(), which would be one packet.
  Object.defineProperty(socket, '_writev', { value: null, writable: true, configurable: true });
  return socket;
}
