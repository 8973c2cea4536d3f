/**
 * The CLI's share of a pull (issue 11), without an engine or a registry on the CPUs: `berth pull` (this tree's, and
 * `--base DIR`'s) and `docker pull` against a stand-in engine on a unix socket that answers `/_ping`, `/version` and
 * `POST /images/create` with the message stream berthd sends for a pull of `--layers` new layers (the same messages in
 * the same batches, one batch per layer's end, spread over `--span` ms as a pull from a loopback registry takes).
 * Each command runs under `perf stat -e task-clock` (its CPU, every thread), in interleaved rounds (the order turned
 * each round) after a warm-up round; for each, the time from the spawn to the ping and to the pull's request as the
 * stand-in saw them, from the stream's last byte to the exit ("tail"), the whole run, and the CPU. `--tty` runs each
 * command on a pseudo-terminal (script(1)), where the progress is drawn. No timing is asserted.
 *
 *   node_modules/.bin/node bench/pull-cli.ts [--rounds 20] [--layers 50] [--span 350] [--tty] [--base DIR] [-q]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BERTH, DOCKER } from './lib/engines.ts';
import { stats } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    layers: { type: 'string', default: '50' },
    span: { type: 'string', default: '350' },
    base: { type: 'string' },
    tty: { type: 'boolean', default: false },
    quiet: { type: 'boolean', short: 'q', default: false },
  },
});
const layers = Number(values.layers);
const span = Number(values.span);
const REF = '127.0.0.1:5000/dp-many:1';

/** berthd's messages for a pull of `n` new 1 MiB layers, in the batches it writes them (bench/README.md, Data path). */
function pullStream(n: number): string[] {
  const line = (m: object) => `${JSON.stringify(m)}\r\n`;
  const ids = Array.from({ length: n }, (_, i) => (0x100000000000 + i * 7919).toString(16).slice(-12));
  const size = 1057562;
  const bar = '[==================================================>]  1.058MB/1.058MB';
  const first = [line({ status: 'Pulling from dp-many', id: '1' })];
  for (const id of ids) first.push(line({ status: 'Pulling fs layer', progressDetail: {}, id }));
  for (const id of ids.slice(3)) first.push(line({ status: 'Waiting', progressDetail: {}, id }));
  const batches = [first.join('')];
  for (const id of ids) {
    batches.push(
      [
        line({ status: 'Downloading', progressDetail: { current: size, total: size }, progress: bar, id }),
        line({ status: 'Verifying Checksum', progressDetail: {}, id }),
        line({ status: 'Download complete', progressDetail: {}, id }),
        line({ status: 'Extracting', progressDetail: { current: size, total: size }, progress: bar, id }),
        line({ status: 'Pull complete', progressDetail: {}, id }),
      ].join(''),
    );
  }
  batches.push(
    line({ status: `Digest: sha256:${'4'.repeat(64)}` }) +
      line({ status: `Status: Downloaded newer image for ${REF}` }),
  );
  return batches;
}

const batches = pullStream(layers).map((b) => Buffer.from(b));
const HEAD =
  'HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Berth/0.1.0 (linux)\r\n';
const VERSION = JSON.stringify({ Version: '0.1.0', ApiVersion: '1.47', MinAPIVersion: '1.22', Os: 'linux' });

interface Marks {
  ping?: number;
  post?: number;
  last?: number;
}
let marks: Marks = {};

function answer(c: Socket, head: string): void {
  const [method, path = ''] = head.split(' ');
  const close = /\r\nconnection: close/i.test(head);
  const conn = close ? 'Connection: close\r\n' : 'Connection: keep-alive\r\n';
  const end = () => {
    if (close) c.end();
  };
  if (path.endsWith('/_ping')) {
    marks.ping ??= performance.now();
    c.write(`${HEAD}Content-Length: 2\r\nContent-Type: text/plain\r\n${conn}\r\n${method === 'HEAD' ? '' : 'OK'}`);
    end();
  } else if (path.endsWith('/version')) {
    c.write(`${HEAD}Content-Type: application/json\r\nContent-Length: ${VERSION.length}\r\n${conn}\r\n${VERSION}`);
    end();
  } else if (method === 'POST' && path.includes('/images/create')) {
    marks.post = performance.now();
    c.write(`${HEAD}Content-Type: application/json\r\n${conn}Transfer-Encoding: chunked\r\n\r\n`);
    const t0 = performance.now();
    let k = 0;
    const next = () => {
      const b = batches[k++]!;
      c.write(Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]));
      if (k < batches.length) {
        setTimeout(next, Math.max(0, (span * k) / (batches.length - 1) - (performance.now() - t0)));
        return;
      }
      c.write('0\r\n\r\n');
      marks.last = performance.now();
      end();
    };
    next();
  } else {
    c.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  }
}

