/**
 * Integration-test harness: starts a real berthd (bin/berthd) on its own data root, exec root and socket in a
 * temp dir, and stops it (by its PID) and removes everything afterwards.
 */
import { spawn, type ChildProcess, execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '..');
export const BERTH = join(ROOT, 'bin', 'berth');
export const BERTHD = join(ROOT, 'bin', 'berthd');
const exec = promisify(execFile);
const STOP_GRACE_MS = 20_000;
/** docker and berth commands that take longer than this are killed (and fail). */
const COMMAND_TIMEOUT_MS = 120_000;

/** Where a berthd started in `dir` keeps its state: its data root, exec root and socket (`host` is its URL). */
export interface BerthdRoots {
  dir: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  host: string;
}

export function berthdRoots(dir: string): BerthdRoots {
  const socket = join(dir, 'berth.sock');
  return { dir, dataRoot: join(dir, 'data'), execRoot: join(dir, 'exec'), socket, host: `unix://${socket}` };
}

/** berthd's arguments naming those roots and the socket it listens on. */
export function rootArgs(r: Pick<BerthdRoots, 'dataRoot' | 'execRoot' | 'host'>): string[] {
  return ['--data-root', r.dataRoot, '--exec-root', r.execRoot, '-H', r.host];
}

export interface Daemon extends BerthdRoots {
  proc: ChildProcess;
  log: () => string;
  /** Sends SIGTERM and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts the daemon again on the same roots. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  args?: string[];
  seed?: boolean;
  dir?: string;
}

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  const roots = berthdRoots(opts.dir ?? (await mkdtemp(join(tmpdir(), 'berth-it-'))));
  const { dir, socket } = roots;
  let out = '';
  let proc!: ChildProcess;
  // Many daemons run at once (other test files, other checkouts): each gets its own default bridge and a /24 of
  // 10.203.0.0/16 that no route of the host uses now.
  const net = opts.args?.includes('--bridge')
    ? []
    : ['--bridge', `bt${randomBytes(3).toString('hex')}`, '--bip', `${await freeBridgeSubnet()}1/24`];
  const launch = async () => {
    const args = [...rootArgs(roots), ...(opts.seed ? [] : ['--no-seed']), ...net, ...(opts.args ?? [])];
    proc = spawn(BERTHD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitReady(socket, proc, () => out);
  };
  await launch();
  const d: Daemon = {
    ...roots,
    get proc() {
      return proc;
    },
    log: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolveStop) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolveStop(proc.exitCode);
        // A daemon that does not stop within STOP_GRACE_MS is killed, so a test run never hangs on it.
        const force = setTimeout(() => {
          out += `\n[harness: berthd did not exit within ${STOP_GRACE_MS} ms of ${signal}; killed]\n`;
          proc.kill('SIGKILL');
        }, STOP_GRACE_MS);
        proc.once('exit', (code) => {
          clearTimeout(force);
          resolveStop(code);
        });
        proc.kill(signal);
      }),
    restart: async () => {
      await launch();
    },
    cleanup: async () => {
      if (proc.exitCode === null && proc.signalCode === null) await removeLeftovers(socket);
      await d.stop();
      await rm(dir, { recursive: true, force: true });
      // Node closes a FileHandle nobody closed when it is collected, and says so: a leak, whichever test caused it.
      const leak = out.split('\n').find((l) => l.includes('on garbage collection'));
      if (leak) throw new Error(`berthd left a file handle to the garbage collector: ${leak}`);
    },
  };
  return d;
}

/**
 * What a test that failed half-way left in a running daemon: its containers (they outlive berthd, with their
 * mounts, network namespaces and monitors) and its networks (bridges and firewall rules on the host). Removed
 * through the API before the daemon stops; best effort, bounded in time, so that clean-up never hangs on it.
 */
async function removeLeftovers(socket: string): Promise<void> {
  const work = (async () => {
    const ps = await api(socket, 'GET', '/containers/json?all=1');
    if (ps.status === 200) {
      const ids = (JSON.parse(ps.body) as { Id: string }[]).map((c) => c.Id);
      await Promise.all(ids.map((id) => api(socket, 'DELETE', `/containers/${id}?force=1&v=1`)));
    }
    const nets = await api(socket, 'GET', '/networks');
    if (nets.status === 200) {
      const names = (JSON.parse(nets.body) as { Name: string }[]).map((n) => n.Name);
      const own = names.filter((n) => !['bridge', 'host', 'none'].includes(n));
      await Promise.all(own.map((n) => api(socket, 'DELETE', `/networks/${encodeURIComponent(n)}`)));
    }
  })().catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
  clearTimeout(timer);
}

/** `10.203.X.` for a random X that no IPv4 route of the host is in. */
async function freeBridgeSubnet(): Promise<string> {
  const { stdout } = await exec('ip', ['-o', '-4', 'route']);
  for (;;) {
    const prefix = `10.203.${randomInt(256)}.`;
    if (!stdout.includes(prefix)) return prefix;
  }
}

async function waitReady(socket: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}:\n${log()}`);
    if (await ping(socket)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`berthd did not answer on ${socket} within 60s:\n${log()}`);
}

function ping(socket: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET' }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.end();
  });
}

/** A raw Engine API call; returns status, headers and the body as text. */
export function api(
  socket: string,
  method: string,
  path: string,
  body?: Buffer | string | NodeJS.ReadableStream,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; raw: Buffer }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: socket, path, method, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => {
        const raw = Buffer.concat(chunks);
        res({ status: r.statusCode ?? 0, headers: r.headers, body: raw.toString('utf8'), raw });
      });
      r.on('error', rej);
    });
    req.on('error', rej);
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else (body as NodeJS.ReadableStream).pipe(req);
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throwing on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  input?: Buffer | string,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((res) => {
    const p = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    // A command that should end but hangs is killed (by its PID), and says so in stderr.
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[killed after ${opts.timeoutMs} ms]`;
          p.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}

export async function berth(d: Daemon, args: string[], input?: Buffer | string): Promise<RunResult> {
  return run(BERTH, ['-H', d.host, ...args], {}, input, { timeoutMs: COMMAND_TIMEOUT_MS });
}

export async function docker(d: Daemon, args: string[], input?: Buffer | string): Promise<RunResult> {
  return run('docker', args, { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }, input, {
    timeoutMs: COMMAND_TIMEOUT_MS,
  });
}

/** Polls `cond` every 20 ms until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The image IDs (full) the daemon lists, sorted. */
export async function imageIds(d: Daemon): Promise<string[]> {
  const r = await api(d.socket, 'GET', '/images/json?all=1');
  return (JSON.parse(r.body) as { Id: string }[]).map((i) => i.Id).sort();
}

export async function sh(cmd: string): Promise<string> {
  const r = await exec('bash', ['-c', cmd], { maxBuffer: 64 << 20 });
  return r.stdout;
}
