/**
 * The other compose commands against a real berthd, on one small project: port, top, images, ls, exec, run,
 * cp, pause/unpause, stop/start, restart, kill, rm, wait, events, and the attached up (abort on exit, exit code).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BERTH, type Daemon, startDaemon } from './harness.ts';
import { berthCompose, freePort, writeApp } from './compose-kit.ts';

let d: Daemon;
let work: string;
let dir: string;
let port: number;
const P = 'cmds';

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-compose-cmds-'));
  port = await freePort();
  dir = writeApp(
    join(work, 'app'),
    `services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["${port}:8080"]
    stop_signal: SIGKILL
  job:
    image: busybox
    command: ["sh", "-c", "sleep 1; exit 4"]
`,
  );
  const up = await berthCompose(d.host, dir, ['-p', P, 'up', '-d', 'web']);
  assert.equal(up.code, 0, up.stderr);
});
after(async () => {
  await berthCompose(d.host, dir, ['-p', P, 'down', '-v']).catch(() => {});
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const c = (...args: string[]) => berthCompose(d.host, dir, ['-p', P, ...args]);

describe('compose commands', () => {
  it('port, top, images, ls', async () => {
    assert.equal((await c('port', 'web', '8080')).stdout.trim(), `0.0.0.0:${port}`);
    const top = await c('top', 'web');
    assert.match(top.stdout, /^cmds-web-1$/m);
    assert.match(top.stdout, /httpd -f -p 8080/);
    const images = await c('images');
    assert.match(images.stdout, /^CONTAINER\s+REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE$/m);
    assert.match(images.stdout, /cmds-web-1\s+busybox\s+latest\s+[0-9a-f]{12}/);
    const ls = await c('ls', '--format', 'json');
    const entry = (JSON.parse(ls.stdout) as { Name: string; Status: string }[]).find((p) => p.Name === P);
    assert.equal(entry?.Status, 'running(1)');
  });

  it('exec and run (one-off containers, removed with --rm)', async () => {
    const exec = await c('exec', '-T', 'web', 'cat', '/www/index.html');
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), 'hi');
    const failing = await c('exec', '-T', 'web', 'sh', '-c', 'exit 7');
    assert.equal(failing.code, 7);
    const run = await c('run', '--rm', '-T', '--no-deps', 'job', 'echo', 'one-off');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'one-off');
    const all = await c('ps', '-a', '--format', 'json');
    assert.ok(!all.stdout.includes('job-run'), 'the --rm one-off container is gone');
  });

  it('cp both ways', async () => {
    await writeFile(join(work, 'in.txt'), 'copied in\n');
    assert.equal((await c('cp', join(work, 'in.txt'), 'web:/tmp/in.txt')).code, 0);
    assert.equal((await c('exec', '-T', 'web', 'cat', '/tmp/in.txt')).stdout, 'copied in\n');
    assert.equal((await c('cp', 'web:/www/index.html', join(work, 'out.html'))).code, 0);
    assert.equal(await readFile(join(work, 'out.html'), 'utf8'), 'hi\n');
  });

  it('pause and unpause, stop and start, restart, kill', async () => {
    const state = async () =>
      JSON.parse((await c('ps', '-a', '--format', 'json')).stdout.trim().split('\n')[0]!).State as string;
    assert.equal((await c('pause')).code, 0);
    assert.equal(await state(), 'paused');
    assert.equal((await c('unpause')).code, 0);
    assert.equal(await state(), 'running');
    assert.equal((await c('stop', '-t', '1')).code, 0);
    assert.equal(await state(), 'exited');
    assert.equal((await c('start')).code, 0);
    assert.equal(await state(), 'running');
    const restart = await c('restart', '-t', '1');
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(await state(), 'running');
    assert.equal((await c('kill')).code, 0);
    assert.equal(await state(), 'exited');
    assert.equal((await c('rm', '-f')).code, 0);
    assert.equal((await c('ps', '-a', '-q')).stdout.trim(), '');
  });

  it("events --json reports the project's container events", async () => {
    const child = spawn(BERTH, ['-H', d.host, 'compose', '-p', P, 'events', '--json'], { cwd: dir });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await c('up', '-d', 'web')).code, 0);
    const deadline = Date.now() + 20_000;
    while (!/"action":"start"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    const start = out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { action: string; service: string; type: string })
      .find((e) => e.action === 'start');
    assert.equal(start?.service, 'web');
    assert.equal(start?.type, 'container');
  });

  it('wait prints the exit code of a service; the attached up ends with --exit-code-from', async () => {
    assert.equal((await c('up', '-d', 'job')).code, 0);
    const wait = await c('wait', 'job');
    assert.equal(wait.stdout.trim(), '4');
    assert.equal(wait.code, 4);
    const attached = await c('up', '--exit-code-from', 'job', '--force-recreate');
    assert.equal(attached.code, 4, attached.stderr);
    assert.match(attached.stdout, /cmds-job-1 exited with code 4/);
    assert.match(attached.stderr, /Aborting on container exit/);
    const web = JSON.parse((await c('ps', '-a', '--format', 'json', 'web')).stdout.trim()) as { State: string };
    assert.equal(web.State, 'exited', 'the other services were stopped');
  });
});
