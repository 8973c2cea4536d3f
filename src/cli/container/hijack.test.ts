import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { frame } from '../../client/index.ts';
import type { EngineClient } from '../../client/index.ts';
import {
  DetachedError,
  EscapeMatcher,
  detachKeyBytes,
  forceExitAfter3Signals,
  forwardSignals,
  streamHijacked,
  type TerminalInput,
} from './hijack.ts';

describe('detach keys', () => {
  it("parses moby/term's key names", () => {
    assert.deepEqual([...detachKeyBytes('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...detachKeyBytes('a,ctrl-@,ctrl-\\,DEL')], [97, 0, 28, 127]);
    assert.throws(() => detachKeyBytes('ctrl-1'), { message: "Unknown character: 'ctrl-1'" });
  });

  it('detects the sequence across chunks, holding back a partial match', () => {
    const m = new EscapeMatcher(Uint8Array.of(16, 17));
    const a = m.feed(Buffer.from('ab\x10'));
    assert.deepEqual([a.data.toString(), a.detached], ['ab', false]);
    const b = m.feed(Buffer.from('\x11rest'));
    assert.deepEqual([b.data.toString(), b.detached], ['', true]);
  });

  it('passes on a partial match that is broken, without rescanning the breaking byte (as moby/term)', () => {
    const m = new EscapeMatcher(Uint8Array.of(16, 17));
    assert.deepEqual(m.feed(Buffer.from('\x10x')).data, Buffer.from('\x10x'));
    const twice = m.feed(Buffer.from('\x10\x10\x11'));
    assert.equal(twice.detached, false);
    assert.deepEqual(twice.data, Buffer.from('\x10\x10\x11'));
    const keys = new EscapeMatcher(detachKeyBytes('ctrl-a,x'));
    assert.equal(keys.feed(Buffer.from('hello\x01x')).detached, true);
  });
});

let dir = '';
let server: net.Server;
let serverSide: Promise<net.Socket>;
let acceptNext: (s: net.Socket) => void = () => {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-hj-'));
  server = net.createServer({ allowHalfOpen: true }, (s) => acceptNext(s));
  await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
});

after(async () => {
  // Remove the directory first: close() waits for every accepted socket, and a test may leave one open.
  await rm(dir, { recursive: true, force: true });
  server.close();
  server.unref();
});

async function pair(): Promise<{ client: net.Socket; peer: net.Socket }> {
  serverSide = new Promise((resolve) => (acceptNext = resolve));
  const client = net.createConnection(join(dir, 's.sock'));
  await new Promise((resolve) => client.once('connect', resolve));
  return { client, peer: await serverSide };
}

function sink(): Writable & { text(): string } {
  let buf = '';
  return Object.assign(
    new Writable({
      write(c: Buffer, _e, cb) {
        buf += c.toString();
        cb();
      },
    }),
    { text: () => buf },
  );
}

describe('streamHijacked', () => {
  it('copies stdin up, half-closes, and finishes when the engine closes after replying', async () => {
    const { client, peer } = await pair();
    let got = '';
    peer.on('data', (d: Buffer) => (got += d.toString()));
    peer.on('end', () => peer.end(Buffer.concat([frame(1, `echo:${got}`), frame(2, 'e')])));
    const out = sink();
    const err = sink();
    await streamHijacked({
      conn: { socket: client, contentType: undefined },
      input: new PassThrough().end('abc'),
      output: out,
      error: err,
      tty: false,
      detachKeys: '',
    });
    assert.equal(out.text(), 'echo:abc');
    assert.equal(err.text(), 'e');
  });

  it('half-closes at once when there is no stdin', async () => {
    const { client, peer } = await pair();
    peer.on('end', () => peer.end(frame(1, 'bye')));
    const out = sink();
    await streamHijacked({
      conn: { socket: client, contentType: undefined },
      input: undefined,
      output: out,
      error: undefined,
      tty: false,
      detachKeys: '',
    });
    assert.equal(out.text(), 'bye');
  });

  it('with a TTY: raw mode on and off, raw output, and the detach keys end it with DetachedError', async () => {
    const { client, peer } = await pair();
    let got = '';
    peer.on('data', (d: Buffer) => {
      got += d.toString();
      peer.write('typed');
    });
    const input = new PassThrough() as PassThrough & TerminalInput;
    const modes: boolean[] = [];
    input.isTTY = true;
    input.setRawMode = (m: boolean) => modes.push(m);
    const out = sink();
    const done = streamHijacked({
      conn: { socket: client, contentType: undefined },
      input,
      output: out,
      error: out,
      tty: true,
      detachKeys: '',
    });
    input.write('ls\n');
    await new Promise((r) => setTimeout(r, 30));
    input.write('\x10\x11');
    await assert.rejects(done, (e: unknown) => e instanceof DetachedError && e.message === 'read escape sequence');
    assert.equal(got, 'ls\n');
    assert.equal(out.text(), 'typed');
    assert.deepEqual(modes, [true, false]);
    assert.equal(client.destroyed, true);
  });
});

describe('signals', () => {
  it('forwards each signal as a kill request without the SIG prefix, until stopped', async () => {
    const proc = new EventEmitter();
    const sent: string[] = [];
    const client = {
      containerKill: async (id: string, sig?: string) => void sent.push(`${id}:${sig}`),
    } as unknown as EngineClient;
    const stop = forwardSignals(client, 'c1', proc as unknown as NodeJS.Process);
    proc.emit('SIGTERM');
    proc.emit('SIGUSR2');
    stop();
    proc.emit('SIGTERM');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sent, ['c1:TERM', 'c1:USR2']);
  });

  it('gives up after the third SIGINT/SIGTERM like docker', () => {
    const proc = Object.assign(new EventEmitter(), { exit: (code: number) => void exits.push(code) });
    const exits: number[] = [];
    let text = '';
    const stop = forceExitAfter3Signals({ write: (t) => void (text += t) }, proc as unknown as NodeJS.Process);
    proc.emit('SIGINT');
    proc.emit('SIGTERM');
    assert.deepEqual(exits, []);
    proc.emit('SIGINT');
    assert.deepEqual(exits, [1]);
    assert.equal(text, 'got 3 SIGTERM/SIGINTs, forcefully exiting\n');
    stop();
  });
});
