import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { frame } from '../../client/index.ts';
import { main } from '../main.ts';
import type { OutStream, Streams } from '../command.ts';

/**
 * A tiny fake engine for the client side of `run`, `start -a`, `logs`: it records the requests, answers
 * attach with `101 UPGRADED`, flushes `/wait` headers at once and answers when the "container" ends. A
 * container with stdin attached echoes what it read only after the client half-closes.
 */
interface FakeContainer {
  id: string;
  name: string;
  tty: boolean;
  stdin: boolean;
  cmd: string[];
  socket?: Socket;
  waiters: http.ServerResponse[];
  exitCode: number;
}

let dir = '';
let host = '';
let server: http.Server;
let log: string[] = [];
let containers = new Map<string, FakeContainer>();
let nextId = 1;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

function find(ref: string): FakeContainer | undefined {
  for (const c of containers.values()) if (c.id === ref || c.name === ref) return c;
  return undefined;
}

/** Runs the container: output (or the echo of stdin after EOF), then the exit. */
function runContainer(c: FakeContainer): void {
  const finish = (out: string): void => {
    const s = c.socket;
    if (s !== undefined) {
      s.end(c.tty ? out : Buffer.concat([frame(1, out), frame(2, 'on stderr\n')]));
    }
    for (const w of c.waiters) w.end(JSON.stringify({ StatusCode: c.exitCode, Error: null }));
    c.waiters = [];
  };
  if (c.stdin && c.socket !== undefined) {
    const chunks: Buffer[] = [];
    c.socket.on('data', (d: Buffer) => chunks.push(d));
    c.socket.on('end', () => setTimeout(() => finish(`echo:${Buffer.concat(chunks).toString()}`), 10));
  } else {
    setTimeout(() => finish(`ran ${c.cmd.join(' ')}\n`), 10);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-run-'));
  host = `unix://${join(dir, 'engine.sock')}`;
  server = http.createServer((req, res) => {
    res.setHeader('Api-Version', '1.45');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\.45/, '');
    if (path === '/_ping') return void res.end();
    log.push(`${req.method} ${path}${url.search}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && path === '/containers/create') {
        const cfg = JSON.parse(body) as { Image: string; Cmd: string[] | null; Tty: boolean; OpenStdin: boolean };
        if (cfg.Image.startsWith('nosuch')) return json(res, 404, { message: `No such image: ${cfg.Image}` });
        const id = String(nextId++).padStart(64, 'c');
        const c: FakeContainer = {
          id,
          name: url.searchParams.get('name') ?? `n${id.slice(-2)}`,
          tty: cfg.Tty,
          stdin: cfg.OpenStdin,
          cmd: cfg.Cmd ?? [],
          waiters: [],
          exitCode: 0,
        };
        if (c.cmd[0] === 'exit') c.exitCode = Number(c.cmd[1]);
        containers.set(id, c);
        return json(res, 201, { Id: id, Warnings: c.cmd[0] === 'warn' ? ['be careful'] : null });
      }
      if (req.method === 'POST' && path === '/images/create')
        return json(res, 501, { message: 'pulling is not implemented' });
      if ((m = /^\/containers\/([^/]+)\/(\w+)$/.exec(path)) !== null) {
        const c = find(decodeURIComponent(m[1] as string));
        if (c === undefined) return json(res, 404, { message: `No such container: ${m[1]}` });
        switch (m[2]) {
          case 'wait':
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.flushHeaders();
            c.waiters.push(res);
            return;
          case 'start':
            if (c.cmd[0] === 'nosuchcmd') {
              return json(res, 400, {
                message: 'failed to create task: exec: "nosuchcmd": executable file not found in $PATH',
              });
            }
            res.statusCode = 204;
            res.end();
            runContainer(c);
            return;
          case 'json':
            return json(res, 200, {
              Id: c.id,
              Name: `/${c.name}`,
              Config: { Tty: c.tty, OpenStdin: c.stdin },
              HostConfig: {},
              State: { Running: true },
            });
          case 'logs':
            res.setHeader(
              'Content-Type',
              c.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
            );
            return void res.end(c.tty ? 'tty log\n' : Buffer.concat([frame(1, 'log out\n'), frame(2, 'log err\n')]));
          case 'resize':
          case 'kill':
            res.statusCode = 204;
            return void res.end();
        }
      }
      json(res, 404, { message: `page not found: ${path}` });
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\.45/, '');
    log.push(`UPGRADE ${path}${url.search}`);
    const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
    const c = m === null ? undefined : find(decodeURIComponent(m[1] as string));
    if (c === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    c.socket = socket;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${c.tty ? 'raw' : 'multiplexed'}-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'engine.sock'), resolve));
});

after(async () => {
  // Remove the directory first: close() also waits for upgraded sockets, which closeAllConnections() leaves.
  await rm(dir, { recursive: true, force: true });
  server.closeAllConnections();
  server.close();
  server.unref();
});

beforeEach(() => {
  log = [];
  containers = new Map();
});

function capture(): OutStream & { text(): string } {
  let buf = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return { stream, isTerminal: false, columns: undefined, write: (s: string) => void (buf += s), text: () => buf };
}

async function berth(
  stdin: string | undefined,
  ...argv: string[]
): Promise<{ status: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const input = stdin === undefined ? new Readable({ read() {} }) : Readable.from([Buffer.from(stdin)]);
  const streams: Streams = { in: input, out, err };
  const status = await main(['-H', host, ...argv], {}, streams);
  input.destroy();
  return { status, out: out.text(), err: err.text() };
}

describe('berth run against a fake engine', () => {
  it('creates, attaches, waits, then starts; half-closes stdin and still reads the reply; exits with the code', async () => {
    const r = await berth('hi there\n', 'run', '-i', '--rm', 'busybox', 'exit', '3');
    assert.equal(r.out, 'echo:hi there\n');
    assert.equal(r.err, 'on stderr\n');
    assert.equal(r.status, 3);
    const id = [...containers.keys()][0] ?? '';
    assert.deepEqual(log, [
      'POST /containers/create',
      `UPGRADE /containers/${id}/attach?stderr=1&stdin=1&stdout=1&stream=1`,
      `POST /containers/${id}/wait?condition=removed`,
      `POST /containers/${id}/start`,
    ]);
  });

  it('attaches stdout/stderr only without -i and waits for the next exit without --rm', async () => {
    const r = await berth(undefined, 'run', 'busybox', 'echo', 'hi');
    assert.equal(r.status, 0);
    assert.equal(r.out, 'ran echo hi\n');
    assert.equal(r.err, 'on stderr\n');
    const id = [...containers.keys()][0] ?? '';
    assert.deepEqual(log.slice(1, 3), [
      `UPGRADE /containers/${id}/attach?stderr=1&stdout=1&stream=1`,
      `POST /containers/${id}/wait?condition=next-exit`,
    ]);
  });

  it('-d prints the ID after starting, without attaching; warnings go to stderr', async () => {
    const r = await berth(undefined, 'run', '-d', '--name', 'web', 'busybox', 'warn');
    const id = [...containers.keys()][0] ?? '';
    assert.equal(r.status, 0);
    assert.equal(r.out, `${id}\n`);
    assert.equal(r.err, 'WARNING: be careful\n');
    assert.deepEqual(log, [
      'POST /containers/create?name=web',
      `POST /containers/${id}/wait?condition=next-exit`,
      `POST /containers/${id}/start`,
    ]);
  });

  it('with a TTY, copies the raw stream (no demultiplexing)', async () => {
    const r = await berth(undefined, 'run', '-t', 'busybox', 'x');
    assert.equal(r.status, 0);
    assert.equal(r.out, 'ran x\n');
  });

  it('tries to pull a missing image and reports the failure with exit 125', async () => {
    const r = await berth(undefined, 'run', 'nosuch');
    assert.equal(r.status, 125);
    assert.equal(
      r.err,
      "Unable to find image 'nosuch:latest' locally\nberth: Error response from daemon: pulling is not implemented\n\nRun 'berth run --help' for more information\n",
    );
    assert.deepEqual(log, [
      'POST /containers/create',
      'POST /images/create?fromImage=docker.io%2Flibrary%2Fnosuch&tag=latest',
    ]);
  });

  it('maps a start failure to 127 when the command is not found', async () => {
    const r = await berth(undefined, 'run', 'busybox', 'nosuchcmd');
    assert.equal(r.status, 127);
    assert.match(
      r.err,
      /^berth: Error response from daemon: failed to create task: exec: "nosuchcmd": executable file not found in \$PATH\n\nRun 'berth run --help' for more information\n$/,
    );
  });

  it('refuses bad flag values before sending anything', async () => {
    const r = await berth(undefined, 'run', '--memory', 'abc', 'busybox');
    assert.equal(r.status, 125);
    assert.equal(
      r.err,
      `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n`,
    );
    const r2 = await berth(undefined, 'run', '--rm', '--restart', 'always', 'busybox');
    assert.equal(r2.status, 125);
    assert.equal(
      r2.err,
      "berth: conflicting options: cannot specify both --restart and --rm\n\nRun 'berth run --help' for more information\n",
    );
    assert.deepEqual(log, []);
  });

  it('start -a attaches before starting and exits with the status', async () => {
    await berth(undefined, 'create', '--name', 'later', 'busybox', 'exit', '4');
    log = [];
    const r = await berth(undefined, 'start', '-a', 'later');
    assert.equal(r.status, 4);
    assert.equal(r.out, 'ran exit 4\n');
    const id = [...containers.keys()][0] ?? '';
    assert.deepEqual(log, [
      'GET /containers/later/json',
      `UPGRADE /containers/${id}/attach?stderr=1&stdout=1&stream=1`,
      `POST /containers/${id}/wait?condition=next-exit`,
      `POST /containers/${id}/start`,
    ]);
  });

  it('logs inspects first, then demultiplexes (or not, with a TTY)', async () => {
    await berth(undefined, 'create', '--name', 'plain', 'busybox');
    await berth(undefined, 'create', '-t', '--name', 'tty', 'busybox');
    log = [];
    const r = await berth(undefined, 'logs', '--tail', '2', 'plain');
    assert.equal(r.out, 'log out\n');
    assert.equal(r.err, 'log err\n');
    const id = [...containers.values()].find((c) => c.name === 'plain')?.id ?? '';
    assert.deepEqual(log, ['GET /containers/plain/json', `GET /containers/${id}/logs?stderr=1&stdout=1&tail=2`]);
    const t = await berth(undefined, 'logs', 'tty');
    assert.equal(t.out, 'tty log\n');
    assert.equal(t.err, '');
  });
});
