import { spawn } from 'node:child_process';
import { basename, dirname } from 'node:path';
import type { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { closeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectSeqpacket, dupFd, readQueuedPackets, seqpacketSocket } from '../sys/index.ts';
import { CanceledError, ConflictError, errorMessage, isErrno, UnavailableError } from '../util/errors.ts';

/**
 * conmon's attach socket is a SOCK_SEQPACKET unix socket (`<bundle>/attach`). Each message conmon sends is one
 * byte naming the pipe (2 stdout, 3 stderr; a TTY's output is all "stdout") followed by at most 8192 bytes of
 * output. What a client sends goes to the container's stdin (or pty) as it is; conmon reads at most 32768 bytes
 * a message and drops the rest, so input is cut into messages no larger. When the client shuts down its
 * writing side (or goes away), conmon closes the container's stdin, unless it was started with
 * --leave-stdin-open: that is how `echo hi | docker run -i busybox cat` ends. conmon closes every attached
 * socket after the container exits and its output is drained, so the output ends after the last byte.
 */

/** A connected SOCK_SEQPACKET socket: one chunk per message, boundaries kept. */
export interface PacketConnection {
  /** Object-mode stream of Buffers, one per message; ends when the peer closes. */
  readonly messages: Readable;
  /** Sends one message (at most MAX_INPUT_MESSAGE bytes). */
  send(data: Uint8Array): Promise<void>;
  /** shutdown(SHUT_WR): the peer reads end-of-file, our reading side stays open. */
  closeWrite(): void;
  destroy(): void;
}

/**
 * Connects to a SOCK_SEQPACKET unix socket at `path`, of any length (an implementation connects relative to the
 * socket's directory, or through /proc/self/fd, since sun_path holds only 107 bytes).
 */
export type SeqpacketDialer = (path: string, opts?: { signal?: AbortSignal }) => Promise<PacketConnection>;

/** The most conmon reads from one attach message (CONN_SOCK_BUF_SIZE). */
export const MAX_INPUT_MESSAGE = 32768;

export const ATTACH_STDOUT = 2;
export const ATTACH_STDERR = 3;

/** One piece of a container's output, from the stream it was written to. */
export interface AttachFrame {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** Decodes one conmon attach message; undefined for pipes that carry no output (conmon sends none now). */
export function decodeAttachMessage(msg: Uint8Array): AttachFrame | undefined {
  if (msg.length < 1) return undefined;
  const data = Buffer.from(msg.buffer, msg.byteOffset + 1, msg.length - 1);
  if (msg[0] === ATTACH_STDOUT) return { stream: 'stdout', data };
  if (msg[0] === ATTACH_STDERR) return { stream: 'stderr', data };
  return undefined;
}

/** An attached client of one container (or exec process). */
export interface AttachSession {
  /** Object-mode stream of AttachFrame, in the order conmon sent them; ends when the process's output ends. */
  readonly output: Readable;
  /**
   * The process's stdin (or its terminal's input). `end()` half-closes: with `-i` and without leaveStdinOpen
   * the process then reads end-of-file. Writing to a container created without stdin goes nowhere.
   */
  readonly stdin: Writable;
  /** Detaches: closes the socket (conmon then closes stdin, as for `end()`, unless leaveStdinOpen). */
  close(): void;
}

/** Wraps a packet connection to conmon's attach socket as an AttachSession. */
export function attachSession(conn: PacketConnection): AttachSession {
  const output = new Readable({
    objectMode: true,
    read() {
      conn.messages.resume();
    },
    destroy(err, cb) {
      conn.destroy();
      cb(err);
    },
  });
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    output.push(null);
  };
  conn.messages.on('data', (msg: Buffer) => {
    if (ended) return;
    const frame = decodeAttachMessage(msg);
    if (frame && frame.data.length > 0 && !output.push(frame)) conn.messages.pause();
  });
  conn.messages.once('end', end);
  conn.messages.once('error', (e) => output.destroy(e));
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      void (async () => {
        for (let off = 0; off < chunk.length; off += MAX_INPUT_MESSAGE) {
          await conn.send(chunk.subarray(off, off + MAX_INPUT_MESSAGE));
        }
      })().then(() => cb(), cb);
    },
    final(cb) {
      conn.closeWrite();
      cb();
    },
  });
  stdin.on('error', () => {}); // a write after the process has gone: the output's end tells the caller
  return {
    output,
    stdin,
    close() {
      conn.destroy();
      if (!output.destroyed) end();
    },
  };
}

