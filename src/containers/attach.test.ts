import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttachFrame, AttachSession } from '../runtime/index.ts';
import { OutputCollector, RuntimeTestbed } from '../runtime/testkit.ts';
import { PendingAttaches, shareSession } from './attach.ts';

/** A session over in-memory streams: what shareSession is given, and what reached its input. */
function memorySession() {
  const got = { input: '', inputEnded: false, closed: false };
  const output = new Readable({ objectMode: true, read() {} });
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      got.input += chunk.toString();
      cb();
    },
    final(cb) {
      got.inputEnded = true;
      cb();
    },
  });
  const session: AttachSession = {
    output,
    stdin,
    close() {
      got.closed = true;
      output.push(null);
    },
  };
  return { session, got, emit: (data: string) => output.push({ stream: 'stdout', data: Buffer.from(data) }) };
}

async function text(s: AttachSession): Promise<string> {
  let out = '';
  for await (const f of s.output as AsyncIterable<AttachFrame>) out += f.data.toString();
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

test('shared sessions: each gets every frame and the end; the slowest reader sets the pace', async () => {
  const m = memorySession();
  const [a, b] = shareSession(m.session, 2, { leaveStdinOpen: false });
  for (let i = 0; i < 100; i++) m.emit(`${i},`);
  m.session.output.push(null);
  await tick();
  assert.equal(m.session.output.isPaused(), true, 'no session has read yet: the shared output waits');
  const all = Array.from({ length: 100 }, (_, i) => `${i},`).join('');
  assert.deepEqual(await Promise.all([text(a!), text(b!)]), [all, all]);
});

test('shared sessions: one input end closes the shared input unless stdin is left open; the last close closes it', async () => {
  const once = memorySession();
  const [a, b] = shareSession(once.session, 2, { leaveStdinOpen: false });
  a!.stdin.write('from a\n');
  a!.stdin.end();
  await tick();
  assert.equal(once.got.inputEnded, true, "StdinOnce: one client's EOF is the process's EOF");
  b!.stdin.write('late\n');
  await tick();
  assert.equal(once.got.input, 'from a\n');
  a!.close();
  assert.equal(once.got.closed, false, 'b is still there');
  b!.close();
  assert.equal(once.got.closed, true);

  const left = memorySession();
  const [c, d] = shareSession(left.session, 2, { leaveStdinOpen: true });
  c!.stdin.end('from c\n');
  await tick();
  assert.equal(left.got.inputEnded, false, 'stdin left open: the other client still writes');
  d!.stdin.write('from d\n');
  await tick();
  d!.close();
  await tick();
  assert.equal(left.got.input, 'from c\nfrom d\n');
  assert.equal(left.got.inputEnded, true, 'the last client gone ends the input');
});

/** These run real containers: conmon 2.1 + runc, as root, each cleaned up after. */
describe('PendingAttaches with conmon and runc', () => {
  let bed: RuntimeTestbed;
  before(async () => {
    bed = await RuntimeTestbed.create();
  });
  after(async () => {
    await bed.cleanup();
  });

  test('two clients waiting for the start both get what the process wrote before conmon ran again', async () => {
    const d = bed.driver;
    const { id, bundle, logPath } = await bed.bundle({ args: ['sh', '-c', 'echo out; exec sleep 30'] });
    const pending = new PendingAttaches();
    const gone = new AbortController();
    const waiting = [pending.wait(id), pending.wait(id), pending.wait(id, gone.signal)];
    gone.abort(new Error('client went away'));
    await assert.rejects(waiting[2]!, /client went away/);
    const { pid, conmonPid } = await d.create(id, { bundle, logPath });
    // conmon stopped (a loaded host): connections wait in its listen queue and the output in its pipe until it
    // runs again. It then accepts one connection per turn of its loop, and writes the output in the same turn.
    process.kill(conmonPid, 'SIGSTOP');
    let outs: OutputCollector[];
    try {
      await pending.handOver(id, d, { leaveStdinOpen: false });
      outs = (await Promise.all(waiting.slice(0, 2))).map((s) => new OutputCollector(s.output));
      await d.start(id);
      // `echo` is the shell's own: once the shell has become `sleep`, "out" is in conmon's pipe.
      while ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== 'sleep') await sleep(10);
    } finally {
      process.kill(conmonPid, 'SIGCONT');
    }
    await d.kill(id, 'SIGKILL');
    await d.waitExit(id);
    await Promise.all(outs.map((o) => o.ended));
    assert.deepEqual(
      outs.map((o) => o.stdout),
      ['out\n', 'out\n'],
    );
    await d.delete(id);
  });
});
