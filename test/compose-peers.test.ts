/**
 * The same compose file through the other clients: `docker compose` (the docker CLI 28 running bin/docker-compose
 * as its plugin) and Debian's docker-compose 1.29.2 against berthd, each seeing the projects the others made; and
 * side by side with docker-compose 1.29.2 against the reference dockerd 20.10 for what both define (networks,
 * volumes, labels, `config --services`, bad files, `down -v`), including `build:` through the engine's POST /build.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, type Daemon, run, startDaemon, waitFor } from './harness.ts';
import {
  appFile,
  berthAt,
  berthCompose,
  buildAppImages,
  compose1,
  dockerCompose,
  freePort,
  hasCommand,
  httpGet,
  pluginConfig,
  startDockerd,
  writeApp,
} from './compose-kit.ts';

const HAVE_COMPOSE1 = hasCommand('docker-compose');
const HAVE_DOCKERD = hasCommand('dockerd') && process.getuid?.() === 0;

let d: Daemon;
let work: string;
let config: string;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-compose-peers-'));
  config = pluginConfig(work);
  await buildAppImages(d.host, 'cp', 'hello-peers');
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function names(socket: string, project: string): Promise<string[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  const list = JSON.parse((await api(socket, 'GET', `/containers/json?all=1&filters=${filter}`)).body) as {
    Names: string[];
  }[];
  return list.map((c) => c.Names[0]!.slice(1)).sort();
}

describe('docker compose (the plugin) against berthd', () => {
  it('docker-cli-plugin-metadata, then up -d --wait, ps, logs, down -v with the docker CLI', async () => {
    const meta = await run(join(config, 'cli-plugins', 'docker-compose'), ['docker-cli-plugin-metadata']);
    assert.equal(JSON.parse(meta.stdout).SchemaVersion, '0.1.0');
    const version = await dockerCompose(d.host, config, work, ['version']);
    assert.match(version.stdout, /^Docker Compose version v2\./);
    const port = await freePort();
    const dir = writeApp(join(work, 'plugin'), appFile('cp', port));
    const up = await dockerCompose(d.host, config, dir, ['-p', 'plug', 'up', '-d', '--wait']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await httpGet(port)).trim(), 'hello-peers');
    assert.deepEqual(await names(d.socket, 'plug'), ['plug-store-1', 'plug-web-1', 'plug-worker-1']);
    const ps = await dockerCompose(d.host, config, dir, ['-p', 'plug', 'ps', '--format', 'json']);
    assert.equal(ps.stdout.trim().split('\n').length, 3);
    // berth compose sees the same project.
    const berthPs = await berthCompose(d.host, dir, ['-p', 'plug', 'ps', '-q']);
    assert.equal(berthPs.stdout.trim().split('\n').length, 3);
    const logs = await dockerCompose(d.host, config, dir, ['-p', 'plug', 'logs', 'store']);
    assert.match(logs.stdout, /store-1 {2}\| store ready to accept/);
    const down = await dockerCompose(d.host, config, dir, ['-p', 'plug', 'down', '-v']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await names(d.socket, 'plug'), []);
  });

  it('-H and --context reach the engine as the docker CLI does', async () => {
    const dir = writeApp(join(work, 'ctx'), 'services:\n  a:\n    image: busybox\n    command: ["sleep", "30"]\n');
    const viaFlag = await run(
      'docker',
      ['-H', d.host, 'compose', '-p', 'ctxp', 'up', '-d'],
      { DOCKER_CONFIG: config, DOCKER_HOST: '' },
      undefined,
      { cwd: dir },
    );
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    const created = await run('docker', ['context', 'create', 'berthtest', '--docker', `host=${d.host}`], {
      DOCKER_CONFIG: config,
    });
    assert.equal(created.code, 0, created.stderr);
    const viaContext = await run(
      'docker',
      ['--context', 'berthtest', 'compose', '-p', 'ctxp', 'ps', '-q'],
      { DOCKER_CONFIG: config, DOCKER_HOST: '' },
      undefined,
      { cwd: dir },
    );
    assert.equal(viaContext.code, 0, viaContext.stderr);
    assert.equal(viaContext.stdout.trim().split('\n').length, 1);
    const viaEnv = await run(
      'docker',
      ['compose', '-p', 'ctxp', 'down'],
      { DOCKER_CONFIG: config, DOCKER_HOST: '', DOCKER_CONTEXT: 'berthtest' },
      undefined,
      { cwd: dir },
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual(await names(d.socket, 'ctxp'), []);
  });
});

describe('docker-compose 1.29.2 against berthd', {
  skip: !HAVE_COMPOSE1 && 'docker-compose (Debian) is not installed',
}, () => {
  it("runs the same file; berth compose and docker-compose see each other's projects", async () => {
    const port = await freePort();
    const dir = writeApp(join(work, 'v1'), appFile('cp', port));
    const up = await compose1(d.host, dir, ['-p', 'old', 'up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(await names(d.socket, 'old'), ['old_store_1', 'old_web_1', 'old_worker_1']);
    await waitFor('web to answer', async () => (await httpGet(port)).trim() === 'hello-peers', 20_000);
    const ps = await berthCompose(d.host, dir, ['-p', 'old', 'ps', '--services']);
    assert.equal(ps.stdout, 'store\nweb\nworker\n');
    const berthList = await berthCompose(d.host, dir, ['-p', 'old', 'ps', '--format', 'json']);
    assert.deepEqual(
      berthList.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { Name: string }).Name)
        .sort(),
      ['old_store_1', 'old_web_1', 'old_worker_1'],
    );
    // berth compose takes the project down, networks and volumes included.
    const down = await berthCompose(d.host, dir, ['-p', 'old', 'down', '-v']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await names(d.socket, 'old'), []);
    const nets = await berthAt(d.host, ['network', 'ls', '--format', '{{.Name}}']);
    assert.ok(!nets.stdout.includes('old_default'));
    // And the other way: berth compose's project, listed and removed by docker-compose 1.29.2.
    const port2 = await freePort();
    const dir2 = writeApp(join(work, 'v1b'), appFile('cp', port2));
    assert.equal((await berthCompose(d.host, dir2, ['-p', 'newer', 'up', '-d'])).code, 0);
    const v1ps = await compose1(d.host, dir2, ['-p', 'newer', 'ps', '--services']);
    assert.deepEqual(v1ps.stdout.trim().split('\n').sort(), ['store', 'web', 'worker']);
    const v1down = await compose1(d.host, dir2, ['-p', 'newer', 'down', '-v']);
    assert.equal(v1down.code, 0, v1down.stderr);
    assert.deepEqual(await names(d.socket, 'newer'), []);
  });
});

describe('builds: compose build on berthd', () => {
  it("compose build, up --build and run through berthd's Dockerfile builder (POST /build)", async () => {
    const dir = join(work, 'buildb');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\nCMD ["cat", "/built"]\n');
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  app:\n    build: .\n');
    const r = await berthCompose(d.host, dir, ['-p', 'bb', 'build']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Image bb-app {2}Built/);
    const out = await berthCompose(d.host, dir, ['-p', 'bb', 'run', '--rm', '-T', 'app']);
    assert.equal(out.stdout.trim(), 'built');
    // A changed Dockerfile and `up --build`: a new image, so the container is recreated.
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM busybox\nRUN echo rebuilt > /built\nCMD ["sh", "-c", "cat /built; sleep 60"]\n',
    );
    const up = await berthCompose(d.host, dir, ['-p', 'bb', 'up', '-d', '--build']);
    assert.equal(up.code, 0, up.stderr);
    await waitFor(
      'the rebuilt image to run',
      async () =>
        (await berthCompose(d.host, dir, ['-p', 'bb', 'logs', '--no-log-prefix'])).stdout.trim() === 'rebuilt',
      20_000,
    );
    // A Dockerfile that fails: compose says which service, and starts nothing new.
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
    const bad = await berthCompose(d.host, dir, ['-p', 'bb', 'build']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /failed to build service "app"/);
    assert.equal((await berthCompose(d.host, dir, ['-p', 'bb', 'down'])).code, 0);
  });

  it('build.secrets from a file and from the environment reach RUN --mount=type=secret, by target or source', async () => {
    const dir = join(work, 'buildsecrets');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'token.txt'), 's3cret-file');
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM busybox\nRUN --mount=type=secret,id=tok --mount=type=secret,id=api_key ' +
        'sh -c \'cat /run/secrets/tok /run/secrets/api_key > /seen\'\nCMD ["cat", "/seen"]\n',
    );
    await writeFile(
      join(dir, 'compose.yaml'),
      'services:\n  app:\n    build:\n      context: .\n      secrets:\n        - {source: token, target: tok}\n        - api_key\n' +
        'secrets:\n  token: {file: ./token.txt}\n  api_key: {environment: API_KEY}\n',
    );
    const r = await berthCompose(d.host, dir, ['-p', 'bsec', 'build'], { API_KEY: '-from-env' });
    assert.equal(r.code, 0, r.stderr);
    const out = await berthCompose(d.host, dir, ['-p', 'bsec', 'run', '--rm', '-T', 'app']);
    assert.equal(out.stdout, 's3cret-file-from-env');
    // An environment secret whose variable is not set: the build is refused, naming the secret.
    const unset = await berthCompose(d.host, dir, ['-p', 'bsec', 'build', '--no-cache']);
    assert.notEqual(unset.code, 0);
    assert.match(unset.stderr, /build secret api_key: environment variable API_KEY is not set/);
    assert.equal((await berthCompose(d.host, dir, ['-p', 'bsec', 'down', '--rmi', 'local'])).code, 0);
  });
});

describe('side by side with docker-compose 1.29.2 on the reference dockerd', {
  skip:
    (!HAVE_DOCKERD && 'dockerd is not installed (or not root)') ||
    (!HAVE_COMPOSE1 && 'docker-compose is not installed'),
}, () => {
  let ref: Awaited<ReturnType<typeof startDockerd>>;
  let dir: string;
  before(async () => {
    dir = join(work, 'dockerd');
    await mkdir(dir, { recursive: true });
    ref = await startDockerd(dir);
    const save = await run('bash', [
      '-c',
      `"${join(import.meta.dirname, '..', 'bin', 'berth')}" -H ${d.host} save busybox | DOCKER_HOST=${ref.host} docker load`,
    ]);
    assert.equal(save.code, 0, save.stderr);
  });
  after(async () => {
    await ref?.stop();
    await run('rm', ['-rf', dir]);
  });

  const appWithBuild = (port: number) =>
    appFile('unused', port)
      .replace('image: unused/web:1', 'build: ./web')
      .replace(
        'image: unused/worker:1',
        "image: busybox\n    command: sh -c 'while true; do echo working; sleep 1; done'",
      )
      .replace(
        'image: unused/store:1',
        "image: busybox\n    command: sh -c 'echo store ready to accept; exec nc -ll -p 6379 -e cat'",
      );

  async function lay(name: string, port: number): Promise<string> {
    const app = join(dir, name);
    await mkdir(join(app, 'web'), { recursive: true });
    await writeFile(
      join(app, 'web', 'Dockerfile'),
      'FROM busybox\nRUN mkdir /www && echo built-by-engine > /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    );
    await writeFile(join(app, 'compose.yaml'), appWithBuild(port));
    return app;
  }

  it('both build, start and serve the app; both make <project>_default and <project>_data with compose labels', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const a = await lay('berth', p1);
    const b = await lay('v1', p2);
    const ours = await berthCompose(ref.host, a, ['-p', 'sbsberth', 'up', '-d', '--build', '--wait']);
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = await compose1(ref.host, b, ['-p', 'sbsv1', 'up', '-d', '--build']);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal((await httpGet(p1)).trim(), 'built-by-engine');
    await waitFor('docker-compose 1.29.2 web', async () => (await httpGet(p2)).trim() === 'built-by-engine', 20_000);
    for (const p of ['sbsberth', 'sbsv1']) {
      const net = JSON.parse((await api(ref.socket, 'GET', `/networks/${p}_default`)).body) as {
        Labels: Record<string, string>;
      };
      assert.equal(net.Labels['com.docker.compose.project'], p);
      assert.equal(net.Labels['com.docker.compose.network'], 'default');
      const vol = JSON.parse((await api(ref.socket, 'GET', `/volumes/${p}_data`)).body) as {
        Labels: Record<string, string>;
      };
      assert.equal(vol.Labels['com.docker.compose.project'], p);
      assert.equal(vol.Labels['com.docker.compose.volume'], 'data');
    }
    assert.deepEqual(await names(ref.socket, 'sbsberth'), ['sbsberth-store-1', 'sbsberth-web-1', 'sbsberth-worker-1']);
    assert.deepEqual(await names(ref.socket, 'sbsv1'), ['sbsv1_store_1', 'sbsv1_web_1', 'sbsv1_worker_1']);
    // Each lists the other's project by label.
    assert.equal((await berthCompose(ref.host, b, ['-p', 'sbsv1', 'ps', '-q'])).stdout.trim().split('\n').length, 3);
    assert.deepEqual(
      (await compose1(ref.host, a, ['-p', 'sbsberth', 'ps', '--services'])).stdout.trim().split('\n').sort(),
      ['store', 'web', 'worker'],
    );
    // config --services agrees.
    const lines = (t: string) => t.trim().split('\n').sort();
    assert.deepEqual(
      lines((await berthCompose(ref.host, a, ['config', '--services'])).stdout),
      lines((await compose1(ref.host, b, ['config', '--services'])).stdout),
    );
    for (const [cli, app, p] of [
      [berthCompose, a, 'sbsberth'],
      [compose1, b, 'sbsv1'],
    ] as const) {
      const down = await cli(ref.host, app, ['-p', p, 'down', '-v']);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await names(ref.socket, p), []);
      assert.equal((await api(ref.socket, 'GET', `/networks/${p}_default`)).status, 404);
      assert.equal((await api(ref.socket, 'GET', `/volumes/${p}_data`)).status, 404);
    }
  });

  it('a bad file: both refuse it, start nothing', async () => {
    const app = join(dir, 'bad');
    await mkdir(app, { recursive: true });
    await writeFile(join(app, 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    imagee: x\n');
    const ours = await berthCompose(ref.host, app, ['-p', 'badb', 'up', '-d']);
    const theirs = await compose1(ref.host, app, ['-p', 'badv', 'up', '-d']);
    assert.notEqual(ours.code, 0);
    assert.notEqual(theirs.code, 0);
    assert.match(ours.stderr, /compose\.yaml:4:5: services\.web: additional property "imagee" is not allowed/);
    assert.match(theirs.stderr, /imagee/);
    assert.deepEqual(await names(ref.socket, 'badb'), []);
    assert.deepEqual(await names(ref.socket, 'badv'), []);
  });

  it('a failing build: both say so and start nothing', async () => {
    const app = join(dir, 'failbuild');
    await mkdir(app, { recursive: true });
    await writeFile(join(app, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
    await writeFile(join(app, 'compose.yaml'), 'services:\n  app:\n    build: .\n');
    const ours = await berthCompose(ref.host, app, ['-p', 'fbb', 'up', '-d']);
    assert.notEqual(ours.code, 0);
    assert.match(ours.stderr, /failed to build service "app": .*returned a non-zero code: 3/);
    assert.deepEqual(await names(ref.socket, 'fbb'), []);
    const theirs = await compose1(ref.host, app, ['-p', 'fbv', 'up', '-d']);
    assert.notEqual(theirs.code, 0);
    assert.deepEqual(await names(ref.socket, 'fbv'), []);
  });
});
