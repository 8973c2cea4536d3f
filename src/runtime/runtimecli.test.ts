import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import {
  OciRuntimeError,
  ProcessStartError,
  processStartError,
  runtimeError,
  inRuncWords,
  startFailureCode,
} from './runtimecli.ts';

test("startFailureCode: dockerd's 127 for a missing program, file or a file mounted on a directory, 126 for no permission", () => {
  assert.equal(startFailureCode('exec: "nosuchcmd": executable file not found in $PATH'), 127);
  assert.equal(startFailureCode('exec: "/x/y": stat /x/y: no such file or directory'), 127);
  assert.equal(startFailureCode('error mounting "/a" to rootfs at "/etc/hosts": not a directory'), 127);
  assert.equal(startFailureCode('exec: "/etc": permission denied'), 126);
  assert.equal(startFailureCode('cgroup: cannot set memory limit: device or resource busy'), undefined);
});

test('processStartError: a ProcessStartError (a bad argument) with the code, else the runtime error it was', () => {
  const e = processStartError('runc: exec: "nosuchcmd": executable file not found in $PATH');
  assert.ok(e instanceof ProcessStartError && e instanceof InvalidArgumentError);
  assert.equal((e as ProcessStartError).exitCode, 127);
  assert.equal(e.message, 'runc: exec: "nosuchcmd": executable file not found in $PATH');
  const other = processStartError('runc: cgroup busy');
  assert.ok(other instanceof OciRuntimeError && !(other instanceof ProcessStartError));
});

test("runtimeError: `start`'s exec failures are the process's; the other verbs' keep their kinds", () => {
  const start = runtimeError(
    'runc',
    'start',
    'c1',
    'level=error msg="exec failed: exec: \\"/etc\\": permission denied"',
    1,
  );
  assert.ok(start instanceof ProcessStartError);
  assert.equal((start as ProcessStartError).exitCode, 126);
  assert.ok(runtimeError('runc', 'start', 'c1', 'container does not exist', 1) instanceof NotFoundError);
  assert.ok(runtimeError('runc', 'kill', 'c1', 'container not running', 1) instanceof ConflictError);
  assert.ok(
    !(runtimeError('runc', 'delete', 'c1', 'open /run/x: no such file or directory', 1) instanceof ProcessStartError),
  );
});

test("inRuncWords: crun 1.8's start failures in runc's words, which the docker CLI reads its 126/127 from", () => {
  assert.equal(
    inRuncWords('executable file `nosuchcmd` not found in $PATH: No such file or directory'),
    'exec: "nosuchcmd": executable file not found in $PATH',
  );
  assert.equal(
    inRuncWords('executable file `/no/such` not found in $PATH: No such file or directory'),
    'exec: "/no/such": stat /no/such: no such file or directory',
  );
  assert.equal(inRuncWords('open executable: Operation not permitted'), 'exec: open executable: permission denied');
  assert.equal(inRuncWords('cgroup busy'), 'cgroup busy');
  const denied = processStartError(`crun: ${inRuncWords('open executable: Operation not permitted')}`);
  assert.ok(denied instanceof ProcessStartError && denied.exitCode === 126);
  // crun's other words, in kinds: a kill of a stopped container, a missing one
  assert.ok(runtimeError('crun', 'kill', 'c1', 'open pidfd: No such process', 1) instanceof ConflictError);
  assert.ok(
    runtimeError(
      'crun',
      'state',
      'c1',
      'error opening file `/run/x/c1/status`: No such file or directory',
      1,
    ) instanceof NotFoundError,
  );
});
