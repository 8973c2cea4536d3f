/**
 * How a scenario talks to an engine: raw HTTP (pinned to API 1.41, the reference's version, unless told
 * otherwise), a raw hijacked connection (attach, exec start), the docker CLI 28, docker-py (Debian's
 * python3-docker) and dockerode; and the Recorder that turns what they answered into comparable facts.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { BERTH, run, type RunResult } from '../harness.ts';
import { normalise, shape, valuesAt, type Facts, type Step } from './compare.ts';
import type { Engine, EngineKind } from './engines.ts';

/** The reference dockerd's API version: both engines are asked at it, so version-gated fields compare. */
export const PINNED = '1.41';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  raw: Buffer;
}

export interface HijackResult {
  statusLine: string;
  headers: Record<string, string>;
  data: Buffer;
}

export interface Ctx {
  kind: EngineKind;
  engine: Engine;
  rec: Recorder;
  /** `/v1.41` + path, or the path as given when version is null, or `/v<version>` + path. */
  http(
    method: string,
    path: string,
    body?: Buffer | string | object,
    opts?: { version?: string | null; headers?: Record<string, string> },
  ): Promise<HttpResult>;
  /** A streaming GET read for `ms` (or until it ends), then closed: events, stats, logs with follow. */
  stream(path: string, ms: number): Promise<HttpResult>;
  /** A request with `Upgrade: tcp`, read until the engine closes (or `timeoutMs`, default 15 s). */
  hijack(path: string, body?: object, opts?: { stdin?: string; timeoutMs?: number }): Promise<HijackResult>;
  /** The docker CLI (API pinned to 1.41 unless env says otherwise). */
  cli(args: string[], input?: string | Buffer, env?: Record<string, string>): Promise<RunResult>;
  /** The berth CLI: a client like the others, so it runs against dockerd too. */
  berth(args: string[], input?: string | Buffer): Promise<RunResult>;
  /** Runs Python with `c` (docker.APIClient) and `d` (docker.DockerClient) bound to the engine; returns `out`. */
  py(code: string): Promise<Record<string, unknown>>;
  // biome-ignore lint/suspicious/noExplicitAny: dockerode ships no types
  dockerode(): any;
}

export function makeCtx(engine: Engine, rec: Recorder, scenario: string): Ctx {
  const config = join(engine.dir, 'docker-config');
  return {
    kind: engine.kind,
    engine,
    rec,
    http: (method, path, body, opts = {}) => {
      const prefix = opts.version === null ? '' : `/v${opts.version ?? PINNED}`;
      const headers = { ...(opts.headers ?? {}) };
      let data: Buffer | string | undefined;
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) data = body;
      else {
        data = JSON.stringify(body);
        headers['Content-Type'] ??= 'application/json';
      }
      return call(engine.socket, method, `${prefix}${path}`, data, headers);
    },
    stream: (path, ms) => streamFor(engine.socket, `/v${PINNED}${path}`, ms),
    hijack: (path, body, opts = {}) => hijack(engine.socket, `/v${PINNED}${path}`, body, opts),
    cli: (args, input, env = {}) =>
      run(
        'docker',
        args,
        { DOCKER_HOST: engine.host, DOCKER_CONFIG: config, DOCKER_API_VERSION: PINNED, ...env },
        input,
        {
          timeoutMs: 60_000,
        },
      ),
    berth: (args, input) => run(BERTH, ['-H', engine.host, ...args], {}, input, { timeoutMs: 60_000 }),
    py: async (code) => {
      const script = join(engine.dir, `py-${scenario.replace(/\W/g, '_')}-${Date.now()}.py`);
      await writeFile(
        script,
        `${PY_PRELUDE.replaceAll('SOCKET', engine.socket)}\n${code}\nprint(json.dumps(out, default=str))\n`,
      );
      const r = await run('/usr/bin/python3', [script], {}, undefined, { timeoutMs: 60_000 });
      const last = r.stdout.trim().split('\n').pop() ?? '';
      try {
        return JSON.parse(last) as Record<string, unknown>;
      } catch {
        return { crashed: { code: r.code, stderr: r.stderr.slice(-2000) } };
      }
    },
    dockerode: () => new Docker({ socketPath: engine.socket, version: `v${PINNED}` }),
  };
}

