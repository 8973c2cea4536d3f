/**
 * Compose features run as a user runs them, through `berth compose`, against berthd and (where the engine is what
 * matters) against the reference dockerd 20.10: `post_start` and `pre_stop` hooks, secrets and configs (file,
 * environment, content), a network with `ipam` config and a fixed address, `pull` and `push` through a local
 * registry (Debian's docker-registry), `up --attach/--no-attach` and `attach: false`, coloured log prefixes on a
 * terminal (plain otherwise); and `watch` (develop.watch: sync, sync+restart, sync+exec, rebuild) against both engines.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type DistributionRegistry } from '../src/distribution/remote/testkit.ts';
import { BERTH, type Daemon, run, startDaemon, waitFor } from './harness.ts';
import { berthAt, berthCompose, hasCommand, startDockerd } from './compose-kit.ts';

const HAVE_DOCKERD = hasCommand('dockerd') && process.getuid?.() === 0;
const HAVE_REGISTRY = hasCommand('docker-registry');
const ESC = String.fromCharCode(27);

let d: Daemon;
let work: string;
let ref: Awaited<ReturnType<typeof startDockerd>> | undefined;
let reg: DistributionRegistry | undefined;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-compose-features-'));
  if (HAVE_DOCKERD) {
    await mkdir(join(work, 'dockerd'));
    ref = await startDockerd(join(work, 'dockerd'));
    const load = await run('bash', [
      '-c',
      `"${BERTH}" -H ${d.host} save busybox | DOCKER_HOST=${ref.host} docker load`,
    ]);
    assert.equal(load.code, 0, load.stderr);
  }
  if (HAVE_REGISTRY) reg = await startRegistry('plain');
});
after(async () => {
  await d?.cleanup();
  await ref?.stop();
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function project(name: string, text: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'compose.yaml'), text);
  for (const [f, body] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), body);
  }
  return dir;
}

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string) {
  const r = await p;
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

const engines: { name: string; host: () => string; skip: string | false }[] = [
  { name: 'berthd', host: () => d.host, skip: false },
  { name: 'dockerd', host: () => ref!.host, skip: !HAVE_DOCKERD && 'dockerd is not installed (or not root)' },
];

for (const engine of engines) {
  describe(`berth compose against ${engine.name}`, { skip: engine.skip }, () => {
    const tag = engine.name === 'berthd' ? 'b' : 'd';
    const c = (dir: string, p: string, args: string[], env: Record<string, string> = {}) =>
      berthCompose(engine.host(), dir, ['-p', p, ...args], env);

    it('post_start runs after each start, pre_stop before stop, down and a recreate; a failing hook is named', async () => {
      const out = join(work, `hooks-${tag}-out`);
      await mkdir(out, { recursive: true });
      const file = (env: string) => `services:
  app:
    image: busybox
    command: sleep 3600
    stop_signal: SIGKILL
    environment: [GEN=${env}]
    volumes: ["${out}:/out"]
    post_start:
      - command: sh -c 'echo "started $$GEN" >> /out/post'
    pre_stop:
      - command: ["sh", "-c", "echo stopping $$(hostname) >> /out/pre"]
`;
      const dir = await project(`hooks-${tag}`, file('one'));
      const p = `hooks${tag}`;
      await ok(c(dir, p, ['up', '-d']), 'up');
      assert.equal(await readFile(join(out, 'post'), 'utf8'), 'started one\n');
      assert.equal(existsSync(join(out, 'pre')), false);
      await ok(c(dir, p, ['stop']), 'stop');
      assert.match(await readFile(join(out, 'pre'), 'utf8'), /^stopping \S+\n$/);
      await ok(c(dir, p, ['start']), 'start');
      assert.equal(await readFile(join(out, 'post'), 'utf8'), 'started one\nstarted one\n');
      // A changed service is recreated: the old container's pre_stop runs, the new one's post_start.
      await writeFile(join(dir, 'compose.yaml'), file('two'));
      await ok(c(dir, p, ['up', '-d']), 'up (recreate)');
      assert.equal((await readFile(join(out, 'pre'), 'utf8')).split('\n').length - 1, 2);
      assert.equal(await readFile(join(out, 'post'), 'utf8'), 'started one\nstarted one\nstarted two\n');
      await ok(c(dir, p, ['down']), 'down');
      assert.equal((await readFile(join(out, 'pre'), 'utf8')).split('\n').length - 1, 3);
      // A failing post_start hook fails the up, naming the container.
      const bad = await project(
        `hooks-bad-${tag}`,
        'services:\n  app:\n    image: busybox\n    command: sleep 3600\n    stop_signal: SIGKILL\n    post_start:\n      - command: ["sh", "-c", "exit 3"]\n',
      );
      const r = await c(bad, `hooksbad${tag}`, ['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`post_start hook of hooksbad${tag}-app-1 exited with 3`));
      await ok(c(bad, `hooksbad${tag}`, ['down']), 'down (bad)');
    });

    it('secrets and configs from a file, an environment variable and inline content', async () => {
      const dir = await project(
        `files-${tag}`,
        `services:
  app:
    image: busybox
    command: sleep 3600
    stop_signal: SIGKILL
    secrets:
      - db_password
      - source: api_key
        target: api
    configs:
      - source: app_conf
        target: /etc/app.conf
      - site
      - source: motd
        target: /etc/motd
        mode: 0440
secrets:
  db_password: {file: ./db_password.txt}
  api_key: {environment: API_KEY}
configs:
  app_conf:
    content: |
      listen = \${LISTEN_PORT:-80}
  site: {file: ./site.conf}
  motd: {content: "welcome"}
`,
        { 'db_password.txt': 's3cret\n', 'site.conf': 'server_name example\n' },
      );
      const p = `files${tag}`;
      await ok(c(dir, p, ['up', '-d'], { API_KEY: 'key-from-env', LISTEN_PORT: '8081' }), 'up');
      const cat = async (path: string) =>
        (await ok(c(dir, p, ['exec', '-T', 'app', 'cat', path]), `cat ${path}`)).stdout;
      assert.equal(await cat('/run/secrets/db_password'), 's3cret\n');
      assert.equal(await cat('/run/secrets/api'), 'key-from-env');
      assert.equal(await cat('/etc/app.conf'), 'listen = 8081\n');
      assert.equal(await cat('/site'), 'server_name example\n');
      assert.equal(await cat('/etc/motd'), 'welcome');
      const mode = await ok(c(dir, p, ['exec', '-T', 'app', 'stat', '-c', '%a', '/etc/motd']), 'stat');
      assert.equal(mode.stdout.trim(), '440');
      // A secret from an unset variable: a clear error, naming it.
      const r = await c(dir, `files2${tag}`, ['up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /secret "api_key"/);
      await ok(c(dir, `files2${tag}`, ['down']), 'down 2');
      await ok(c(dir, p, ['down']), 'down');
    });

    it('a network with ipam config: its subnet, gateway and a fixed address', async () => {
      const third = engine.name === 'berthd' ? 211 : 212;
      const dir = await project(
        `ipam-${tag}`,
        `services:
  app:
    image: busybox
    command: sleep 3600
    stop_signal: SIGKILL
    networks:
      back: {ipv4_address: 10.${third}.7.50}
  other:
    image: busybox
    command: sleep 3600
    stop_signal: SIGKILL
    networks: [back]
networks:
  back:
    ipam:
      config:
        - subnet: 10.${third}.7.0/24
          ip_range: 10.${third}.7.128/25
          gateway: 10.${third}.7.1
    labels: {tier: back}
`,
      );
      const p = `ipam${tag}`;
      await ok(c(dir, p, ['up', '-d']), 'up');
      const net = JSON.parse(
        (await ok(berthAt(engine.host(), ['network', 'inspect', `${p}_back`]), 'network inspect')).stdout,
      )[0];
      assert.deepEqual(net.IPAM.Config, [
        { Subnet: `10.${third}.7.0/24`, IPRange: `10.${third}.7.128/25`, Gateway: `10.${third}.7.1` },
      ]);
      assert.equal(net.Labels.tier, 'back');
      const addr = (svc: string) =>
        ok(c(dir, p, ['exec', '-T', svc, 'sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}'"]), 'ip addr');
      assert.equal((await addr('app')).stdout.trim(), `10.${third}.7.50/24`);
      const other = (await addr('other')).stdout.trim();
      const last = Number(other.split('/')[0]!.split('.')[3]);
      assert.ok(last >= 128, `other's address ${other} is in ip_range`);
      const ping = await c(dir, p, ['exec', '-T', 'other', 'ping', '-c', '1', '-W', '2', 'app']);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, new RegExp(`10\\.${third}\\.7\\.50`));
      await ok(c(dir, p, ['down']), 'down');
      const gone = await berthAt(engine.host(), ['network', 'inspect', `${p}_back`]);
      assert.notEqual(gone.code, 0);
    });

    // dockerd 20.10 asks runc for every capability for a privileged exec, more than this host grants ("unable to
    // apply caps"): the privileged rule runs against berthd only.
    it('watch: sync copies changed files in, sync+restart restarts, sync+exec runs its command, rebuild builds and recreates', () =>
      watchScenario(engine.host(), tag, engine.name === 'berthd'));

    it('push and pull service images through a local registry', {
      skip: !HAVE_REGISTRY && 'no docker-registry',
    }, async () => {
      const image = `${reg!.host}/compose-${tag}/app:1`;
      const dir = await project(
        `registry-${tag}`,
        `services:\n  app:\n    image: ${image}\n    command: sleep 3600\n  local:\n    build: .\n    image: ${reg!.host}/compose-${tag}/local:1\n`,
        { Dockerfile: 'FROM busybox\nRUN echo built > /built\n' },
      );
      const p = `registry${tag}`;
      await ok(berthAt(engine.host(), ['tag', 'busybox', image]), 'tag');
      await ok(c(dir, p, ['build']), 'build');
      const push = await ok(c(dir, p, ['push']), 'push');
      assert.match(push.stderr, /Pushed/);
      const tags = async (repo: string) =>
        ((await (await fetch(`${reg!.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
      assert.deepEqual(await tags(`compose-${tag}/app`), ['1']);
      assert.deepEqual(await tags(`compose-${tag}/local`), ['1']);
      await ok(berthAt(engine.host(), ['rmi', image, `${reg!.host}/compose-${tag}/local:1`]), 'rmi');
      await ok(c(dir, p, ['pull', 'app']), 'pull');
      await ok(berthAt(engine.host(), ['image', 'inspect', image]), 'inspect after pull');
      const missing = await berthAt(engine.host(), ['image', 'inspect', `${reg!.host}/compose-${tag}/local:1`]);
      assert.notEqual(missing.code, 0, 'pull app pulled only app');
      // An image the registry does not have: pull fails naming it; --ignore-pull-failures goes on.
      await writeFile(
        join(dir, 'compose.yaml'),
        `services:\n  gone:\n    image: ${reg!.host}/compose-${tag}/missing:1\n`,
      );
      const r = await c(dir, p, ['pull']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /compose-.\/missing/);
      await ok(c(dir, p, ['pull', '--ignore-pull-failures']), 'pull --ignore-pull-failures');
    });
  });
}

describe('berth compose: attached output (client side, against berthd)', () => {
  const two = `services:
  a:
    image: busybox
    command: sh -c 'echo from-a; sleep 1'
  b:
    image: busybox
    command: sh -c 'echo from-b; sleep 1'
`;

  it('up --attach, --no-attach and attach: false choose whose output up prints', async () => {
    const dir = await project('attach', two);
    const only = await ok(berthCompose(d.host, dir, ['-p', 'attach', 'up', '--attach', 'a']), 'up --attach a');
    assert.match(only.stdout, /^a-1 +\| from-a$/m);
    assert.doesNotMatch(only.stdout, /from-b/);
    const without = await ok(berthCompose(d.host, dir, ['-p', 'attach', 'up', '--no-attach', 'a']), 'up --no-attach');
    assert.match(without.stdout, /^b-1 +\| from-b$/m);
    assert.doesNotMatch(without.stdout, /from-a/);
    await writeFile(
      join(dir, 'compose.yaml'),
      two.replace("echo from-b; sleep 1'", "echo from-b; sleep 1'\n    attach: false"),
    );
    const cfg = await ok(berthCompose(d.host, dir, ['-p', 'attach', 'up']), 'up (attach: false)');
    assert.match(cfg.stdout, /^a-1 +\| from-a$/m);
    assert.doesNotMatch(cfg.stdout, /from-b/);
    await ok(berthCompose(d.host, dir, ['-p', 'attach', 'down']), 'down');
  });

  it('logs: coloured service-N prefixes on a terminal, plain when not; --no-color', async () => {
    const dir = await project('colour', two);
    await ok(berthCompose(d.host, dir, ['-p', 'colour', 'up', '-d', '--wait']), 'up');
    await waitFor(
      'both lines',
      async () => /from-b/.test((await berthCompose(d.host, dir, ['-p', 'colour', 'logs'])).stdout),
      20_000,
    );
    const plain = await ok(berthCompose(d.host, dir, ['-p', 'colour', 'logs']), 'logs');
    assert.ok(!plain.stdout.includes(ESC), 'no escape sequences');
    assert.match(plain.stdout, /^a-1 +\| from-a$/m);
    // A terminal on stdout (script(1) gives the command a pty).
    const cmd = (extra: string) => `${BERTH} -H ${d.host} compose -p colour logs ${extra} a b`.replace(/'/g, `'\\''`);
    const tty = await run('script', ['-qec', cmd(''), '/dev/null'], {}, undefined, { cwd: dir, timeoutMs: 60_000 });
    assert.equal(tty.code, 0, tty.stdout);
    const colours = [...tty.stdout.matchAll(new RegExp(`${ESC}\\[(\\d+)m([ab])-1 +\\| ${ESC}\\[0mfrom-\\2`, 'g'))];
    assert.equal(colours.length, 2, JSON.stringify(tty.stdout));
    assert.notEqual(colours[0]![1], colours[1]![1], 'each container its own colour');
    const noColor = await run('script', ['-qec', cmd('--no-color'), '/dev/null'], {}, undefined, {
      cwd: dir,
      timeoutMs: 60_000,
    });
    assert.ok(!noColor.stdout.includes(ESC), 'no escape sequences with --no-color');
    assert.match(noColor.stdout, /a-1 +\| from-a/);
    await ok(berthCompose(d.host, dir, ['-p', 'colour', 'down']), 'down');
  });
});

/**
 * `watch` on a project whose web service is built from the directory; sync, sync+restart, sync+exec (with a
 * privileged rule when `privileged`), then rebuild.
 */
