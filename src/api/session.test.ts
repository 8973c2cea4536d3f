import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { UnavailableError } from '../util/errors.ts';
import { pipeSession, type StdioSession } from './session.ts';
import { frame, STDOUT, SYSTEMERR } from './stdcopy.ts';

/** A session whose output gives `frames`, then fails with `err` (or ends). */
function sessionOf(
  frames: { stream: 'stdout' | 'stderr'; data: Buffer }[],
  err?: Error,
): StdioSession & { closed: boolean } {
  const output = new Readable({ objectMode: true, read() {} });
  for (const f of frames) output.push(f);
  if (err) setImmediate(() => output.destroy(err));
  else output.push(null);
  const s = {
    output,
    stdin: new Writable({ write: (_c, _e, cb) => cb() }),
    closed: false,
    close() {
      s.closed = true;
    },
  };
  return s;
}

async function collect(stream: PassThrough): Promise<Buffer> {
  const got: Buffer[] = [];
  for await (const c of stream) got.push(c as Buffer);
  return Buffer.concat(got);
}

const opts = { multiplexed: true, stdout: true, stderr: true, stdin: false, detachKeys: [] };

test('pipeSession: the output framed, then the end', async () => {
  const stream = new PassThrough();
  const done = collect(stream);
  await pipeSession(sessionOf([{ stream: 'stdout', data: Buffer.from('ok\n') }]), stream, opts);
  assert.deepEqual(await done, frame(STDOUT, Buffer.from('ok\n')));
});

test('pipeSession: an output that fails ends the stream with an error frame naming why, and closes the session', async () => {
  const stream = new PassThrough();
  const done = collect(stream);
  const s = sessionOf([{ stream: 'stdout', data: Buffer.from('part\n') }], new UnavailableError('output lost'));
  await pipeSession(s, stream, opts);
  assert.deepEqual(
    await done,
    Buffer.concat([frame(STDOUT, Buffer.from('part\n')), frame(SYSTEMERR, Buffer.from('output lost\n'))]),
  );
  assert.equal(s.closed, true);
});