/** docker-py, pinned at 1.41; `rec(key, fn)` keeps a result or the error the client raised. */
const PY_PRELUDE = `
import docker, json, sys
c = docker.APIClient(base_url='unix://SOCKET', version='${PINNED}', timeout=30)
d = docker.DockerClient(base_url='unix://SOCKET', version='${PINNED}', timeout=30)
out = {}
def rec(key, fn):
    try:
        out[key] = {'ok': fn()}
    except docker.errors.APIError as e:
        out[key] = {'error': type(e).__name__, 'status': e.status_code, 'explanation': e.explanation}
    except Exception as e:
        out[key] = {'error': type(e).__name__, 'text': str(e)}
`;

/** Longest wait for an answer that should end by itself; past it the step records `(no answer)`. */
const ANSWER_MS = 20_000;

function call(
  socket: string,
  method: string,
  path: string,
  body: Buffer | string | undefined,
  headers: Record<string, string>,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        clearTimeout(timer);
        const raw = Buffer.concat(chunks);
        resolve({ status: r.statusCode ?? 0, headers: r.headers, body: raw.toString('utf8'), raw });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ status: 0, headers: {}, body: `(no answer within ${ANSWER_MS} ms)`, raw: Buffer.alloc(0) });
    }, ANSWER_MS);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

function streamFor(socket: string, path: string, ms: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path }, (r) => {
      const chunks: Buffer[] = [];
      const done = () => {
        clearTimeout(timer);
        const raw = Buffer.concat(chunks);
        resolve({ status: r.statusCode ?? 0, headers: r.headers, body: raw.toString('utf8'), raw });
        req.destroy();
      };
      const timer = setTimeout(done, ms);
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', done);
      r.on('error', done);
    });
    req.on('error', reject);
    req.end();
  });
}

