/**
 * The compose flags a user reaches for that the other compose tests do not: `up --no-start`, `--no-recreate`,
 * `--remove-orphans`, `--pull never|missing`, `--no-build`, `--wait --wait-timeout`, `--abort-on-container-exit`;
 * `ps --status`, `logs --since`, `exec --index`, `run --service-ports` and `--entrypoint`. Against a real berthd.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon } from './harness.ts';
import { berthAt, berthCompose, freePort, writeApp } from './compose-kit.ts';

let d: Daemon;
let work: string;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-compose-flags-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

interface PsRow {
  Name: string;
  ID: string;
  State: string;
  Service: string;
}

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string) {
  const r = await p;
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

function project(name: string, text: string) {
  const dir = writeApp(join(work, name), text);
  const c = (...args: string[]) => berthCompose(d.host, dir, ['-p', name, ...args]);
  const ps = async (...args: string[]) =>
    (await ok(c('ps', '-a', '--format', 'json', ...args), 'ps')).stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as PsRow);
  return { dir, c, ps };
}

const SLEEPER = '    image: busybox\n    command: ["sleep", "3600"]\n    stop_signal: SIGKILL\n';

describe('compose flags', () => {
  it('up --no-start creates without starting; --no-recreate keeps a changed service; --remove-orphans', async () => {
    const p = project('flagsa', `services:\n  a:\n${SLEEPER}  b:\n${SLEEPER}`);
    await ok(p.c('up', '--no-start'), 'up --no-start');
    assert.deepEqual(
      (await p.ps()).map((r) => [r.Service, r.State]),
      [
        ['a', 'created'],
        ['b', 'created'],
      ],
    );
    await ok(p.c('up', '-d'), 'up -d');
    const before = (await p.ps()).find((r) => r.Service === 'a')!;
    assert.equal(before.State, 'running');
    // A changed service is left as it is with --no-recreate, recreated without it.
    await writeFile(
      join(p.dir, 'compose.yaml'),
      `services:\n  a:\n${SLEEPER}    environment: {CHANGED: "1"}\n  b:\n${SLEEPER}`,
    );
    await ok(p.c('up', '-d', '--no-recreate'), 'up --no-recreate');
    assert.equal((await p.ps()).find((r) => r.Service === 'a')!.ID, before.ID);
    await ok(p.c('up', '-d'), 'up -d after the change');
    assert.notEqual((await p.ps()).find((r) => r.Service === 'a')!.ID, before.ID);
    // b left the file: a warning without --remove-orphans, removed with it.
    await writeFile(join(p.dir, 'compose.yaml'), `services:\n  a:\n${SLEEPER}    environment: {CHANGED: "1"}\n`);
    const warned = await ok(p.c('up', '-d'), 'up with an orphan');
    assert.match(warned.stderr, /Found orphan containers \(\[flagsa-b-1\]\)/);
    await ok(p.c('up', '-d', '--remove-orphans'), 'up --remove-orphans');
    assert.deepEqual(
      (await p.ps()).map((r) => r.Service),
      ['a'],
    );
    await ok(p.c('down'), 'down');
  });

  it('ps --status, logs --since, exec --index', async () => {
    const p = project(
      'flagsb',
      `services:\n  w:\n    image: busybox\n    command: ["sh", "-c", "echo line-$$HOSTNAME; sleep 3600"]\n    stop_signal: SIGKILL\n    scale: 2\n  done:\n    image: busybox\n    command: ["true"]\n`,
    );
    await ok(p.c('up', '-d'), 'up');
    await ok(p.c('wait', 'done'), 'wait');
    assert.deepEqual(
      (await p.ps('--status', 'running')).map((r) => r.Name),
      ['flagsb-w-1', 'flagsb-w-2'],
    );
    assert.deepEqual(
      (await p.ps('--status', 'exited')).map((r) => r.Name),
      ['flagsb-done-1'],
    );
    // --index picks the replica: each prints its own hostname.
    const host = async (i: string) => (await ok(p.c('exec', '-T', '--index', i, 'w', 'hostname'), 'exec')).stdout;
    const [h1, h2] = [await host('1'), await host('2')];
    assert.notEqual(h1, h2);
    const inspect = JSON.parse((await berthAt(d.host, ['inspect', 'flagsb-w-2'])).stdout)[0] as {
      Config: { Hostname: string };
    };
    assert.equal(h2.trim(), inspect.Config.Hostname);
    const all = await ok(p.c('logs', '--no-color', 'w'), 'logs');
    assert.equal(all.stdout.match(/line-/g)?.length, 2);
    const future = await ok(p.c('logs', '--since', '2999-01-01T00:00:00Z', 'w'), 'logs --since (future)');
    assert.equal(future.stdout.trim(), '');
    const past = await ok(p.c('logs', '--since', '10m', 'w'), 'logs --since 10m');
    assert.equal(past.stdout.match(/line-/g)?.length, 2);
    await ok(p.c('down'), 'down');
  });

  it('run --service-ports publishes the service ports; --entrypoint replaces the entrypoint', async () => {
    const port = await freePort();
    const p = project(
      'flagsc',
      `services:\n  web:\n    image: busybox\n    command: ["sh", "-c", "mkdir -p /w && echo served > /w/index.html && exec httpd -f -p 8080 -h /w"]\n    ports: ["${port}:8080"]\n`,
    );
    await ok(p.c('run', '-d', '--service-ports', '--name', 'flagsc-oneoff', 'web'), 'run --service-ports');
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.text(),
        () => '',
      );
      if (body === '') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'served\n');
    const entry = await ok(p.c('run', '--rm', '-T', '--entrypoint', 'echo', 'web', 'from', 'entrypoint'), 'run');
    assert.equal(entry.stdout.trim(), 'from entrypoint');
    await ok(p.c('down'), 'down');
  });

  it('up --pull never and missing, --no-build, --wait --wait-timeout, --abort-on-container-exit', async () => {
    const p = project('flagsd', `services:\n  a:\n    image: berth-test/not-here:1\n`);
    const never = await p.c('up', '-d', '--pull', 'never');
    assert.notEqual(never.code, 0);
    assert.match(never.stderr, /not-here/);
    assert.deepEqual(await p.ps(), [], 'nothing created');
    // A build service whose image is missing: --no-build refuses to build it.
    await writeFile(join(p.dir, 'Dockerfile'), 'FROM busybox\n');
    await writeFile(join(p.dir, 'compose.yaml'), 'services:\n  b:\n    build: .\n    command: ["sleep", "3600"]\n');
    const nobuild = await p.c('up', '-d', '--no-build');
    assert.notEqual(nobuild.code, 0);
    assert.deepEqual(await p.ps(), [], 'nothing created');
    // --pull missing with the image present pulls nothing and starts; --wait gives up after --wait-timeout.
    await writeFile(
      join(p.dir, 'compose.yaml'),
      `services:\n  slow:\n${SLEEPER}    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 100}\n  quick:\n${SLEEPER}`,
    );
    await ok(p.c('up', '-d', '--pull', 'missing', 'quick'), 'up --pull missing');
    const started = Date.now();
    const waited = await p.c('up', '-d', '--wait', '--wait-timeout', '2');
    assert.notEqual(waited.code, 0, 'slow never becomes healthy');
    assert.ok(Date.now() - started < 60_000);
    // --abort-on-container-exit: when one container exits, the others are stopped.
    await writeFile(
      join(p.dir, 'compose.yaml'),
      `services:\n  stays:\n${SLEEPER}  ends:\n    image: busybox\n    command: ["sh", "-c", "sleep 1; exit 3"]\n`,
    );
    const aborted = await p.c('up', '--abort-on-container-exit', '--remove-orphans');
    assert.match(aborted.stderr, /Aborting on container exit/);
    assert.equal((await p.ps()).find((r) => r.Service === 'stays')?.State, 'exited');
    await ok(p.c('down'), 'down');
  });
});