/**
 * The default SeqpacketDialer: the socket itself, opened with socket(2)/connect(2) from src/sys and read and
 * written by the event loop (no process per client). A full listen backlog (EAGAIN) is retried every
 * `retryMs` (default 5) for up to `connectTimeoutMs` (default 2000).
 */
export function nativeSeqpacketDialer(opts: { retryMs?: number; connectTimeoutMs?: number } = {}): SeqpacketDialer {
  const retryMs = opts.retryMs ?? 5;
  const timeoutMs = opts.connectTimeoutMs ?? 2000;
  return async (path, { signal } = {}) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw new CanceledError(`attach to '${path}' canceled`, { cause: signal.reason });
      let fd: number;
      try {
        fd = connectSeqpacket(path);
      } catch (e) {
        if (isErrno(e, 'ENOENT') || isErrno(e, 'ECONNREFUSED')) {
          throw new ConflictError(`cannot attach to '${path}': ${errorMessage(e)} (the process is not running)`, {
            cause: e,
          });
        }
        if (isErrno(e, 'EAGAIN') && performance.now() < deadline) {
          await sleep(retryMs, undefined, signal ? { signal } : {}).catch(() => {});
          continue;
        }
        throw new UnavailableError(`cannot attach to '${path}': ${errorMessage(e)}`, { cause: e });
      }
      let spare: number;
      try {
        spare = dupFd(fd);
      } catch (e) {
        closeSync(fd);
        throw new UnavailableError(`cannot attach to '${path}': ${errorMessage(e)}`, { cause: e });
      }
      return socketConnection(seqpacketSocket(fd), spare, path);
    }
  };
}

/**
 * A PacketConnection over a seqpacket `net.Socket` (one 'data' event per message, one write per message).
 * `spare` is a second descriptor of the same socket, to read what conmon sent last when the socket fails:
 * conmon closing with our input unread makes the kernel report ECONNRESET before its last messages (the end of
 * the output when a client still types while the process exits).
 */
function socketConnection(socket: Socket, spare: number, path: string): PacketConnection {
  let ended = false;
  let spareOpen = true;
  /** Whether any input went to conmon: without it, a reset means conmon never accepted the connection. */
  let sent = false;
  const closeSpare = (): void => {
    if (!spareOpen) return;
    spareOpen = false;
    closeSync(spare);
  };
  const end = (): void => {
    closeSpare();
    if (ended) return;
    ended = true;
    messages.push(null);
  };
  const messages = new Readable({
    objectMode: true,
    read() {
      socket.resume();
    },
  });
  let received = false;
  socket.on('data', (msg: Buffer) => {
    received = true;
    if (!ended && !messages.push(msg)) socket.pause();
  });
  socket.once('end', () => {
    end();
    socket.destroy(); // conmon closes the socket once the output is drained: nothing more can be written
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    // conmon went away (with our input unread, or while we wrote): what it sent last is still queued.
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE') {
      let queued: Buffer[] = [];
      try {
        if (spareOpen && !ended) queued = readQueuedPackets(spare);
      } catch {
        // the output ends with what was read
      }
      for (const msg of queued) messages.push(msg);
      if (e.code === 'ECONNRESET' && !sent && !received && queued.length === 0) {
        // Nothing came, nothing went, and the connection was reset: conmon closed its listening socket with this
        // connection still in its queue (it never accepted it, e.g. its accept failed on every turn until the
        // process ended), so whatever the process wrote went to the log alone. An ordinary end would pass for
        // a process that wrote nothing.
        closeSpare();
        messages.destroy(
          new UnavailableError(
            `conmon never accepted the attach connection to '${path}': the process's output was not received`,
          ),
        );
        return;
      }
      end();
    } else {
      closeSpare();
      messages.destroy(e);
    }
  });
  socket.once('close', end);
  return {
    messages,
    send(data) {
      if (data.length > MAX_INPUT_MESSAGE) {
        return Promise.reject(
          new RangeError(`attach message of ${data.length} bytes; conmon reads at most ${MAX_INPUT_MESSAGE}`),
        );
      }
      if (!socket.writable) return Promise.reject(new ConflictError(`attach socket '${path}' is closed for writing`));
      // A zero-length message would read as end-of-file at conmon's side.
      if (data.length === 0) return Promise.resolve();
      sent = true;
      return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
    },
    closeWrite() {
      socket.end();
    },
    destroy() {
      socket.destroy();
      end();
    },
  };
}

/**
 * A relay in Perl (perl-base is part of every Debian system, and its Socket module knows SOCK_SEQPACKET):
 * connects to the socket, then copies messages to its stdout as 4-byte big-endian length + bytes, and its stdin
 * to the socket in messages of at most 32768 bytes; stdin's end becomes shutdown(SHUT_WR). A zero-length frame
 * first says "connected". Node's net module cannot open SOCK_SEQPACKET sockets: this is the fallback for where
 * the native dialer above cannot be used (no koffi, or a Node without the internal Pipe handle).
 */