function hijack(
  socket: string,
  path: string,
  body: object | undefined,
  opts: { stdin?: string; timeoutMs?: number },
): Promise<HijackResult> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), opts.timeoutMs ?? 15_000);
    s.on('connect', () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
          (payload ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` : '') +
          `\r\n${payload}`,
      );
    });
    // Stdin goes once the engine has answered the upgrade, as a client does.
    let sent = opts.stdin === undefined;
    s.on('data', (c) => {
      chunks.push(c);
      if (!sent && Buffer.concat(chunks).includes('\r\n\r\n')) {
        sent = true;
        s.write(opts.stdin!);
        s.end();
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = (end < 0 ? all : all.subarray(0, end)).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of head.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ statusLine: head[0] ?? '', headers, data: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4) });
    });
  });
}

/** `stdcopy` when the bytes parse as frames of streams 0–3 to the end, else `raw`; and the decoded text. */
export function framing(data: Buffer): { framing: string; stdout: string; stderr: string } {
  let i = 0;
  let stdout = '';
  let stderr = '';
  while (i + 8 <= data.length) {
    const t = data[i]!;
    if (t > 3 || data[i + 1] !== 0 || data[i + 2] !== 0 || data[i + 3] !== 0) break;
    const n = data.readUInt32BE(i + 4);
    if (i + 8 + n > data.length) break;
    const text = data.subarray(i + 8, i + 8 + n).toString('utf8');
    if (t === 2) stderr += text;
    else stdout += text;
    i += 8 + n;
  }
  if (data.length > 0 && i === data.length) return { framing: 'stdcopy', stdout, stderr };
  return { framing: data.length === 0 ? 'empty' : 'raw', stdout: data.toString('utf8'), stderr: '' };
}

export interface HttpRecordOptions {
  /** Dotted paths whose values are compared, not only their types. */
  values?: string[];
  /** Response headers compared by value (Content-Type always is). */
  headers?: string[];
  /** Compare the body as normalised text instead of a JSON shape. */
  text?: boolean;
  /** The body is JSON lines (a progress or events stream): each line's shape under `line[]`. */
  lines?: boolean;
  /** Compare only the status and content type. */
  noBody?: boolean;
}

/** Collects one engine's facts for one scenario, step by step. */
export class Recorder {
  readonly steps: Step[] = [];
  readonly #roots: string[];
  constructor(roots: string[]) {
    this.#roots = roots;
  }

  norm(s: string): string {
    return normalise(s, this.#roots);
  }

  add(label: string, facts: Record<string, unknown> | Facts): void {
    const step = this.steps.find((s) => s.label === label);
    const into = step?.facts ?? new Map<string, string>();
    const entries = facts instanceof Map ? [...facts] : Object.entries(facts);
    for (const [k, v] of entries) into.set(k, typeof v === 'string' ? this.norm(v) : this.norm(JSON.stringify(v)));
    if (!step) this.steps.push({ label, facts: into });
  }

  /** The JSON value's shape (and chosen values) under `prefix`. */
  json(label: string, value: unknown, values: string[] = [], prefix = 'body'): void {
    const f = shape(value, prefix, new Map(), this.#roots);
    for (const [k, v] of valuesAt(value, values, this.#roots)) f.set(k, v);
    this.add(label, f);
  }

  http(label: string, r: HttpResult, o: HttpRecordOptions = {}): void {
    const facts: Record<string, unknown> = { status: r.status };
    const ct = String(r.headers['content-type'] ?? '(none)');
    facts['header Content-Type'] = ct;
    for (const h of o.headers ?? []) facts[`header ${h}`] = String(r.headers[h.toLowerCase()] ?? '(none)');
    this.add(label, facts);
    if (o.noBody) return;
    if (r.status >= 400 && ct.startsWith('application/json')) {
      try {
        const body = JSON.parse(r.body) as { message?: unknown };
        this.add(label, { 'error message': String(body.message) });
        return;
      } catch {}
    }
    if (o.text) this.add(label, { body: r.body });
    else if (o.lines) {
      const lines = r.body.split(/\r?\n/).filter((l) => l.trim() !== '');
      this.json(
        label,
        lines.map((l) => {
          try {
            return JSON.parse(l) as unknown;
          } catch {
            return `(not JSON) ${l}`;
          }
        }),
        o.values,
        'line',
      );
    } else if (r.body === '') this.add(label, { body: '(empty)' });
    else {
      try {
        this.json(label, JSON.parse(r.body), o.values);
      } catch {
        this.add(label, { body: `(not JSON) ${r.body.slice(0, 300)}` });
      }
    }
  }

  /** A docker CLI run: exit code, stdout (table columns collapsed) and stderr, normalised. */
  cli(label: string, r: RunResult, o: { stdout?: 'text' | 'json' | 'none'; stderr?: boolean } = {}): void {
    this.add(label, { exit: r.code });
    const mode = o.stdout ?? 'text';
    if (mode === 'text') this.add(label, { stdout: r.stdout.replace(/ {2,}/g, '  ').trimEnd() });
    else if (mode === 'json') {
      try {
        this.json(label, JSON.parse(r.stdout), [], 'stdout');
      } catch {
        this.add(label, { stdout: `(not JSON) ${r.stdout.slice(0, 300)}` });
      }
    }
    if (o.stderr !== false) this.add(label, { stderr: r.stderr.trim() });
  }

  hijacked(label: string, r: HijackResult): void {
    const f = framing(r.data);
    this.add(label, {
      'status line': r.statusLine,
      'header Content-Type': r.headers['content-type'] ?? '(none)',
      framing: f.framing,
      stdout: f.stdout,
      stderr: f.stderr,
    });
  }
}
