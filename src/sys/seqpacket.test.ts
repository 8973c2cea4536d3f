import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  acceptSeqpacket,
  connectSeqpacket,
  dupFd,
  listenSeqpacket,
  MAX_SOCKET_PATH,
  readQueuedPackets,
  seqpacketSocket,
} from './index.ts';

let dir: string;
let seq = 0;
const listeners: number[] = [];
const sockets: Socket[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-seqpacket-'));
});

after(async () => {
  for (const s of sockets) s.destroy();
  for (const fd of listeners) closeSync(fd);
  await rm(dir, { recursive: true, force: true });
});

/** A listening seqpacket socket at a fresh path in `parent` (default: the test dir). */
function listen(parent = dir): { path: string; fd: number } {
  const path = join(parent, `s${seq++}`);
  const fd = listenSeqpacket(path);
  listeners.push(fd);
  return { path, fd };
}

function wrap(fd: number): Socket {
  const s = seqpacketSocket(fd);
  sockets.push(s);
  return s;
}

/** A connected pair: the client from connectSeqpacket(), the server's end from accept. */
function pair(parent?: string): { client: Socket; server: Socket } {
  const l = listen(parent);
  const client = wrap(connectSeqpacket(l.path));
  const accepted = acceptSeqpacket(l.fd);
  assert.ok(accepted !== undefined, 'the connection is queued once connect returns');
  return { client, server: wrap(accepted) };
}

/** Every 'data' chunk until 'end', each kept apart. */
function packets(s: Socket): Promise<Buffer[]> {
  const got: Buffer[] = [];
  s.on('data', (b: Buffer) => got.push(b));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(got));
    s.once('error', reject);
  });
}

function fdFlags(fd: number): Promise<number> {
  return readFile(`/proc/self/fdinfo/${fd}`, 'utf8').then((s) => parseInt(/^flags:\s*(\d+)/m.exec(s)![1]!, 8));
}

