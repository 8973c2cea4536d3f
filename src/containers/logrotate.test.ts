import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keepGeneration, LogRotation, rotatedLogs } from './logrotate.ts';

/** What conmon does at max-size: a new file renamed over the log. */
async function conmonRotates(log: string, content: string): Promise<void> {
  await writeFile(`${log}.tmp`, content);
  await rename(`${log}.tmp`, log);
}

test('replaced logs are kept as .1, .2, … up to max-file - 1, oldest first in rotatedLogs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-rot-'));
  try {
    const log = join(dir, 'ctr.log');
    await writeFile(log, 'gen0\n');
    await keepGeneration(log, 3);
    for (const g of ['gen1\n', 'gen2\n', 'gen3\n']) {
      await conmonRotates(log, g);
      await keepGeneration(log, 3);
    }
    assert.deepEqual(await rotatedLogs(log), [join(dir, 'ctr.log.2'), join(dir, 'ctr.log.1')]);
    assert.equal(await readFile(join(dir, 'ctr.log.2'), 'utf8'), 'gen1\n');
    assert.equal(await readFile(join(dir, 'ctr.log.1'), 'utf8'), 'gen2\n');
    assert.equal(await readFile(log, 'utf8'), 'gen3\n');
    await keepGeneration(log, 3);
    assert.equal((await rotatedLogs(log)).length, 2, 'nothing moves while conmon has not replaced the file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('LogRotation follows conmon’s renames as they happen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-rot-'));
  const rot = new LogRotation();
  try {
    const log = join(dir, 'ctr.log');
    await writeFile(log, 'a\n');
    rot.watch('c1', log, 2);
    await new Promise((r) => setTimeout(r, 100));
    await conmonRotates(log, 'b\n');
    for (let i = 0; i < 50 && (await rotatedLogs(log)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await readFile(join(dir, 'ctr.log.1'), 'utf8'), 'a\n');
  } finally {
    rot.close();
    await rm(dir, { recursive: true, force: true });
  }
});