const dir = mkdtempSync('/tmp/berth-pull-cli-');
const socket = join(dir, 'engine.sock');
const server = createServer((c) => {
  let buf = '';
  c.on('error', () => {});
  c.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
      answer(c, buf.slice(0, i));
      buf = buf.slice(i + 4);
    }
  });
});
await new Promise<void>((resolve) => server.listen(socket, resolve));

const host = `unix://${socket}`;
const pullArgs = `pull ${values.quiet ? '-q ' : ''}${REF}`;
const commands: [string, string][] = [
  ['berth pull', `${BERTH} -H ${host} ${pullArgs}`],
  ...(values.base
    ? [['base berth pull', `${join(values.base, 'bin', 'berth')} -H ${host} ${pullArgs}`] as [string, string]]
    : []),
  ['docker pull', `${DOCKER} -H ${host} ${pullArgs}`],
];

interface Run {
  ping: number;
  post: number;
  tail: number;
  total: number;
  cpu: number;
}

function runOne(command: string): Promise<Run> {
  const out = join(dir, 'perf-stat.txt');
  // On a terminal the output goes to script(1)'s pseudo-terminal (script's own output is dropped), else to /dev/null.
  const perf = `perf stat -x, -e task-clock -o ${out} -- ${command}${values.tty ? '' : ' >/dev/null'}`;
  return new Promise((resolve, reject) => {
    marks = {};
    const t0 = performance.now();
    // DOCKER_CONFIG: an empty directory, so the user's docker config (contexts, plugins) plays no part.
    const env = { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') };
    const p = values.tty
      ? spawn('script', ['-qec', perf, '/dev/null'], { stdio: ['ignore', 'ignore', 'inherit'], env })
      : spawn('sh', ['-c', perf], { stdio: ['ignore', 'ignore', 'inherit'], env });
    p.on('exit', (code) => {
      const end = performance.now();
      if (code !== 0) return reject(new Error(`${command}: exit ${code}`));
      const line = readFileSync(out, 'utf8')
        .split('\n')
        .find((l) => l.includes('task-clock'));
      const m = marks;
      resolve({
        ping: (m.ping ?? Number.NaN) - t0,
        post: (m.post ?? Number.NaN) - t0,
        tail: end - (m.last ?? Number.NaN),
        total: end - t0,
        cpu: Number(line?.split(',')[0]),
      });
    });
  });
}

const rounds = Number(values.rounds);
const runs = new Map<string, Run[]>(commands.map(([label]) => [label, []]));
const load0 = loadavg()[0]!;
try {
  for (let r = 0; r <= rounds; r++) {
    const order = r % 2 === 1 ? [...commands].reverse() : commands;
    for (const [label, command] of order) {
      const x = await runOne(command);
      if (r > 0) runs.get(label)!.push(x);
    }
  }
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}

const med = (xs: number[]) => stats(xs).median.toFixed(1);
process.stdout.write(
  `pull-cli: ${layers} layers over ${span} ms, ${values.tty ? 'on a terminal' : 'stdout not a terminal'}${values.quiet ? ', -q' : ''}; ` +
    `${rounds} rounds; load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; medians, ms\n\n` +
    '| command | to the ping | to the request | tail | whole run | CPU |\n| --- | --- | --- | --- | --- | --- |\n',
);
for (const [label, xs] of runs) {
  const col = (k: keyof Run) => med(xs.map((x) => x[k]));
  process.stdout.write(
    `| ${label} | ${col('ping')} | ${col('post')} | ${col('tail')} | ${col('total')} | ${col('cpu')} |\n`,
  );
}