const RELAY = String.raw`
use strict; use warnings; use Socket;
$SIG{PIPE} = 'IGNORE';
my $path = $ARGV[0];
socket(my $s, AF_UNIX, SOCK_SEQPACKET, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_un($path)) or die "connect: $!\n";
binmode STDOUT; binmode STDIN;
sub out { my $d = shift; my $off = 0;
  while ($off < length $d) { my $n = syswrite(STDOUT, $d, length($d) - $off, $off); exit 0 unless defined $n; $off += $n; } }
out(pack('N', 0));
my $in = 1;
while (1) {
  my $rin = ''; vec($rin, fileno($s), 1) = 1; vec($rin, 0, 1) = 1 if $in;
  my $n = select(my $rout = $rin, undef, undef, undef);
  next if $n < 0;
  if (vec($rout, fileno($s), 1)) {
    my $r = sysread($s, my $buf, 65536);
    last unless $r;
    out(pack('N', $r) . $buf);
  }
  if ($in && vec($rout, 0, 1)) {
    my $r = sysread(STDIN, my $buf, 32768);
    if (!$r) { shutdown($s, 1); $in = 0; }
    else { defined(send($s, $buf, 0)) or last; }
  }
}
`;

/** A SeqpacketDialer that runs the Perl relay above (one small process per attached client). */
export function perlSeqpacketDialer(opts: { perlPath?: string; env?: Record<string, string> } = {}): SeqpacketDialer {
  const perl = opts.perlPath ?? '/usr/bin/perl';
  return async (path, { signal } = {}) => {
    try {
      await stat(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT'))
        throw new ConflictError(`cannot attach to '${path}': no such socket (the process is not running)`);
      throw e;
    }
    return new Promise<PacketConnection>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CanceledError(`attach to '${path}' canceled`, { cause: signal.reason }));
        return;
      }
      // Run in the socket's directory and connect to its base name: sun_path is too short for some paths.
      const child = spawn(perl, ['-e', RELAY, basename(path)], {
        cwd: dirname(path),
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ?? {},
      });
      let connected = false;
      let stderr = '';
      let pending: Buffer = Buffer.alloc(0);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        messages.push(null);
      };
      const messages = new Readable({
        objectMode: true,
        read() {
          child.stdout.resume();
        },
      });
      const fail = (err: Error): void => {
        if (connected) messages.destroy(err);
        else reject(err);
      };
      const onAbort = (): void => {
        child.kill('SIGKILL');
        fail(new CanceledError(`attach to '${path}' canceled`, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => (stderr += s));
      child.on('error', (e) =>
        fail(new UnavailableError(`cannot run '${perl}' to attach to '${path}': ${e.message}`, { cause: e })),
      );
      child.stdin.on('error', () => {});
      child.stdout.on('data', (b: Buffer) => {
        pending = pending.length === 0 ? b : Buffer.concat([pending, b]);
        while (pending.length >= 4) {
          const len = pending.readUInt32BE(0);
          if (pending.length < 4 + len) break;
          const msg = pending.subarray(4, 4 + len);
          pending = pending.subarray(4 + len);
          if (!connected) {
            connected = true;
            signal?.removeEventListener('abort', onAbort);
            resolve(conn);
            continue;
          }
          if (!ended && !messages.push(msg)) child.stdout.pause();
        }
      });
      child.stdout.once('end', () => {
        if (connected) end();
      });
      child.once('exit', (code) => {
        signal?.removeEventListener('abort', onAbort);
        if (connected) return;
        const why = stderr.trim().replace(/^connect: /, '');
        if (/No such file|Connection refused/.test(why)) {
          reject(new ConflictError(`cannot attach to '${path}': ${why} (the process is not running)`));
        } else reject(new UnavailableError(`cannot attach to '${path}': ${why || `relay exit code ${code}`}`));
      });
      const conn: PacketConnection = {
        messages,
        send(data) {
          return new Promise((res, rej) => {
            if (!child.stdin.writable) {
              rej(new ConflictError(`attach socket '${path}' is closed for writing`));
              return;
            }
            child.stdin.write(data, (err) => (err ? rej(err) : res()));
          });
        },
        closeWrite() {
          child.stdin.end();
        },
        destroy() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          child.stdin.destroy();
          child.stdout.destroy();
          child.stderr.destroy();
          end();
        },
      };
    });
  };
}
