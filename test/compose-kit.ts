/**
 * Helpers for the compose tests: the three-service app (a web server behind a published port, a worker, a store)
 * built from busybox with the engine's own container commit, the compose file that runs it, and the CLIs that
 * drive it (berth compose, docker compose through the plugin, Debian's docker-compose 1.29.2).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BERTH, ROOT, run, type RunResult } from './harness.ts';
import { type RefDockerd, startRefDockerd } from './refdockerd.ts';

const TIMEOUT = 180_000;

/** A free TCP port on the host. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** `berth compose ARGS` against `host`, in `cwd`. */
export function berthCompose(
  host: string,
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return run(BERTH, ['-H', host, 'compose', ...args], env, undefined, { cwd, timeoutMs: TIMEOUT });
}

/** A DOCKER_CONFIG directory with bin/docker-compose installed as the compose plugin. */
export function pluginConfig(dir: string): string {
  const config = join(dir, 'docker-config');
  mkdirSync(join(config, 'cli-plugins'), { recursive: true });
  symlinkSync(join(ROOT, 'bin', 'docker-compose'), join(config, 'cli-plugins', 'docker-compose'));
  return config;
}

/** `docker compose ARGS` (the docker CLI 28 running the plugin) against `host`. */
export function dockerCompose(host: string, config: string, cwd: string, args: string[]): Promise<RunResult> {
  return run('docker', ['compose', ...args], { DOCKER_HOST: host, DOCKER_CONFIG: config }, undefined, {
    cwd,
    timeoutMs: TIMEOUT,
  });
}

/** Debian's docker-compose 1.29.2 against `host`. */
export function compose1(host: string, cwd: string, args: string[]): Promise<RunResult> {
  return run('docker-compose', args, { DOCKER_HOST: host, COMPOSE_INTERACTIVE_NO_CLI: '1' }, undefined, {
    cwd,
    timeoutMs: TIMEOUT,
  });
}

/** `berth ARGS` against `host` (the engine CLI). */
export function berthAt(host: string, args: string[], input?: string): Promise<RunResult> {
  return run(BERTH, ['-H', host, ...args], {}, input, { timeoutMs: TIMEOUT });
}

async function must(r: Promise<RunResult>, what: string): Promise<RunResult> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr}${res.stdout}`);
  return res;
}

/**
 * The app's images, built from busybox by committing containers: `<prefix>/web` (httpd serving /www, which holds
 * index.html saying `marker`), `<prefix>/worker` (prints "working" every half second) and `<prefix>/store` (a line
 * server on 6379 that says "store ready to accept" first).
 */
export async function buildAppImages(host: string, prefix: string, marker: string): Promise<void> {
  const specs: [string, string[], string][] = [
    ['web', ['httpd', '-f', '-p', '8080', '-h', '/www'], `mkdir -p /www && echo ${marker} > /www/index.html`],
    ['worker', ['sh', '-c', 'while true; do echo working; sleep 0.5; done'], 'true'],
    ['store', ['sh', '-c', 'echo store ready to accept; exec nc -ll -p 6379 -e cat'], 'mkdir -p /data'],
  ];
  for (const [name, cmd, setup] of specs) {
    const cname = `${prefix.replaceAll('/', '-')}-build-${name}`;
    await must(berthAt(host, ['run', '--name', cname, 'busybox', 'sh', '-c', setup]), `prepare ${name}`);
    await must(
      berthAt(host, ['commit', '--change', `CMD ${JSON.stringify(cmd)}`, cname, `${prefix}/${name}:1`]),
      `commit ${name}`,
    );
    await must(berthAt(host, ['rm', cname]), `rm ${cname}`);
  }
}

/** The app's compose file (no top-level `name:`, which docker-compose 1.29.2 does not know). */
export function appFile(prefix: string, port: number, extra = ''): string {
  return `services:
  web:
    image: ${prefix}/web:1
    ports: ["${port}:8080"]
    environment: [MODE=one]
    depends_on:
      store: {condition: service_healthy}
    x-berth-ready: {http: /, port: 8080}
  worker:
    image: ${prefix}/worker:1
    depends_on: [store]
  store:
    image: ${prefix}/store:1
    volumes: [data:/data]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    x-berth-ready: {tcp: 6379}
volumes:
  data: {}
${extra}`;
}

export function writeApp(dir: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'compose.yaml'), text);
  return dir;
}

/** `GET http://127.0.0.1:port/` as text ('' when nothing answers). */
export async function httpGet(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    return await res.text();
  } catch {
    return '';
  }
}

/** A reference dockerd on its own roots (no bridge, no iptables), stopped by its PID (test/refdockerd.ts). */
export function startDockerd(dir: string): Promise<RefDockerd> {
  return startRefDockerd(dir);
}
