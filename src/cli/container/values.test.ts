import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCPUs,
  parseCSVLine,
  parseDevice,
  parseEnvFileText,
  parseGoDuration,
  parseMount,
  parseRestartPolicy,
  parseSecurityOpts,
  parseUlimit,
  parseVolumeSpec,
  ramInBytes,
  memSwapBytes,
  splitVolumes,
  validateEnv,
  validateLabel,
  validateSysctl,
  validateAttach,
} from './values.ts';

describe('ramInBytes (go-units RAMInBytes)', () => {
  it('reads binary multiples with optional i/b and a space', () => {
    assert.equal(ramInBytes('32'), 32);
    assert.equal(ramInBytes('32b'), 32);
    assert.equal(ramInBytes('1k'), 1024);
    assert.equal(ramInBytes('64m'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('64M'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(ramInBytes('2GiB'), 2 * 1024 ** 3);
    assert.equal(ramInBytes('2gb'), 2 * 1024 ** 3);
    assert.equal(ramInBytes('1 t'), 1024 ** 4);
    assert.equal(ramInBytes('0.5k'), 512);
    assert.equal(ramInBytes('1.7'), 1);
  });
  it("fails with docker's messages", () => {
    assert.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
    assert.throws(() => ramInBytes('1q'), { message: "invalid suffix: 'q'" });
    assert.throws(() => ramInBytes('1kx'), { message: "invalid suffix: 'kx'" });
    assert.throws(
      () => ramInBytes('1kib2'),
      { message: 'strconv.ParseFloat: parsing "1kib2": invalid syntax' },
      'a trailing digit makes all of it the number',
    );
    assert.throws(() => ramInBytes('1bb'), { message: "invalid suffix: 'bb'" });
    assert.throws(() => ramInBytes('1mbytes'), { message: "invalid suffix: 'mbytes'" });
    assert.throws(() => ramInBytes('-1'), { message: /invalid syntax|invalid size/ });
    assert.throws(() => ramInBytes('1.2.3'), { message: 'strconv.ParseFloat: parsing "1.2.3": invalid syntax' });
  });
  it('takes -1 for swap only', () => {
    assert.equal(memSwapBytes('-1'), -1);
    assert.equal(memSwapBytes('1g'), 1024 ** 3);
  });
});

describe('parseCPUs', () => {
  it('turns a rational number into nano CPUs', () => {
    assert.equal(parseCPUs('1.5'), 1_500_000_000);
    assert.equal(parseCPUs('3/2'), 1_500_000_000);
    assert.equal(parseCPUs('0.01'), 10_000_000);
    assert.equal(parseCPUs('1e-3'), 1_000_000);
    assert.equal(parseCPUs('-1'), -1_000_000_000, 'ranges are checked by the engine');
  });
  it('refuses text and too fine values', () => {
    assert.throws(() => parseCPUs('abc'), { message: 'failed to parse abc as a rational number' });
    assert.throws(() => parseCPUs('0.0000000001'), { message: 'value is too precise' });
  });
});

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
  it('durations as Go parses them', () => {
    assert.equal(parseGoDuration('1h30m'), 5400e9);
    assert.equal(parseGoDuration('1.5s'), 1.5e9);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-2ms'), -2e6);
    assert.throws(() => parseGoDuration('5'), { message: 'time: missing unit in duration "5"' });
    assert.throws(() => parseGoDuration('5q'), { message: 'time: unknown unit "q" in duration "5q"' });
    assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
  });
  it('devices', () => {
    assert.deepEqual(parseDevice('/dev/null'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/null',
      CgroupPermissions: 'rwm',
    });
    assert.deepEqual(parseDevice('/dev/null:/dev/x:r'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/x',
      CgroupPermissions: 'r',
    });
    assert.deepEqual(parseDevice('/dev/null:rw'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/null',
      CgroupPermissions: 'rw',
    });
    assert.throws(() => parseDevice('/dev/null:rel'), { message: 'rel is not an absolute path' });
    assert.throws(() => parseDevice('/dev/null:/x:rwx'), { message: 'bad mode specified: rwx' });
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

describe('--mount', () => {
  it('reads the CSV syntax with defaults and aliases', () => {
    assert.deepEqual(parseMount('type=bind,src=./data,dst=/d,readonly', '/home/u'), {
      Type: 'bind',
      Source: '/home/u/data',
      Target: '/d',
      ReadOnly: true,
    });
    assert.deepEqual(parseMount('target=/v,source=vol,volume-nocopy,volume-label=a=b', '/'), {
      Type: 'volume',
      Source: 'vol',
      Target: '/v',
      VolumeOptions: { Labels: { a: 'b' }, DriverConfig: {}, NoCopy: true },
    });
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770', '/'), {
      Type: 'tmpfs',
      Target: '/t',
      TmpfsOptions: { SizeBytes: 1024 * 1024, Mode: 0o1770 },
    });
    assert.deepEqual(parseMount('"type=bind","src=/a,b",dst=/x', '/'), { Type: 'bind', Source: '/a,b', Target: '/x' });
  });
  it("fails with docker's messages", () => {
    assert.throws(() => parseMount('type=foo', '/'), { message: 'target is required' });
    assert.throws(() => parseMount('foo', '/'), { message: "invalid field 'foo' must be a key=value pair" });
    assert.throws(() => parseMount('type=bind,dst=/x,volume-nocopy', '/'), {
      message: "cannot mix 'volume-*' options with mount type 'bind'",
    });
    assert.throws(() => parseMount('type=tmpfs,dst=/x,tmpfs-size=abc', '/'), {
      message: 'invalid value for tmpfs-size: abc',
    });
    assert.throws(() => parseMount('dst=/x,ro=maybe', '/'), { message: 'invalid value for ro: maybe' });
    assert.throws(() => parseMount('dst=/x,bogus=1', '/'), { message: "unexpected key 'bogus' in 'bogus=1'" });
  });
  it('splits CSV as Go does', () => {
    assert.deepEqual(parseCSVLine('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.deepEqual(parseCSVLine('"x""y"'), ['x"y']);
    assert.deepEqual(parseCSVLine(''), ['']);
  });
});

describe('-v', () => {
  it('splits source, target and mode like the compose loader', () => {
    assert.deepEqual(parseVolumeSpec('/a:/b:ro'), { type: 'bind', source: '/a', target: '/b', readOnly: true });
    assert.deepEqual(parseVolumeSpec('name:/b'), { type: 'volume', source: 'name', target: '/b', readOnly: false });
    assert.deepEqual(parseVolumeSpec('/anon'), { type: 'volume', source: '', target: '/anon', readOnly: false });
    assert.deepEqual(
      parseVolumeSpec('a:b:c:d'),
      { type: 'bind', source: 'a:b', target: 'c:d', readOnly: false },
      'one-letter parts are drives',
    );
  });
  it("refuses empty sections and too many colons with docker's text", () => {
    assert.throws(() => parseVolumeSpec(':/x'), { message: 'invalid spec: :/x: empty section between colons' });
    assert.throws(() => parseVolumeSpec('/a:/b:ro:x'), { message: 'invalid spec: /a:/b:ro:x: too many colons' });
    assert.throws(() => parseVolumeSpec(''), { message: 'invalid empty volume spec' });
  });
  it('makes binds of specs with a source and keeps the rest as anonymous volumes', () => {
    assert.deepEqual(splitVolumes(['./d:/d', 'v:/v:ro', '/anon'], '/home/u'), {
      binds: ['/home/u/d:/d', 'v:/v:ro'],
      volumes: { '/anon': {} },
    });
  });
});
