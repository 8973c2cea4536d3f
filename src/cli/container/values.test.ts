import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseEnvFileText,
  parseRestartPolicy,
  parseSecurityOpts,
  parseUlimit,
  validateEnv,
  validateLabel,
  validateSysctl,
  validateAttach,
} from './values.ts';

describe('parseUlimit', () => {
  it('reads soft[:hard]', () => {
    assert.deepEqual(parseUlimit('nofile=100:200'), { Name: 'nofile', Soft: 100, Hard: 200 });
    assert.deepEqual(parseUlimit('nproc=50'), { Name: 'nproc', Soft: 50, Hard: 50 });
    assert.deepEqual(parseUlimit('core=-1'), { Name: 'core', Soft: -1, Hard: -1 });
  });
  it("fails with go-units' messages", () => {
    assert.throws(() => parseUlimit('nofile'), { message: 'invalid ulimit argument: nofile' });
    assert.throws(() => parseUlimit('bogus=1'), { message: 'invalid ulimit type: bogus' });
    assert.throws(() => parseUlimit('nofile=a'), { message: 'strconv.ParseInt: parsing "a": invalid syntax' });
    assert.throws(() => parseUlimit('nofile=1:2:3'), {
      message: 'too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`',
    });
    assert.throws(() => parseUlimit('nofile=10:5'), {
      message: 'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
    });
    assert.throws(() => parseUlimit('nofile=-1:5'), {
      message: 'ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 5',
    });
  });
});

describe('parseRestartPolicy', () => {
  it('splits name and retry count', () => {
    assert.deepEqual(parseRestartPolicy('no'), { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
    assert.deepEqual(
      parseRestartPolicy('bogus'),
      { Name: 'bogus', MaximumRetryCount: 0 },
      'names are the engine’s to check',
    );
  });
  it('refuses a bad count or a missing name', () => {
    assert.throws(() => parseRestartPolicy('on-failure:x'), {
      message: 'invalid restart policy format: maximum retry count must be an integer',
    });
    assert.throws(() => parseRestartPolicy(':3'), {
      message: 'invalid restart policy format: no policy provided before colon',
    });
  });
});

describe('env files', () => {
  it('keeps KEY=value lines literally, looks up bare keys, skips comments and a BOM', () => {
    const text = '\uFEFFA=1\n# comment\n\n  B\nC=x y # not a comment\nD\n';
    const env: Record<string, string> = { B: 'from-env' };
    assert.deepEqual(
      parseEnvFileText(text, (k) => env[k]),
      ['A=1', 'B=from-env', 'C=x y # not a comment'],
    );
  });
  it('refuses names with blanks or no name', () => {
    assert.throws(() => parseEnvFileText('A B=1\n', undefined), { message: "variable 'A B' contains whitespaces" });
    assert.throws(() => parseEnvFileText('=1\n', undefined), { message: "no variable name on line '=1'" });
  });
  it('-e takes a bare name from the environment', () => {
    assert.equal(
      validateEnv('X', (k) => (k === 'X' ? 'y' : undefined)),
      'X=y',
    );
    assert.equal(
      validateEnv('X', () => undefined),
      'X',
    );
    assert.throws(() => validateEnv('=x', () => undefined), { message: 'invalid environment variable: =x' });
  });
});
describe('other value checks', () => {
  it('labels, sysctls, attach streams', () => {
    assert.throws(() => validateLabel('=x'), { message: "invalid label '=x': empty name" });
    assert.throws(() => validateLabel('a b=1'), { message: "label 'a b' contains whitespaces" });
    assert.equal(validateSysctl('net.ipv4.ip_forward=1'), 'net.ipv4.ip_forward=1');
    assert.throws(() => validateSysctl('kernel.pid_max=1'), { message: "sysctl 'kernel.pid_max=1' is not allowed" });
    assert.equal(validateAttach('STDOUT'), 'stdout');
    assert.throws(() => validateAttach('x'), { message: 'valid streams are STDIN, STDOUT and STDERR' });
  });
  it('security options, reading a seccomp profile inline', () => {
    const files: Record<string, string> = { '/p.json': '{ "defaultAction": "SCMP_ACT_ALLOW" }' };
    const read = (p: string): string => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return t;
    };
    assert.deepEqual(parseSecurityOpts(['no-new-privileges', 'seccomp=/p.json', 'seccomp=unconfined'], read), [
      'no-new-privileges',
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}',
      'seccomp=unconfined',
    ]);
    assert.throws(() => parseSecurityOpts(['foo'], read), { message: 'Invalid --security-opt: "foo"' });
    assert.throws(() => parseSecurityOpts(['seccomp=/none'], read), {
      message: 'opening seccomp profile (/none) failed: open /none: no such file or directory',
    });
  });
});
