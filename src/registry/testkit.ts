/**
 * Test helpers: a real `berth registry serve` process on 127.0.0.1 (a port from the kernel) over a temp root,
 * stopped by its PID; and small raw-HTTP helpers for the distribution API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BERTH = join(ROOT, 'bin', 'berth');

export interface ServedRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` (https with TLS) */
  url: string;
  root: string;
  pid: number;
  log(): string;
  /** SIGTERM, and waits for the exit; the root stays. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash), and waits; the root stays. */
  kill(): Promise<void>;
  /** Starts it again on the same root and port. */
  restart(): Promise<void>;
}

export interface ServeOptions {
  /** Extra `serve` flags. */
  args?: string[];
  /** An existing root (kept afterwards); default a temp dir removed after the test. */
  root?: string;
  env?: NodeJS.ProcessEnv;
  /** The `berth` command to run (default this checkout's `bin/berth`), e.g. another checkout's for a benchmark. */
  berth?: string;
}

const READY_RE = /listening on (https?):\/\/([^ ]+):(\d+)/;

/** Starts `berth registry serve --addr 127.0.0.1:0` and stops it after the test. */
export async function serveRegistry(t: TestContext | undefined, opts: ServeOptions = {}): Promise<ServedRegistry> {
  const own = opts.root === undefined;
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'berth-regsrv-')));
  let proc!: ChildProcess;
  let out = '';
  let addr = '127.0.0.1:0';
  let url = '';
  const launch = async () => {
    proc = spawn(opts.berth ?? BERTH, ['registry', 'serve', '--addr', addr, '--root', root, ...(opts.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const p = proc;
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`registry did not start in time:\n${out}`)), 20_000);
      const check = () => {
        const m = READY_RE.exec(out);
        if (m) {
          clearTimeout(timer);
          p.stdout!.off('data', check);
          p.stderr!.off('data', check);
          addr = `${m[2]}:${m[3]}`;
          url = `${m[1]}://${addr}`;
          res();
        }
      };
      p.stdout!.on('data', check);
      p.stderr!.on('data', check);
      p.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`registry exited with ${code} before it listened:\n${out}`));
      });
    });
  };
  const waitExit = (p: ChildProcess) =>
    new Promise<number | null>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) r(p.exitCode);
      else p.once('exit', (code) => r(code));
    });
  await launch();
  const reg: ServedRegistry = {
    get host() {
      return addr;
    },
    get url() {
      return url;
    },
    root,
    get pid() {
      return proc.pid!;
    },
    log: () => out,
    stop: async () => {
      const p = proc;
      if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
      const force = setTimeout(() => p.kill('SIGKILL'), 15_000);
      p.kill('SIGTERM');
      const code = await waitExit(p);
      clearTimeout(force);
      return code;
    },
    kill: async () => {
      const p = proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGKILL');
      await waitExit(p);
    },
    restart: launch,
  };
  t?.after(async () => {
    await reg.stop();
    if (own) await rm(root, { recursive: true, force: true });
  });
  return reg;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** fetch with the registry's base URL; never follows redirects. */
export function call(
  reg: { url: string },
  method: string,
  path: string,
  opts: { body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${reg.url}${path}`, {
    method,
    redirect: 'manual',
    headers: opts.headers ?? {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
}

/** Pushes a blob monolithically (POST then PUT); returns its digest. */
export async function pushBlob(
  reg: { url: string },
  repo: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = sha256(data);
  const post = await call(reg, 'POST', `/v2/${repo}/blobs/uploads/`, { headers });
  if (post.status !== 202) throw new Error(`POST upload: ${post.status} ${await post.text()}`);
  const loc = post.headers.get('location')!;
  const sep = loc.includes('?') ? '&' : '?';
  const put = await fetch(new URL(`${loc}${sep}digest=${digest}`, reg.url), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
    body: data,
  });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${await put.text()}`);
  return digest;
}

/** An image manifest over a config and layers pushed with `pushBlob`; returns the manifest bytes and digest. */
export async function pushImage(
  reg: { url: string },
  repo: string,
  tag: string,
  opts: { layers?: Buffer[]; config?: Buffer; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
): Promise<{ manifest: Buffer; digest: string; config: string; layers: string[] }> {
  const headers = opts.headers ?? {};
  const config =
    opts.config ??
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        n: randomBytes(4).toString('hex'),
      }),
    );
  const layers = opts.layers ?? [randomBytes(1024)];
  const configDigest = await pushBlob(reg, repo, config, headers);
  const layerDigests: string[] = [];
  for (const l of layers) layerDigests.push(await pushBlob(reg, repo, l, headers));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l, i) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: layerDigests[i],
        size: l.length,
      })),
      ...opts.extra,
    }),
  );
  const res = await call(reg, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', ...headers },
  });
  if (res.status !== 201) throw new Error(`PUT manifest: ${res.status} ${await res.text()}`);
  return { manifest, digest: sha256(manifest), config: configDigest, layers: layerDigests };
}

/** The first error code of a distribution error body. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** A request whose path goes out exactly as written (fetch would resolve `..`); resolves with status and body. */
export function rawCall(
  reg: { host: string },
  method: string,
  path: string,
): Promise<{ status: number; body: string }> {
  const [hostname, port] = reg.host.split(':');
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port: Number(port), method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `berth registry ARGS` (an administration command), with `input` on stdin; never throws on failure. */
export function registryCli(
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(BERTH, ['registry', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

/** A bearer token from the registry's `/token` for `scopes`, with Basic credentials when given. */
export async function getToken(reg: { url: string }, scopes: string[], creds?: string): Promise<Response> {
  const q = new URLSearchParams({ service: 'berth-registry' });
  for (const s of scopes) q.append('scope', s);
  return fetch(`${reg.url}/token?${q}`, {
    headers: creds ? { Authorization: `Basic ${Buffer.from(creds).toString('base64')}` } : {},
  });
}
