/**
 * Compose acceptance against a real berthd: the three-service app from busybox-built images, `up -d --wait`, `ps`,
 * `logs -f`, scale, recreate only what changed, `down -v` leaving nothing; bad files refused with file, line and
 * key before anything starts; the faults of issue 15.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, BERTH, type Daemon, startDaemon } from './harness.ts';
import { appFile, berthCompose, buildAppImages, freePort, httpGet, writeApp } from './compose-kit.ts';

let d: Daemon;
let work: string;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-compose-'));
  await buildAppImages(d.host, 'ct', 'hello-from-web');
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Summary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}
async function projectState(
  project: string,
): Promise<{ containers: Summary[]; networks: string[]; volumes: string[] }> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  const containers = JSON.parse(
    (await api(d.socket, 'GET', `/containers/json?all=1&filters=${filter}`)).body,
  ) as Summary[];
  const networks = (
    JSON.parse((await api(d.socket, 'GET', `/networks?filters=${filter}`)).body) as { Name: string }[]
  ).map((n) => n.Name);
  const volumes = (
    (
      JSON.parse((await api(d.socket, 'GET', `/volumes?filters=${filter}`)).body) as {
        Volumes: { Name: string }[] | null;
      }
    ).Volumes ?? []
  ).map((v) => v.Name);
  return { containers, networks, volumes };
}
const ids = (s: Summary[], service: string) =>
  s
    .filter((c) => c.Labels['com.docker.compose.service'] === service)
    .map((c) => c.Id)
    .sort();

describe('the three-service app through berth compose', () => {
  let dir: string;
  let port: number;
  const project = 'acme';

  it('up -d --wait starts store, then web and worker; web answers on its published port', async () => {
    port = await freePort();
    dir = writeApp(join(work, 'app'), appFile('ct', port));
    const r = await berthCompose(d.host, dir, ['-p', project, 'up', '-d', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Network acme_default {2}Created/);
    assert.match(r.stderr, /Volume acme_data {2}Created/);
    assert.match(r.stderr, /Container acme-store-1 {2}Healthy/);
    assert.equal((await httpGet(port)).trim(), 'hello-from-web');
    const state = await projectState(project);
    assert.deepEqual(state.containers.map((c) => c.Names[0]).sort(), [
      '/acme-store-1',
      '/acme-web-1',
      '/acme-worker-1',
    ]);
    assert.ok(state.containers.every((c) => c.State === 'running'));
    assert.deepEqual(state.networks, ['acme_default']);
    assert.deepEqual(state.volumes, ['acme_data']);
    const web = state.containers.find((c) => c.Names[0] === '/acme-web-1')!;
    assert.equal(web.Labels['com.docker.compose.container-number'], '1');
    assert.equal(web.Labels['com.docker.compose.oneoff'], 'False');
    assert.equal(web.Labels['com.docker.compose.project.working_dir'], dir);
    assert.equal(web.Labels['com.docker.compose.depends_on'], 'store:service_healthy:false');
    assert.match(web.Labels['com.docker.compose.config-hash']!, /^[0-9a-f]{64}$/);
  });

  it('services resolve each other by service name on the project network', async () => {
    const r = await berthCompose(d.host, dir, [
      '-p',
      project,
      'exec',
      '-T',
      'worker',
      'sh',
      '-c',
      'echo ping | nc -w 2 store 6379',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ping');
  });

  it('ps lists the containers with their readiness; --format json and --services', async () => {
    const r = await berthCompose(d.host, dir, ['-p', project, 'ps']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$/);
    assert.equal(lines.length, 4);
    assert.match(r.stdout, /acme-web-1 .* web .*Up .*\(ready\).*:\d+->8080\/tcp/);
    assert.match(r.stdout, /acme-store-1 .* store .*\(ready\)/);
    const json = (await berthCompose(d.host, dir, ['-p', project, 'ps', '--format', 'json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Service: string; State: string; Health: string; Project: string });
    assert.deepEqual(json.map((j) => j.Service).sort(), ['store', 'web', 'worker']);
    assert.ok(json.every((j) => j.State === 'running' && j.Project === project));
    assert.equal(json.find((j) => j.Service === 'web')!.Health, 'ready');
    assert.equal((await berthCompose(d.host, dir, ['-p', project, 'ps', '--services'])).stdout, 'store\nweb\nworker\n');
    // A Go template over the same fields, one line per container, as Docker Compose v2.
    const tmpl = await berthCompose(d.host, dir, [
      '-p',
      project,
      'ps',
      '--format',
      '{{.Service}} {{.State}} {{.Health}}',
    ]);
    assert.equal(tmpl.code, 0, tmpl.stderr);
    assert.deepEqual(tmpl.stdout.split('\n').filter(Boolean).sort(), [
      'store running ready',
      'web running ready',
      'worker running ',
    ]);
    const bad = await berthCompose(d.host, dir, ['-p', project, 'ps', '--format', '{{.Service']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /template/);
  });

  it('logs shows prefixed lines; logs -f follows until stopped', async () => {
    const r = await berthCompose(d.host, dir, ['-p', project, 'logs', 'store']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^store-1 {2}\| store ready to accept$/m);
    const child = spawn(BERTH, ['-H', d.host, 'compose', '-p', project, 'logs', '-f', '--tail', '1', 'worker'], {
      cwd: dir,
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`logs -f showed only: ${out}`)), 20_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if ((out.match(/worker-1 {2}\| working/g) ?? []).length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.notEqual(code, null);
  });

  it('scale the worker to 3, then back to 1 (the highest numbers go)', async () => {
    let r = await berthCompose(d.host, dir, ['-p', project, 'up', '-d', '--scale', 'worker=3']);
    assert.equal(r.code, 0, r.stderr);
    let state = await projectState(project);
    const workers = state.containers.filter((c) => c.Labels['com.docker.compose.service'] === 'worker');
    assert.deepEqual(workers.map((c) => c.Names[0]).sort(), ['/acme-worker-1', '/acme-worker-2', '/acme-worker-3']);
    assert.ok(workers.every((c) => c.State === 'running'));
    r = await berthCompose(d.host, dir, ['-p', project, 'up', '-d', '--scale', 'worker=1']);
    assert.equal(r.code, 0, r.stderr);
    state = await projectState(project);
    assert.deepEqual(
      state.containers.filter((c) => c.Labels['com.docker.compose.service'] === 'worker').map((c) => c.Names[0]),
      ['/acme-worker-1'],
    );
  });

  it('a change to one service recreates only that service', async () => {
    const before = (await projectState(project)).containers;
    await writeFile(join(dir, 'compose.yaml'), appFile('ct', port).replace('MODE=one', 'MODE=two'));
    const r = await berthCompose(d.host, dir, ['-p', project, 'up', '-d', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container acme-web-1 {2}Recreated/);
    assert.doesNotMatch(r.stderr, /acme-(store|worker)-1 {2}Recreate/);
    const now = (await projectState(project)).containers;
    assert.notDeepEqual(ids(now, 'web'), ids(before, 'web'));
    assert.deepEqual(ids(now, 'store'), ids(before, 'store'));
    assert.deepEqual(ids(now, 'worker'), ids(before, 'worker'));
    const env = JSON.parse((await api(d.socket, 'GET', '/containers/acme-web-1/json')).body) as {
      Config: { Env: string[] };
    };
    assert.ok(env.Config.Env.includes('MODE=two'));
    assert.equal((await httpGet(port)).trim(), 'hello-from-web');
    // Nothing changed: nothing is recreated.
    const again = await berthCompose(d.host, dir, ['-p', project, 'up', '-d']);
    assert.doesNotMatch(again.stderr, /Recreate/);
  });

  it('config prints the normalised model; --services, --volumes, --images, --hash', async () => {
    const r = await berthCompose(d.host, dir, ['-p', project, 'config', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { name: string; services: Record<string, { ports?: unknown[] }> };
    assert.equal(doc.name, project);
    assert.deepEqual(doc.services.web!.ports, [
      { mode: 'ingress', target: 8080, published: String(port), protocol: 'tcp' },
    ]);
    assert.equal((await berthCompose(d.host, dir, ['config', '--services'])).stdout, 'store\nweb\nworker\n');
    assert.equal((await berthCompose(d.host, dir, ['config', '--volumes'])).stdout, 'data\n');
    assert.equal(
      (await berthCompose(d.host, dir, ['config', '--images'])).stdout,
      'ct/store:1\nct/web:1\nct/worker:1\n',
    );
    const hash = (await berthCompose(d.host, dir, ['config', '--hash', 'web'])).stdout.trim();
    const label = (await projectState(project)).containers.find((c) => c.Names[0] === '/acme-web-1')!.Labels[
      'com.docker.compose.config-hash'
    ];
    assert.equal(hash, `web ${label}`);
  });

  it('down -v leaves no container, network or volume', async () => {
    const r = await berthCompose(d.host, dir, ['-p', project, 'down', '-v']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await projectState(project), { containers: [], networks: [], volumes: [] });
  });
});

describe('bad files: clear errors naming file, line and key; nothing started', () => {
  const cases: [string, string, RegExp][] = [
    [
      'unknown key',
      'services:\n  web:\n    image: ct/web:1\n    imagee: x\n',
      /compose\.yaml:4:5: services\.web: additional property "imagee" is not allowed/,
    ],
    [
      'wrong type',
      'services:\n  web:\n    image: ct/web:1\n    ports: 8080\n',
      /compose\.yaml:4:5: services\.web\.ports: must be a list/,
    ],
    [
      'a dependency cycle',
      'services:\n  a:\n    image: ct/web:1\n    depends_on: [b]\n  b:\n    image: ct/web:1\n    depends_on: [a]\n',
      /dependency cycle detected: a -> b -> a/,
    ],
    [
      'a missing required variable',
      'services:\n  web:\n    image: "${TAG:?TAG must be set}"\n',
      /compose\.yaml:3:5: services\.web\.image: required variable TAG is missing a value: TAG must be set/,
    ],
    [
      'an unknown service in depends_on',
      'services:\n  web:\n    image: ct/web:1\n    depends_on: [db]\n',
      /compose\.yaml:4:5: .*service "web" depends on undefined service "db"/,
    ],
  ];
  for (const [what, text, re] of cases) {
    it(what, async () => {
      const dir = writeApp(join(work, `bad-${what.replaceAll(' ', '-')}`), text);
      const r = await berthCompose(d.host, dir, ['-p', 'bad', 'up', '-d']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.ok(r.stderr.includes(join(dir, 'compose.yaml')), r.stderr);
      assert.deepEqual(await projectState('bad'), { containers: [], networks: [], volumes: [] });
    });
  }
});

describe('faults', () => {
  let blocker: Server;
  after(() => blocker?.close());

  it('a port already taken: up says what failed, leaves what started running; down removes everything', async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as { port: number }).port)),
    );
    const dir = writeApp(join(work, 'taken'), appFile('ct', port));
    const r = await berthCompose(d.host, dir, ['-p', 'taken', 'up', '-d']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /port is already allocated|address already in use/);
    const state = await projectState('taken');
    assert.equal(state.containers.find((c) => c.Names[0] === '/taken-store-1')?.State, 'running');
    const down = await berthCompose(d.host, dir, ['-p', 'taken', 'down', '-v']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await projectState('taken'), { containers: [], networks: [], volumes: [] });
  });

  it('a dependency that exits fails service_healthy, naming the container', async () => {
    const dir = writeApp(
      join(work, 'exits'),
      'services:\n  db:\n    image: busybox\n    command: ["false"]\n    x-berth-ready: {tcp: 5432}\n' +
        '  app:\n    image: busybox\n    command: ["sleep", "60"]\n    depends_on: {db: {condition: service_healthy}}\n',
    );
    const r = await berthCompose(d.host, dir, ['-p', 'exits', 'up', '-d']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dependency failed to start: container exits-db-1 exited \(1\)/);
    assert.equal((await projectState('exits')).containers.find((c) => c.Names[0] === '/exits-app-1')?.State, 'created');
    assert.equal((await berthCompose(d.host, dir, ['-p', 'exits', 'down'])).code, 0);
    assert.deepEqual(await projectState('exits'), { containers: [], networks: [], volumes: [] });
  });

  it('service_completed_successfully waits for the dependency to exit 0', async () => {
    const dir = writeApp(
      join(work, 'init'),
      'services:\n  init:\n    image: busybox\n    command: ["sh", "-c", "sleep 1; echo done > /shared/flag"]\n    volumes: [shared:/shared]\n' +
        '  app:\n    image: busybox\n    command: ["sh", "-c", "cat /shared/flag; sleep 60"]\n    volumes: [shared:/shared]\n' +
        '    depends_on: {init: {condition: service_completed_successfully}}\nvolumes:\n  shared: {}\n',
    );
    const r = await berthCompose(d.host, dir, ['-p', 'init', 'up', '-d']);
    assert.equal(r.code, 0, r.stderr);
    const logs = await berthCompose(d.host, dir, ['-p', 'init', 'logs', '--no-log-prefix', 'app']);
    assert.equal(logs.stdout.trim(), 'done');
    assert.equal((await berthCompose(d.host, dir, ['-p', 'init', 'down', '-v'])).code, 0);
  });

  it('a build that fails: the service is named, nothing is started', async () => {
    const dir = writeApp(
      join(work, 'build'),
      'services:\n  app:\n    build: .\n  other:\n    image: busybox\n    command: ["sleep", "60"]\n',
    );
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
    const r = await berthCompose(d.host, dir, ['-p', 'build', 'up', '-d']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed to build service "app"/);
    assert.equal((await projectState('build')).containers.length, 0);
    await berthCompose(d.host, dir, ['-p', 'build', 'down']);
  });
});
