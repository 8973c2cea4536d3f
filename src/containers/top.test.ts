import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { BerthError } from '../util/errors.ts';
import { checkPsArgs, parsePsOutput, top } from './top.ts';

test("ps output: the container's rows (and the thread rows under them), the last field taking the rest", () => {
  const out = [
    '  PID TID COMMAND',
    '    1   - init',
    '    -   1 init-thread',
    '   42   - sleep 60',
    '    -  42 -',
    '    -  43 worker  two',
    '   50   - other',
    '    -  50 -',
    '',
  ].join('\n');
  assert.deepEqual(parsePsOutput(out, [42]), {
    Titles: ['PID', 'TID', 'COMMAND'],
    Processes: [
      ['42', '-', 'sleep 60'],
      ['-', '42', '-'],
      ['-', '43', 'worker two'],
    ],
  });
  assert.throws(() => parsePsOutput('COMMAND\nsleep\n', [1]), /Couldn't find PID field in ps output/);
  assert.throws(() => parsePsOutput('PID CMD\nx y\n', [1]), /Unexpected pid 'x'/);
});

test('ps_args: a PID column renamed other than pid= is refused, as dockerd refuses it', () => {
  assert.throws(
    () => checkPsArgs('-o user=PID'),
    (e: unknown) => e instanceof BerthError && /"user=PID"/.test(e.message),
  );
  checkPsArgs('-o pid=PID,comm');
  checkPsArgs('aux');
});

test("the host's ps over given PIDs: default -ef, ps_args, and ps's own error", async () => {
  const child = spawn('sleep', ['30']);
  try {
    const pid = child.pid!;
    const ef = await top([pid]);
    assert.deepEqual(ef.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.equal(ef.Processes.length, 1);
    assert.equal(ef.Processes[0]?.[1], String(pid));
    assert.equal(ef.Processes[0]?.[7], 'sleep 30');
    assert.deepEqual(await top([pid], '-o pid,comm'), {
      Titles: ['PID', 'COMMAND'],
      Processes: [[String(pid), 'sleep']],
    });
    await assert.rejects(top([pid], '--nosuch'), /^BerthError: ps: error: /);
    await assert.rejects(top([pid], '-o comm'), /Couldn't find PID field/);
  } finally {
    child.kill();
  }
});
