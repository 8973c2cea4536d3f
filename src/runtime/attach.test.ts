import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptSeqpacket, listenSeqpacket, seqpacketSocket } from '../sys/index.ts';
import { CanceledError, ConflictError, UnavailableError } from '../util/errors.ts';
import {
  attachSession,
  MAX_INPUT_MESSAGE,
  nativeSeqpacketDialer,
  perlSeqpacketDialer,
  type AttachFrame,
  type AttachSession,
  type SeqpacketDialer,
} from './attach.ts';

/**
 * The dialers against a stand-in for conmon's attach socket, made with the same FFI: a SOCK_SEQPACKET listener
 * whose accepted side sends messages as conmon does (pipe byte + output) and records what arrives.
 */

let dir: string;
let seq = 0;
const cleanups: (() => void)[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-attach-'));
});

after(async () => {
  for (const c of cleanups.reverse()) c();
  await rm(dir, { recursive: true, force: true });
});

interface FakeConmon {
  path: string;
  /** The next client, accepted as conmon would (the perl dialer connects from its own process, a bit later). */
  accept(): Promise<Socket>;
  /** The next client's descriptor, for writes and a close with no event loop in between. */
  acceptFd(): Promise<number>;
}

function fakeConmon(parent = dir): FakeConmon {
  const path = join(parent, `attach${seq++}`);
  const fd = listenSeqpacket(path);
  cleanups.push(() => closeSync(fd));
  const acceptFd = async (): Promise<number> => {
    for (let i = 0; i < 1000; i++) {
      const c = acceptSeqpacket(fd);
      if (c !== undefined) return c;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`nobody connected to ${path}`);
  };
  return {
    path,
    acceptFd,
    async accept() {
      const s = seqpacketSocket(await acceptFd());
      cleanups.push(() => s.destroy());
      return s;
    },
  };
}

/** Every message the server reads until the client's end-of-file. */
function received(s: Socket): Promise<Buffer[]> {
  const got: Buffer[] = [];
  s.on('data', (b: Buffer) => got.push(b));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(got));
    s.once('error', reject);
  });
}

/** Every frame of the session's output until it ends. */
async function frames(session: AttachSession): Promise<AttachFrame[]> {
  const got: AttachFrame[] = [];
  for await (const f of session.output) got.push(f as AttachFrame);
  return got;
}

const text = (fs: AttachFrame[]): string[] => fs.map((f) => `${f.stream}:${f.data.toString()}`);
const msg = (pipe: number, s: string): Buffer => Buffer.concat([Buffer.from([pipe]), Buffer.from(s)]);

test('native dialer: a connection conmon never accepted fails its output instead of ending it empty', async () => {
  // conmon closes its listening socket (it exits) with the connection still queued: the kernel resets it.
  const path = join(dir, `attach${seq++}`);
  const fd = listenSeqpacket(path);
  const session = attachSession(await nativeSeqpacketDialer()(path));
  closeSync(fd);
  await assert.rejects(
    frames(session),
    (e: Error) => e instanceof UnavailableError && /never accepted/.test(e.message),
  );
});

test('native dialer: a connection accepted and closed with nothing sent either way ends cleanly, empty', async () => {
  const conmon = fakeConmon();
  const session = attachSession(await nativeSeqpacketDialer()(conmon.path));
  closeSync(await conmon.acceptFd());
  assert.deepEqual(await frames(session), []);
});

const dialers: [string, () => SeqpacketDialer][] = [
  ['native', () => nativeSeqpacketDialer()],
  ['perl', () => perlSeqpacketDialer()],
];