async function watchScenario(host: string, tag: string, privileged: boolean): Promise<void> {
  const privRule = `        - action: sync+exec
          path: ./priv
          target: /app/priv
          exec: {command: [sh, -c, 'grep CapEff /proc/self/status > /tmp/priv-out'], privileged: true}
`;
  const dir = await project(
    `watch-${tag}`,
    `services:
  web:
    build: .
    command: sleep 3600
    stop_signal: SIGKILL
    develop:
      watch:
        - {action: sync, path: ./src, target: /app/src, ignore: [tmp/]}
        - {action: sync, path: ./init, target: /app/init, ignore: [skip/], initial_sync: true}
        - {action: sync+restart, path: ./conf, target: /etc/app}
        - {action: rebuild, path: ./version}
        - action: sync+exec
          path: ./hooks
          target: /app/hooks
          exec:
            command: [sh, -c, 'echo "exec $$(cat /app/hooks/h.txt) $$(id -u) $$(pwd) $$GREETING" | tee /tmp/exec-out']
            user: nobody
            working_dir: /tmp
            environment: {GREETING: hello}
${privileged ? privRule : ''}`,
    {
      Dockerfile: 'FROM busybox\nCOPY version /version\n',
      version: 'v1\n',
      'src/index.html': 'first\n',
      'conf/app.conf': 'a=1\n',
      'hooks/h.txt': 'h1\n',
      'priv/p.txt': 'p1\n',
      'init/old.txt': 'old\n',
    },
  );
  const p = `watch${tag}`;
  const c = (args: string[]) => berthCompose(host, dir, ['-p', p, ...args]);
  // initial_sync copies what changed after the image was built (init/old.txt did not), before watching starts.
  await ok(c(['build']), 'build');
  await new Promise((r) => setTimeout(r, 20));
  for (const [f, body] of [
    ['init/a.txt', 'a\n'],
    ['init/sub/b.txt', 'b\n'],
    ['init/skip/c.txt', 'c\n'],
  ] as const) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), body);
  }
  const child: ChildProcess = spawn(BERTH, ['-H', host, 'compose', '-p', p, 'watch'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (b) => (log += b));
  child.stderr!.on('data', (b) => (log += b));
  try {
    await waitFor('watch to start', async () => /Watch enabled/.test(log), 120_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${log}`);
    });
    const cat = async (path: string) => (await c(['exec', '-T', 'web', 'cat', path])).stdout;
    const exists = async (path: string) => (await c(['exec', '-T', 'web', 'test', '-e', path])).code === 0;
    assert.equal(await cat('/version'), 'v1\n');
    assert.equal(await cat('/app/init/a.txt'), 'a\n', 'initial_sync copied a file newer than the image');
    assert.equal(await cat('/app/init/sub/b.txt'), 'b\n', 'and one in a new directory');
    assert.equal(await exists('/app/init/old.txt'), false, 'not a file older than the image');
    assert.equal(await exists('/app/init/skip/c.txt'), false, 'not an ignored one');
    assert.equal(await exists('/app/src/index.html'), false, 'a rule without initial_sync copies nothing at start');
    const inspect = async () =>
      JSON.parse((await berthAt(host, ['inspect', `${p}-web-1`])).stdout)[0] as {
        Id: string;
        State: { StartedAt: string };
      };
    const before = await inspect();
    await writeFile(join(dir, 'src', 'index.html'), 'second\n');
    await mkdir(join(dir, 'src', 'deep'), { recursive: true });
    await writeFile(join(dir, 'src', 'deep', 'new.txt'), 'new\n');
    await mkdir(join(dir, 'src', 'tmp'), { recursive: true });
    await writeFile(join(dir, 'src', 'tmp', 'ignored'), 'x\n');
    await waitFor('sync', async () => (await cat('/app/src/index.html')) === 'second\n', 30_000);
    await waitFor('sync of a new directory', async () => (await cat('/app/src/deep/new.txt')) === 'new\n', 30_000);
    assert.equal((await c(['exec', '-T', 'web', 'test', '-e', '/app/src/tmp/ignored'])).code, 1, 'ignored');
    assert.equal((await inspect()).State.StartedAt, before.State.StartedAt, 'sync alone does not restart');
    await rm(join(dir, 'src', 'deep', 'new.txt'));
    await waitFor(
      'removal',
      async () => (await c(['exec', '-T', 'web', 'test', '-e', '/app/src/deep/new.txt'])).code === 1,
      30_000,
    );
    await writeFile(join(dir, 'conf', 'app.conf'), 'a=2\n');
    await waitFor('sync+restart', async () => (await inspect()).State.StartedAt !== before.State.StartedAt, 30_000);
    assert.equal(await cat('/etc/app/app.conf'), 'a=2\n');
    assert.equal((await inspect()).Id, before.Id, 'restarted, not recreated');
    // sync+exec: the file is copied, then the command runs with the rule's user, working_dir and environment.
    await writeFile(join(dir, 'hooks', 'h.txt'), 'h2\n');
    await waitFor('sync+exec', async () => (await cat('/tmp/exec-out')) === 'exec h2 65534 /tmp hello\n', 30_000);
    assert.equal(await cat('/app/hooks/h.txt'), 'h2\n');
    await waitFor('exec output on the terminal', async () => log.includes('exec h2 65534 /tmp hello'), 10_000);
    if (privileged) {
      await writeFile(join(dir, 'priv', 'p.txt'), 'p2\n');
      await waitFor('privileged sync+exec', async () => (await cat('/tmp/priv-out')) !== '', 30_000);
      const plain = (await c(['exec', '-T', 'web', 'grep', 'CapEff', '/proc/self/status'])).stdout;
      assert.match(plain, /^CapEff:/);
      assert.notEqual(await cat('/tmp/priv-out'), plain, 'privileged: more capabilities than a plain exec');
    }
    await writeFile(join(dir, 'version'), 'v2\n');
    await waitFor('rebuild', async () => (await cat('/version')) === 'v2\n', 120_000);
    assert.notEqual((await inspect()).Id, before.Id, 'rebuilt and recreated');
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  // Ctrl-C ends watch, without an error.
  assert.ok(child.exitCode === 0 || child.exitCode === 130, `exit ${child.exitCode}: ${log}`);
  assert.doesNotMatch(log, /WARN|rror/);
  await ok(c(['down', '--rmi', 'local']), 'down');
}
