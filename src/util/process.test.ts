import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CanceledError } from './errors.ts';
import { runProcess } from './process.ts';

test('runProcess: output and exit code collected, input on stdin, a non-zero exit resolves', async () => {
  const r = await runProcess('sh', ['-c', 'cat; echo err >&2; exit 3'], { input: 'in' });
  assert.deepEqual(r, { code: 3, signal: null, stdout: 'in', stderr: 'err\n' });
  const quiet = await runProcess('sh', ['-c', 'test -t 0 || read x || echo eof']);
  assert.equal(quiet.stdout, 'eof\n', 'without input, stdin is /dev/null');
});

test('runProcess: a program that cannot start rejects; an abort kills the child and rejects as canceled', async () => {
  await assert.rejects(runProcess('/nonexistent/program', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  const ac = new AbortController();
  const started = Date.now();
  const p = runProcess('sh', ['-c', 'trap "" TERM; exec sleep 30'], { signal: ac.signal, killGraceMs: 100 });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(p, CanceledError);
  assert.ok(Date.now() - started < 10_000, 'SIGKILL after the grace, the TERM being ignored');
  await assert.rejects(runProcess('true', [], { signal: AbortSignal.abort() }), CanceledError);
});