for (const [name, makeDialer] of dialers) {
  describe(`${name} dialer`, () => {
    const dial = makeDialer();

    test('output frames keep their stream and their boundaries; the output ends when conmon closes', async () => {
      const conmon = fakeConmon();
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.accept();
      const out = frames(session);
      const sent = ['a', 'bb', 'ccc', 'x'.repeat(8192), 'last'];
      for (const [i, s] of sent.entries()) server.write(msg(i === 1 ? 3 : 2, s));
      server.write(msg(5, 'a pipe conmon does not send is skipped'));
      server.end();
      assert.deepEqual(
        text(await out),
        sent.map((s, i) => `${i === 1 ? 'stderr' : 'stdout'}:${s}`),
      );
    });

    test('stdin goes in messages of at most 32 KiB, and end() is end-of-file at conmon', async () => {
      const conmon = fakeConmon();
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.accept();
      const input = received(server);
      const out = frames(session);
      const big = Buffer.alloc(100_000, 'y');
      session.stdin.write('small\n');
      session.stdin.end(big);
      const got = await input;
      assert.ok(
        got.every((m) => m.length <= MAX_INPUT_MESSAGE),
        `sizes ${got.map((m) => m.length).join(',')}`,
      );
      assert.equal(Buffer.concat(got).toString(), `small\n${big.toString()}`);
      // After our end-of-file the output still flows (cat's last line comes after its stdin closed).
      server.end(msg(2, 'after eof'));
      assert.deepEqual(text(await out), ['stdout:after eof']);
    });

    test('a slow reader loses nothing and keeps the order', async () => {
      const conmon = fakeConmon();
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.accept();
      const n = 2000;
      for (let i = 0; i < n; i++) server.write(msg(2, `line ${i}\n`));
      server.end();
      await new Promise((r) => setTimeout(r, 100)); // nobody reads meanwhile
      const got = await frames(session);
      assert.equal(got.length, n);
      for (const [i, f] of got.entries()) assert.equal(f.data.toString(), `line ${i}\n`);
    });

    test('close() detaches: conmon reads end-of-file and the output ends', async () => {
      const conmon = fakeConmon();
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.accept();
      const input = received(server);
      const ended = new Promise((r) => session.output.once('end', r));
      session.output.resume();
      session.stdin.write('typed\n');
      await new Promise((r) => setTimeout(r, 50));
      session.close();
      assert.deepEqual((await input).map(String), ['typed\n']);
      await ended;
    });

    test('a missing or dead socket is a conflict (the process is not running)', async () => {
      await assert.rejects(dial(join(dir, 'no-such-attach')), ConflictError);
      const conmon = fakeConmon();
      cleanups.pop()!(); // conmon is gone; its socket file stays
      await assert.rejects(
        dial(conmon.path),
        (e: unknown) => e instanceof ConflictError && /not running/.test((e as Error).message),
      );
    });

    test('a socket path longer than sun_path works', async () => {
      const deep = join(dir, 'l'.repeat(70), 'm'.repeat(40));
      await mkdir(deep, { recursive: true });
      const conmon = fakeConmon(deep);
      assert.ok(Buffer.byteLength(conmon.path) > 107);
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.accept();
      const out = frames(session);
      server.end(msg(2, 'deep'));
      assert.deepEqual(text(await out), ['stdout:deep']);
      session.close();
    });
  });
}

describe('nativeSeqpacketDialer', () => {
  test('conmon closing with our input unread (a reset) still delivers the output it sent last', async () => {
    const conmon = fakeConmon();
    const session = attachSession(await nativeSeqpacketDialer()(conmon.path));
    const server = await conmon.acceptFd();
    const out = frames(session);
    await new Promise<void>((r) => session.stdin.write('typed while the process exits\n', () => r()));
    // The process prints its last lines and exits; conmon sends them and closes, our input still unread.
    writeSync(server, msg(2, 'last 1\n'));
    writeSync(server, msg(3, 'last 2\n'));
    closeSync(server);
    assert.deepEqual(text(await out), ['stdout:last 1\n', 'stderr:last 2\n']);
  });

  test('no descriptor outlives its session, however it ended', async () => {
    const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
    const conmon = fakeConmon();
    const dial = nativeSeqpacketDialer();
    const before = await openFds();
    for (let i = 0; i < 10; i++) {
      const session = attachSession(await dial(conmon.path));
      const server = await conmon.acceptFd();
      const out = frames(session);
      if (i % 3 === 0)
        session.close(); // detached
      else {
        if (i % 3 === 1) await new Promise<void>((r) => session.stdin.write('x', () => r())); // unread: a reset
        writeSync(server, msg(2, 'o'));
      }
      closeSync(server);
      assert.deepEqual(text(await out), i % 3 === 0 ? [] : ['stdout:o']);
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await openFds(), before);
  });

  test('an aborted signal cancels; a message over 32 KiB is refused, not cut', async () => {
    const conmon = fakeConmon();
    const dial = nativeSeqpacketDialer();
    await assert.rejects(dial(conmon.path, { signal: AbortSignal.abort() }), CanceledError);
    const conn = await dial(conmon.path);
    const server = await conmon.accept();
    const input = received(server);
    await assert.rejects(conn.send(new Uint8Array(MAX_INPUT_MESSAGE + 1)), RangeError);
    await conn.send(new Uint8Array(0)); // nothing is sent: an empty message would read as end-of-file
    await conn.send(Buffer.from('ok'));
    conn.closeWrite();
    assert.deepEqual((await input).map(String), ['ok']);
    await assert.rejects(conn.send(Buffer.from('late')), ConflictError);
    conn.destroy();
  });
});
