import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../util/errors.ts';
import {
  commandLine,
  generateName,
  createEnv,
  mergeEnv,
  mergeImageConfig,
  parseBind,
  validateHostConfig,
  validateName,
  checkCreateRequest,
} from './config.ts';

test('names: docker rule, leading slash dropped; generated names avoid taken ones', () => {
  assert.equal(validateName('/web'), 'web');
  assert.equal(validateName('a.b-c_d'), 'a.b-c_d');
  assert.throws(() => validateName('x'), /Invalid container name \(x\)/);
  assert.throws(() => validateName('bad name'), /Invalid container name/);
  const taken = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const n = generateName((x) => taken.has(x));
    assert.ok(!taken.has(n));
    assert.match(n, /^[a-z]+_[a-z]+\d?$|^berth_[0-9a-f]{12}$/);
    taken.add(n);
  }
});

test('env merges by key, request wins', () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3']), ['PATH=/bin', 'A=2', 'B=3']);
});

test("a container's env is the request's first, then the image's it does not set (dockerd's order)", () => {
  assert.deepEqual(createEnv(['PATH=/bin', 'A=1'], ['B=3', 'A=2']), ['B=3', 'A=2', 'PATH=/bin']);
  assert.deepEqual(createEnv(['PATH=/bin'], []), ['PATH=/bin']);
  assert.deepEqual(
    mergeImageConfig({ Env: ['A=1'] }, { Env: ['PATH=/bin'] }).Env,
    ['A=1', 'PATH=/bin'],
    'inspect shows A=1 first, as dockerd',
  );
});

test("entrypoint and cmd follow docker's rules", () => {
  const image = {
    Entrypoint: ['/entry'],
    Cmd: ['default'],
    Env: ['PATH=/bin'],
    WorkingDir: '/app',
    User: 'app',
    Labels: { a: '1' },
    StopSignal: 'SIGQUIT',
  };
  const plain = mergeImageConfig({ Image: 'x' }, image);
  assert.deepEqual(commandLine(plain), ['/entry', 'default']);
  assert.equal(plain.WorkingDir, '/app');
  assert.equal(plain.User, 'app');
  assert.equal(plain.StopSignal, 'SIGQUIT');
  assert.deepEqual(commandLine(mergeImageConfig({ Cmd: ['other'] }, image)), ['/entry', 'other']);
  assert.deepEqual(commandLine(mergeImageConfig({ Entrypoint: ['/new'] }, image)), ['/new'], "image's Cmd is dropped");
  assert.deepEqual(
    commandLine(mergeImageConfig({ Entrypoint: [], Cmd: ['ls'] }, image)),
    ['ls'],
    'empty entrypoint clears it',
  );
  assert.deepEqual(mergeImageConfig({ Labels: { b: '2' }, User: 'root' }, image).Labels, { a: '1', b: '2' });
  assert.throws(() => commandLine(mergeImageConfig({}, {})), /no command specified/);
});

test('binds: forms, modes and errors', () => {
  assert.deepEqual(parseBind('/host:/ctr:ro'), {
    source: '/host',
    target: '/ctr',
    kind: 'bind',
    readOnly: true,
    modes: [],
  });
  assert.deepEqual(parseBind('data:/var/lib/x'), {
    source: 'data',
    target: '/var/lib/x',
    kind: 'volume',
    readOnly: false,
    modes: [],
  });
  assert.deepEqual(parseBind('/anon'), { source: '', target: '/anon', kind: 'volume', readOnly: false, modes: [] });
  assert.deepEqual(parseBind('/h:/c:rw,rshared').modes, ['rshared']);
  assert.throws(() => parseBind('/h:relative'), /mount path must be absolute/);
  assert.throws(() => parseBind('/h:/c:bogus'), /invalid mode: bogus/);
  assert.throws(() => parseBind('a:b:c:d'), /invalid volume specification/);
  assert.throws(() => parseBind('/h:/'), /destination can't be '\/'/);
  assert.throws(() => parseBind('x:/c'), /includes invalid characters/);
});

test('host config validation names the bad value', () => {
  assert.throws(
    () => validateHostConfig({ RestartPolicy: { Name: 'sometimes' as never } }),
    /unknown policy 'sometimes'/,
  );
  assert.throws(
    () => validateHostConfig({ RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } }),
    /only be used with 'on-failure'/,
  );
  assert.throws(
    () => validateHostConfig({ RestartPolicy: { Name: 'always' }, AutoRemove: true }),
    /both --restart and --rm/,
  );
  assert.throws(() => validateHostConfig({ Memory: 1024 }), /Minimum memory limit allowed is 6MB/);
  assert.throws(
    () => validateHostConfig({ Memory: 64 << 20, MemorySwap: 32 << 20 }),
    /memoryswap limit should be larger/,
  );
  assert.throws(() => validateHostConfig({ NanoCpus: -1 }), /range of CPUs must be positive/);
  assert.throws(() => validateHostConfig({ Mounts: [{ Type: 'bind', Target: '/x' }] }), /Source must not be empty/);
  assert.throws(() => validateHostConfig({ Mounts: [{ Type: 'weird' as never, Target: '/x' }] }), /mount type unknown/);
  validateHostConfig({
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
    Memory: 32 << 20,
    MemorySwap: -1,
    Binds: ['/tmp:/tmp:ro'],
  });
});

test("the request's runtime: a known one, else dockerd's error; one that failed its probe (serving only the containers it runs) is refused too", () => {
  const runtimes = new Map<string, { unusable?: string }>([
    ['runc', {}],
    ['crun', { unusable: 'runtime crun does not work on this host: ...' }],
  ]);
  const ctx = { runtimes, defaultRuntime: 'runc', init: false };
  assert.equal(checkCreateRequest({ Image: 'busybox' }, ctx).Runtime, 'runc');
  for (const name of ['crun', 'kata'])
    assert.throws(
      () => checkCreateRequest({ Image: 'busybox', HostConfig: { Runtime: name } }, ctx),
      (e: unknown) => e instanceof InvalidArgumentError && e.message === `unknown or invalid runtime name: ${name}`,
    );
});
