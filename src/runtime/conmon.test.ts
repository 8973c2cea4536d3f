import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { conmonArgv, SyncPipeReader } from './conmon.ts';
import { decodeAttachMessage } from './attach.ts';
import { runtimeError, runtimeMessage } from './runtimecli.ts';
import { ConflictError, NotFoundError } from '../util/errors.ts';

const base = {
  cid: 'c1',
  uuid: 'c1',
  runtimePath: '/usr/sbin/runc',
  runtimeArgs: ['--root', '/run/berth/runtime/runc'],
  bundle: '/b',
  pidFile: '/s/pidfile',
  persistDir: '/s',
};

test('conmonArgv: the flags podman passes, the runtime root as --runtime-arg, the log driver', () => {
  const argv = conmonArgv({
    ...base,
    exitDir: '/x',
    conmonPidFile: '/s/conmon.pid',
    logPath: '/b/ctr.log',
    logSizeMax: 1000,
    name: 'web',
    noSyncLog: true,
  });
  assert.deepEqual(argv, [
    '--api-version',
    '1',
    '-c',
    'c1',
    '-u',
    'c1',
    '-r',
    '/usr/sbin/runc',
    '-b',
    '/b',
    '-p',
    '/s/pidfile',
    '-n',
    'web',
    '--conmon-pidfile',
    '/s/conmon.pid',
    '--exit-dir',
    '/x',
    '--persist-dir',
    '/s',
    '--full-attach',
    '--runtime-arg',
    '--root',
    '--runtime-arg',
    '/run/berth/runtime/runc',
    '-l',
    'k8s-file:/b/ctr.log',
    '--log-size-max',
    '1000',
    '--no-sync-log',
  ]);
});

test('conmonArgv: terminal, stdin, leave-stdin-open only with stdin, exec, no log', () => {
  const argv = conmonArgv({
    ...base,
    terminal: true,
    stdin: true,
    leaveStdinOpen: true,
    exec: { processSpecPath: '/e/p.json', attach: true },
  });
  assert.ok(argv.includes('-t') && argv.includes('-i') && argv.includes('--leave-stdin-open'));
  assert.deepEqual(argv.slice(-4), ['-e', '--exec-process-spec', '/e/p.json', '--exec-attach']);
  assert.deepEqual(argv.slice(argv.indexOf('-l'), argv.indexOf('-l') + 2), ['-l', 'none']);
  assert.ok(!conmonArgv({ ...base, leaveStdinOpen: true }).includes('--leave-stdin-open'));
  assert.throws(() => conmonArgv({ ...base, logPath: '/a:b/log' }), RangeError);
});

test('SyncPipeReader: JSON lines split across chunks, then end', async () => {
  const s = new PassThrough();
  const r = new SyncPipeReader(s);
  s.write('{"data": 12');
  s.write('34}\n{"data": -1, "message": "runc failed"}\n');
  s.end();
  assert.deepEqual(await r.next(), { data: 1234 });
  assert.deepEqual(await r.next(), { data: -1, message: 'runc failed' });
  assert.equal(await r.next(), undefined);
});

test('decodeAttachMessage: conmon pipe numbers', () => {
  assert.deepEqual(decodeAttachMessage(Buffer.from('\x02hi')), { stream: 'stdout', data: Buffer.from('hi') });
  assert.deepEqual(decodeAttachMessage(Buffer.from('\x03no')), { stream: 'stderr', data: Buffer.from('no') });
  assert.equal(decodeAttachMessage(Buffer.from('\x01x')), undefined);
  assert.equal(decodeAttachMessage(Buffer.alloc(0)), undefined);
});

test('runtime messages map to error kinds', () => {
  const logrus = 'time="2024-01-01T00:00:00Z" level=error msg="container does not exist"\n';
  assert.equal(runtimeMessage(logrus), 'container does not exist');
  assert.ok(runtimeError('runc', 'state', 'x', logrus, 1) instanceof NotFoundError);
  assert.ok(runtimeError('runc', 'kill', 'x', 'level=error msg="container not running"', 1) instanceof ConflictError);
  assert.ok(
    runtimeError('crun', 'state', 'x', 'error opening file `/r/x/status`: No such file or directory', 1) instanceof
      NotFoundError,
  );
  const e = runtimeError(
    'runc',
    'create',
    'x',
    'level=error msg="exec: \\"nosuch\\": executable file not found in $PATH"',
    1,
  );
  assert.ok(!(e instanceof NotFoundError));
  assert.match(e.message, /"nosuch": executable file not found/);
});
