import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTimestampNano, parseLogLine, parseTimestampNano, readLog, type LogEntry } from './logs.ts';

const line = (ts: string, stream: string, tag: string, msg: string): string => `${ts} ${stream} ${tag} ${msg}\n`;

test('parseTimestampNano keeps all nine digits and honours the offset', () => {
  assert.equal(parseTimestampNano('1970-01-01T00:00:01.000000002+00:00'), 1_000_000_002n);
  assert.equal(parseTimestampNano('1970-01-01T01:00:01.5+01:00'), 1_500_000_000n);
  assert.equal(parseTimestampNano('2024-05-01T10:54:58Z'), BigInt(Date.parse('2024-05-01T10:54:58Z')) * 1_000_000n);
  assert.throws(() => parseTimestampNano('2024-05-01 10:54:58'), SyntaxError);
  assert.equal(formatTimestampNano(1_000_000_002n), '1970-01-01T00:00:01.000000002Z');
});

test('parseLogLine: stream, partial flag, message bytes (spaces kept, empty lines too)', () => {
  const e = parseLogLine(Buffer.from('2024-05-01T10:54:58.569655813+00:00 stderr P  two  spaces '));
  assert.equal(e.stream, 'stderr');
  assert.equal(e.partial, true);
  assert.equal(e.message.toString(), ' two  spaces ');
  assert.equal(e.time, '2024-05-01T10:54:58.569655813+00:00');
  const empty = parseLogLine(Buffer.from('2024-05-01T10:54:58.569655813+00:00 stdout F '));
  assert.equal(empty.message.length, 0);
  assert.equal(empty.partial, false);
  assert.throws(() => parseLogLine(Buffer.from('2024-05-01T10:54:58Z stdin F x')), SyntaxError);
  assert.throws(() => parseLogLine(Buffer.from('garbage')), SyntaxError);
});

async function all(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.stream}:${e.message.toString()}`);
  return out;
}

test('readLog: tail, since, until, skipping lines that do not parse', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const p = join(dir, 'ctr.log');
  await writeFile(
    p,
    line('2024-01-01T00:00:01.000000000+00:00', 'stdout', 'F', 'a') +
      'not a log line\n' +
      line('2024-01-01T00:00:02.000000000+00:00', 'stderr', 'F', 'b') +
      line('2024-01-01T00:00:03.000000000+00:00', 'stdout', 'P', 'c') +
      line('2024-01-01T00:00:04.000000000+00:00', 'stdout', 'F', 'd'),
  );
  assert.deepEqual(await all(readLog(p)), ['stdout:a', 'stderr:b', 'stdout:c', 'stdout:d']);
  assert.deepEqual(await all(readLog(p, { tail: 2 })), ['stdout:c', 'stdout:d']);
  assert.deepEqual(await all(readLog(p, { tail: 0 })), []);
  assert.deepEqual(await all(readLog(p, { tail: 100 })), ['stdout:a', 'stderr:b', 'stdout:c', 'stdout:d']);
  const ns = (s: string): bigint => parseTimestampNano(s);
  assert.deepEqual(await all(readLog(p, { since: ns('2024-01-01T00:00:02Z') })), ['stderr:b', 'stdout:c', 'stdout:d']);
  assert.deepEqual(await all(readLog(p, { until: ns('2024-01-01T00:00:03Z') })), ['stdout:a', 'stderr:b']);
  assert.deepEqual(await all(readLog(join(dir, 'absent.log'))), []);
});

test('readLog follow: appended lines, a replaced (rotated) file, and stopWhen ending it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const p = join(dir, 'ctr.log');
  await writeFile(p, line('2024-01-01T00:00:01Z', 'stdout', 'F', 'one'));
  let stop = false;
  const got: string[] = [];
  const reading = (async () => {
    for await (const e of readLog(p, { follow: true, pollMs: 20, stopWhen: async () => stop }))
      got.push(e.message.toString());
  })();
  const until = async (n: number): Promise<void> => {
    for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  await until(1);
  await appendFile(p, line('2024-01-01T00:00:02Z', 'stdout', 'F', 'two'));
  await until(2);
  // conmon's --log-size-max: a new file renamed over the old one
  await writeFile(`${p}.tmp`, line('2024-01-01T00:00:03Z', 'stdout', 'F', 'three'));
  await rename(`${p}.tmp`, p);
  await until(3);
  await appendFile(p, line('2024-01-01T00:00:04Z', 'stdout', 'F', 'four'));
  stop = true; // written before the stop condition held: still read
  await reading;
  assert.deepEqual(got, ['one', 'two', 'three', 'four']);
});

test('readLog follow ends on abort', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const p = join(dir, 'ctr.log');
  await writeFile(p, '');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(all(readLog(p, { follow: true, signal: ac.signal })), { name: 'CanceledError' });
});
