import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, parseFlags } from '../flags.ts';
import { RUN_FLAGS } from './flagspecs.ts';
import { buildCreateRequest, normalizeCaps, parsePortSpecs, type BuildEnvironment } from './opts.ts';

const files: Record<string, string> = { '/env': 'A=1\nB\n', '/labels': 'l1=x\n' };
const envir: BuildEnvironment = {
  cwd: '/work',
  lookupEnv: (k) => ({ B: 'b', HOME_X: 'h' })[k],
  readFile: (p) => {
    const t = files[p];
    if (t === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return t;
  },
};

function build(...argv: string[]) {
  const { flags, args } = parseFlags(RUN_FLAGS, argv, { interspersed: false });
  return buildCreateRequest(flags, args[0] ?? '', args.slice(1), envir);
}

describe('run/create flags → create request', () => {
  it('fills Config and HostConfig as docker does', () => {
    const { body, attach, autoRemove } = build(
      '-it',
      '--rm',
      '-e',
      'X=1',
      '--env-file',
      '/env',
      '--label-file',
      '/labels',
      '-l',
      'k=v',
      '-w',
      '/w',
      '-u',
      '1:2',
      '--memory',
      '64m',
      '--memory-swap',
      '-1',
      '--cpus',
      '1.5',
      '--pids-limit',
      '50',
      '--shm-size',
      '8m',
      '--ulimit',
      'nofile=10:20',
      '--cap-add',
      'net_admin',
      '--cap-drop',
      'ALL',
      '--restart',
      'no',
      '--init',
      '--network',
      'none',
      '-v',
      './d:/d:ro',
      '-v',
      '/anon',
      '--tmpfs',
      '/t:size=1m',
      '--stop-timeout',
      '5',
      '--health-cmd',
      'true',
      '--health-interval',
      '2s',
      '--log-opt',
      'max-size=1m',
      '--sysctl',
      'net.core.somaxconn=1',
      '--security-opt',
      'no-new-privileges',
      '--group-add',
      '10',
      '--read-only',
      '--runtime',
      'runc',
      '-h',
      'box',
      'busybox',
      'sh',
      '-c',
      'true',
    );
    assert.equal(attach, true);
    assert.equal(autoRemove, true);
    assert.equal(body.Image, 'busybox');
    assert.deepEqual(body.Cmd, ['sh', '-c', 'true']);
    assert.equal(body.Tty, true);
    assert.equal(body.OpenStdin, true);
    assert.equal(body.StdinOnce, true);
    assert.equal(body.AttachStdin, true);
    assert.deepEqual(body.Env, ['A=1', 'B=b', 'X=1']);
    assert.deepEqual(body.Labels, { l1: 'x', k: 'v' });
    assert.equal(body.Hostname, 'box');
    assert.equal(body.StopTimeout, 5);
    assert.deepEqual(body.Healthcheck, {
      Test: ['CMD-SHELL', 'true'],
      Interval: 2e9,
      Timeout: 0,
      StartPeriod: 0,
      Retries: 0,
    });
    assert.deepEqual(body.Volumes, { '/anon': {} });
    const h = body.HostConfig ?? {};
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.MemorySwap, -1);
    assert.equal(h.NanoCpus, 1_500_000_000);
    assert.equal(h.PidsLimit, 50);
    assert.equal(h.ShmSize, 8 * 1024 * 1024);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
    assert.deepEqual(h.CapAdd, ['CAP_NET_ADMIN']);
    assert.deepEqual(h.CapDrop, ['ALL']);
    assert.equal(h.Init, true);
    assert.equal(h.NetworkMode, 'none');
    assert.deepEqual(h.Binds, ['/work/d:/d:ro']);
    assert.deepEqual(h.Tmpfs, { '/t': 'size=1m' });
    assert.deepEqual(h.LogConfig, { Type: '', Config: { 'max-size': '1m' } });
    assert.deepEqual(h.Sysctls, { 'net.core.somaxconn': '1' });
    assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
    assert.deepEqual(h.GroupAdd, ['10']);
    assert.equal(h.ReadonlyRootfs, true);
    assert.equal(h.Runtime, 'runc');
    assert.deepEqual(h.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.deepEqual(body.NetworkingConfig, { EndpointsConfig: {} });
  });

  it('attaches stdout and stderr by default, only what -a names otherwise; --init only when given', () => {
    const plain = build('busybox').body;
    assert.equal(plain.AttachStdout, true);
    assert.equal(plain.AttachStderr, true);
    assert.equal(plain.AttachStdin, false);
    assert.equal(plain.HostConfig?.Init, undefined);
    assert.equal(plain.HostConfig?.NetworkMode, 'default');
    assert.equal(plain.Entrypoint, null);
    assert.deepEqual(plain.NetworkingConfig, { EndpointsConfig: { default: {} } });
    const some = build('-a', 'STDERR', 'busybox').body;
    assert.equal(some.AttachStdout, false);
    assert.equal(some.AttachStderr, true);
    assert.deepEqual(build('--entrypoint=', 'busybox').body.Entrypoint, ['']);
  });

  it("reports bad values with docker's messages", () => {
    assert.throws(() => build('--rm', '--restart', 'always', 'busybox'), {
      message: 'conflicting options: cannot specify both --restart and --rm',
    });
    assert.throws(() => build('--env-file', '/nope', 'busybox'), { message: 'open /nope: no such file or directory' });
    assert.throws(() => build('--no-healthcheck', '--health-retries', '2', 'busybox'), {
      message: '--no-healthcheck conflicts with --health-* options',
    });
    assert.throws(() => build('--memory-swappiness', '101', 'busybox'), {
      message: 'invalid value: 101. Valid memory swappiness range is 0-100',
    });
    assert.throws(() => build('-v', ':/x', 'busybox'), { message: 'invalid spec: :/x: empty section between colons' });
    assert.throws(() => build('--pid', 'bogus', 'busybox'), { message: '--pid: invalid PID mode' });
  });

  it('checks typed values while parsing flags (exit 125 with usage)', () => {
    assert.throws(
      () => build('--memory', 'abc', 'busybox'),
      (e: unknown) =>
        e instanceof FlagError && e.message === `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`,
    );
    assert.throws(() => build('--cpus', 'x', 'busybox'), {
      message: 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number',
    });
    assert.throws(() => build('--stop-timeout', 'x', 'busybox'), {
      message: 'invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid syntax',
    });
    assert.throws(() => build('--ulimit', 'nofile', 'busybox'), {
      message: 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile',
    });
    assert.throws(() => build('--mount', 'type=bind', 'busybox'), {
      message: 'invalid argument "type=bind" for "--mount" flag: target is required',
    });
    assert.throws(() => build('--health-timeout', '3', 'busybox'), {
      message: 'invalid argument "3" for "--health-timeout" flag: time: missing unit in duration "3"',
    });
  });

  it('-h is the host name, flags stop at the image', () => {
    const { flags, args, help } = parseFlags(RUN_FLAGS, ['-h', 'x', 'img', '-h'], { interspersed: false });
    assert.equal(help, false);
    assert.equal(flags.string('hostname'), 'x');
    assert.deepEqual(args, ['img', '-h']);
  });

  it('normalises capabilities and ports like docker', () => {
    assert.deepEqual(normalizeCaps(['net_admin', 'CAP_CHOWN', 'all', 'NET_ADMIN']), [
      'ALL',
      'CAP_CHOWN',
      'CAP_NET_ADMIN',
    ]);
    assert.deepEqual(parsePortSpecs(['8080:80', '127.0.0.1::53/udp']), {
      exposed: { '80/tcp': {}, '53/udp': {} },
      bindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    });
  });
});