describe('connectSeqpacket', () => {
  test('errors are node-style: ENOENT, ECONNREFUSED, EPROTOTYPE for a stream socket', async () => {
    const missing = join(dir, 'nothing-here');
    assert.throws(
      () => connectSeqpacket(missing),
      (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, 'ENOENT');
        assert.equal(e.errno, -2);
        assert.equal(e.syscall, 'connect');
        assert.equal(e.path, missing);
        assert.match(e.message, /^ENOENT: .*, connect '.*nothing-here'$/);
        return true;
      },
    );

    const closed = listen();
    closeSync(listeners.pop()!); // the socket file stays, nobody listens
    assert.throws(() => connectSeqpacket(closed.path), { code: 'ECONNREFUSED', syscall: 'connect' });

    const streamPath = join(dir, 'stream.sock');
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(streamPath, r));
    try {
      assert.throws(() => connectSeqpacket(streamPath), { code: 'EPROTOTYPE' });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('descriptors are non-blocking and close-on-exec; accept says undefined when none waits', async () => {
    const l = listen();
    assert.equal(acceptSeqpacket(l.fd), undefined);
    const c = connectSeqpacket(l.path);
    const a = acceptSeqpacket(l.fd)!;
    try {
      for (const fd of [l.fd, c, a]) {
        const flags = await fdFlags(fd);
        assert.ok(flags & 0o4000, `fd ${fd} is O_NONBLOCK (flags ${flags.toString(8)})`);
        assert.ok(flags & 0o2000000, `fd ${fd} is O_CLOEXEC (flags ${flags.toString(8)})`);
      }
      assert.match(await readlink(`/proc/self/fd/${c}`), /^socket:\[\d+\]$/);
    } finally {
      closeSync(c);
      closeSync(a);
    }
  });

  test('a path longer than sun_path is reached through its directory (/proc/self/fd)', async () => {
    const deep = join(dir, 'd'.repeat(60), 'e'.repeat(60));
    await mkdir(deep, { recursive: true });
    const { client, server } = pair(deep);
    const path = join(deep, `s${seq - 1}`);
    assert.ok(Buffer.byteLength(path) > MAX_SOCKET_PATH, `${path} is ${path.length} bytes`);
    assert.ok((await stat(path)).isSocket(), 'bind made the socket at the long path itself');
    const got = packets(server);
    client.end('over a long path');
    assert.deepEqual((await got).map(String), ['over a long path']);

    const tooLong = join(deep, 'n'.repeat(100));
    assert.throws(() => connectSeqpacket(tooLong), { code: 'ENAMETOOLONG', syscall: 'connect', path: tooLong });
    assert.throws(() => connectSeqpacket(join(dir, 'no-such-dir', 'x'.repeat(120))), {
      code: 'ENOENT',
      syscall: 'open',
    });
  });
});

describe('seqpacketSocket', () => {
  test('one data event per packet, both ways, for small packets sent back to back', async () => {
    const { client, server } = pair();
    const atClient = packets(client);
    const atServer = packets(server);
    const down = ['\x02a', '\x02bb', '\x03ccc', `\x02${'d'.repeat(8192)}`, '\x02e'];
    for (const m of down) server.write(m);
    server.end();
    const up = ['x', 'yy', 'zzz'];
    for (const m of up) client.write(m);
    client.end();
    assert.deepEqual((await atClient).map(String), down);
    assert.deepEqual((await atServer).map(String), up);
  });

  test('writes buffered behind a full socket are still sent one packet each, in order', async () => {
    const { client, server } = pair();
    const n = 3000; // far more than the send buffer holds while nobody reads
    for (let i = 0; i < n; i++) client.write(`packet ${i}`);
    assert.ok(client.writableLength > 0, 'some writes had to wait for room');
    client.end();
    await new Promise((r) => setTimeout(r, 20));
    const got = await packets(server);
    assert.equal(got.length, n);
    for (const [i, b] of got.entries()) assert.equal(b.toString(), `packet ${i}`);
  });

  test('end() half-closes: the peer reads end-of-file and can still answer', async () => {
    const { client, server } = pair();
    const atClient = packets(client);
    const atServer: Buffer[] = [];
    server.on('data', (b: Buffer) => atServer.push(b));
    server.once('end', () => {
      server.write(`you sent ${atServer.length}`);
      server.end();
    });
    client.write('one');
    client.end('two');
    assert.deepEqual((await atClient).map(String), ['you sent 2']);
    assert.deepEqual(atServer.map(String), ['one', 'two']);
  });

  test('destroy() closes the descriptor', async () => {
    const l = listen();
    const fd = connectSeqpacket(l.path);
    const s = seqpacketSocket(fd);
    closeSync(acceptSeqpacket(l.fd)!);
    assert.match(await readlink(`/proc/self/fd/${fd}`), /^socket:/);
    s.destroy();
    await new Promise((r) => s.once('close', r));
    await assert.rejects(readlink(`/proc/self/fd/${fd}`), { code: 'ENOENT' });
  });

  test('a reset loses no packet: the socket fails with ECONNRESET, a dup of it still reads them in order', async () => {
    const l = listen();
    const fd = connectSeqpacket(l.path);
    const spare = dupFd(fd);
    const client = wrap(fd);
    const server = acceptSeqpacket(l.fd)!;
    try {
      assert.deepEqual(readQueuedPackets(spare), [], 'nothing queued yet');
      await new Promise<void>((r) => client.write('unread by the peer', () => r()));
      for (const m of ['one', 'two', 'three']) writeSync(server, m);
      closeSync(server); // with our packet unread: a reset for us
      const failed = await new Promise<NodeJS.ErrnoException>((r) => client.once('error', r));
      assert.equal(failed.code, 'ECONNRESET', 'reported before the packets sent ahead of it');
      assert.deepEqual(readQueuedPackets(spare).map(String), ['one', 'two', 'three']);
      assert.deepEqual(readQueuedPackets(spare), [], 'then end-of-file');
    } finally {
      closeSync(spare);
    }
    assert.throws(() => dupFd(spare), { code: 'EBADF', syscall: 'fcntl' });
  });

  test("process.binding's DEP0111 warning is held back for that call only", async () => {
    // Node reports each deprecation once a process, so the control calls process.binding() before the wrapper.
    const script = join(dir, 'warn.mjs');
    const mod = pathToFileURL(join(import.meta.dirname, 'index.ts')).href;
    await writeFile(
      script,
      `import { acceptSeqpacket, connectSeqpacket, listenSeqpacket, seqpacketSocket } from ${JSON.stringify(mod)};
       if (process.argv[2] === 'direct') process.binding('pipe_wrap');
       const path = ${JSON.stringify(join(dir, 'warn.sock'))};
       const l = listenSeqpacket(path);
       const s = seqpacketSocket(connectSeqpacket(path));
       s.destroy();
       process.emitWarning('another warning', 'DeprecationWarning', 'DEP9999');`,
    );
    const run = (...args: string[]): Promise<string> =>
      promisify(execFile)(process.execPath, ['--pending-deprecation', script, ...args]).then((r) => r.stderr);
    await rm(join(dir, 'warn.sock'), { force: true });
    const wrapped = await run();
    assert.match(wrapped, /DEP9999.*another warning/);
    assert.doesNotMatch(wrapped, /DEP0111/);
    await rm(join(dir, 'warn.sock'), { force: true });
    assert.match(await run('direct'), /DEP0111/, 'the check would see the warning');
  });
});
