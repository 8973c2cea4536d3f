/**
 * Compose side by side, in one run: `up -d` and `down -v` of the three-service app (a web server behind a published
 * port, a worker, a store with a named volume; busybox images already present) by `berth compose` against berthd
 * and by Debian's docker-compose 1.29.2 against dockerd 20.10 (the goal: ≤ 0.3×), plus the crossed pairs; and
 * `config` of a 50-service file (the goal: ≤ 100 ms), `berth compose` vs docker-compose 1.29.2. Interleaved runs;
 * everything started is stopped by PID. `node bench/compose.ts [--runs N]`, or `npm run bench -- compose`.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BERTH, DOCKER, NODE, removeDir, startBerthd, startDockerd, type Engine } from './lib/engines.ts';
import { fmt, run, stats, type Stats } from './lib/proc.ts';

export interface ComposeFigures {
  runs: number;
  /** Seconds, by `<cli> → <engine>`. */
  up: Record<string, Stats>;
  down: Record<string, Stats>;
  /** Seconds for `config` of the 50-service file, by CLI. */
  config: Record<string, Stats>;
  /** CPU seconds (perf stat's task-clock: all threads) of the same `config` runs, by CLI. */
  configCpu: Record<string, Stats>;
  /**
   * Per round, berth compose → berthd over docker-compose 1.29.2 → dockerd of the same round (and, with a base, the
   * base tree's pair over the same docker-compose run): the ratio's median is steadier than the ratio of medians.
   */
  roundRatios?: { up: Record<string, Stats>; down: Record<string, Stats> };
  loadavg: number[];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export function appFile(port: number): string {
  return `services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
    stop_signal: SIGKILL
    ports: ["${port}:8080"]
    depends_on: [store]
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do echo working; sleep 1; done"]
    stop_signal: SIGKILL
    depends_on: [store]
  store:
    image: busybox
    command: ["sh", "-c", "exec nc -ll -p 6379 -e cat"]
    stop_signal: SIGKILL
    volumes: [data:/data]
volumes:
  data: {}
`;
}

/** Fifty services with the usual keys (ports, environment, volumes, depends_on, healthcheck, labels). */
export function fiftyServices(): string {
  let s = 'services:\n';
  for (let i = 0; i < 50; i++) {
    s += `  svc${i}:
    image: busybox:\${TAG:-latest}
    command: sh -c "echo ${i}; sleep 3600"
    environment: ["A=${i}", "B=\${B:-b}", C]
    ports: ["${20000 + i}:80", "127.0.0.1:${21000 + i}:81/udp"]
    volumes: [./data${i}:/data, vol${i % 5}:/v, /anon]
    labels: {tier: t${i % 3}, idx: "${i}"}
    healthcheck: {test: "true", interval: 5s, retries: 3}
    deploy: {resources: {limits: {memory: 64m, cpus: "0.5"}}}
${i > 0 ? `    depends_on: [svc${i - 1}]\n` : ''}`;
  }
  s += 'volumes:\n';
  for (let v = 0; v < 5; v++) s += `  vol${v}: {}\n`;
  return s;
}

type Cli = 'berth compose' | 'docker-compose' | 'berth compose (base)';

function composeCmd(
  cli: Cli,
  engine: Pick<Engine, 'host'>,
  dir: string,
  args: string[],
  base?: string,
): [string, string[], Record<string, string>] {
  if (cli === 'berth compose' || cli === 'berth compose (base)')
    return [
      cli === 'berth compose (base)' && base !== undefined ? join(base, 'bin', 'berth') : BERTH,
      ['-H', engine.host, 'compose', '--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args],
      {},
    ];
  return [
    'docker-compose',
    ['--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args],
    { DOCKER_HOST: engine.host },
  ];
}

/** The `config` step's commands: berth compose (its bundle, and its source), Node's floor, docker-compose. */
const CONFIG_RUNS = ['berth compose', 'berth compose (source)', 'node -e 0', 'docker-compose'] as const;

function configCmd(which: (typeof CONFIG_RUNS)[number], dir: string): [string, string[], Record<string, string>] {
  const none = { host: 'unix:///nonexistent.sock' };
  if (which === 'node -e 0') return [NODE, ['-e', '0'], {}];
  if (which === 'berth compose (source)') {
    const [c, a, e] = composeCmd('berth compose', none, dir, ['config']);
    return [c, a, { ...e, BERTH_COMPOSE_BUNDLE: '0' }];
  }
  return composeCmd(which, none, dir, ['config']);
}

/** `config` of the 50-service file, interleaved, `runs * 2` runs of each after one warm-up round. */
async function benchConfig(
  scratch: string,
  runs: number,
): Promise<{ config: Record<string, Stats>; configCpu: Record<string, Stats> }> {
  const fifty = join(scratch, 'fifty');
  await mkdir(fifty, { recursive: true });
  await writeFile(join(fifty, 'compose.yaml'), fiftyServices());
  const config: Record<string, number[]> = {};
  const configCpu: Record<string, number[]> = {};
  const timeFile = join(scratch, 'time');
  for (let r = 0; r <= runs * 2; r++) {
    for (const which of CONFIG_RUNS) {
      const [c, a, e] = configCmd(which, fifty);
      // perf's task-clock: the CPU time of the process and its threads to the microsecond (time(1) counts ticks
      // of 10 ms, the size of the differences measured here).
      const res = await run('perf', ['stat', '-x,', '-e', 'task-clock', '-o', timeFile, c, ...a], { env: e });
      const line = (await readFile(timeFile, 'utf8')).split('\n').find((l) => l.includes('task-clock')) ?? '';
      const cpuMs = Number(line.split(',')[0]);
      if (r > 0) {
        (config[which] ??= []).push(res.seconds);
        (configCpu[which] ??= []).push(cpuMs / 1000);
      }
    }
  }
  return { config: st(config), configCpu: st(configCpu) };
}

const st = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, stats(v)]));

export async function benchCompose(opts: {
  runs: number;
  log: (s: string) => void;
  /** Only the `config` step (no engines). */
  configOnly?: boolean;
  /** Another tree (e.g. main before a change): its berth compose → its berthd is a fifth pair in the same rounds. */
  base?: string;
}): Promise<ComposeFigures> {
  const { runs, log } = opts;
  const scratch = await mkdtemp('/tmp/compose-bench-');
  if (opts.configOnly) {
    try {
      return { runs, up: {}, down: {}, ...(await benchConfig(scratch, runs)), loadavg: loadavg() };
    } finally {
      await removeDir(scratch);
    }
  }
  const berthd = await startBerthd({ seed: true });
  const dockerd = await startDockerd();
  const based =
    opts.base === undefined
      ? undefined
      : await startBerthd({ seed: true, bin: join(opts.base, 'bin', 'berthd') }).then((e) => ({
          ...e,
          name: 'berthd (base)',
        }));
  try {
    log('loading busybox into dockerd');
    await run('bash', ['-c', `"${BERTH}" -H ${berthd.host} save busybox | "${DOCKER}" -H ${dockerd.host} load`]);
    const pairs: [Cli, Engine][] = [
      ['berth compose', berthd],
      ['docker-compose', dockerd],
      ['berth compose', dockerd],
      ['docker-compose', berthd],
      ...(based !== undefined ? [['berth compose (base)', based] as [Cli, Engine]] : []),
    ];
    // One port (so one file text) per pair for all rounds: a user runs up and down on the same file, whose parse
    // berth compose keeps after the first run (the warm-up round here).
    const ports = new Map<string, number>();
    for (const [cli, engine] of pairs) ports.set(`${cli} → ${engine.name}`, await freePort());
    const up: Record<string, number[]> = {};
    const down: Record<string, number[]> = {};
    for (let r = 0; r <= runs; r++) {
      for (const [cli, engine] of pairs) {
        const key = `${cli} → ${engine.name}`;
        const dir = join(scratch, `app-${r}-${cli.replace(' ', '-')}-${engine.name}`);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'compose.yaml'), appFile(ports.get(key)!));
        const p = `bench${r}`;
        const [c1, a1, e1] = composeCmd(cli, engine, dir, ['-p', p, 'up', '-d'], opts.base);
        const u = await run(c1, a1, { env: e1, timeoutMs: 120_000 });
        const [c2, a2, e2] = composeCmd(cli, engine, dir, ['-p', p, 'down', '-v'], opts.base);
        const dn = await run(c2, a2, { env: e2, timeoutMs: 120_000 });
        if (r === 0) continue; // warm-up
        (up[key] ??= []).push(u.seconds);
        (down[key] ??= []).push(dn.seconds);
        log(`${key}: up ${u.seconds.toFixed(2)} s, down ${dn.seconds.toFixed(2)} s`);
      }
    }
    const { config, configCpu } = await benchConfig(scratch, runs);
    const ref = 'docker-compose → dockerd';
    const perRound = (m: Record<string, number[]>) =>
      st(
        Object.fromEntries(
          ['berth compose → berthd', 'berth compose (base) → berthd (base)']
            .filter((k) => m[k] !== undefined)
            .map((k) => [k, m[k]!.map((v, i) => v / m[ref]![i]!)]),
        ),
      );
    return {
      runs,
      up: st(up),
      down: st(down),
      config,
      configCpu,
      roundRatios: { up: perRound(up), down: perRound(down) },
      loadavg: loadavg(),
    };
  } finally {
    await based?.stop();
    await berthd.stop();
    await dockerd.stop();
    await removeDir(scratch);
  }
}

export function composeReport(f: ComposeFigures): string {
  const lines = [
    `compose (${f.runs} runs each, interleaved; load average ${f.loadavg.map((x) => x.toFixed(2)).join(' ')})`,
  ];
  if (Object.keys(f.up).length > 0) {
    lines.push('  up -d, seconds, median (min–max):');
    for (const [k, s] of Object.entries(f.up)) lines.push(`    ${k.padEnd(38)} ${fmt(s)}`);
    lines.push('  down -v, seconds:');
    for (const [k, s] of Object.entries(f.down)) lines.push(`    ${k.padEnd(38)} ${fmt(s)}`);
    const ratio = (m: Record<string, Stats>) =>
      (m['berth compose → berthd']!.median / m['docker-compose → dockerd']!.median).toFixed(2);
    lines.push(
      `  berth compose → berthd vs docker-compose 1.29.2 → dockerd: up ${ratio(f.up)}×, down ${ratio(f.down)}× (goal ≤ 0.3×)`,
    );
    for (const [k, s] of Object.entries(f.roundRatios?.down ?? {}))
      lines.push(
        `  per round, ${k} / docker-compose → dockerd: up ${fmt(f.roundRatios!.up[k]!, 2)}×, down ${fmt(s, 2)}×`,
      );
  }
  lines.push('  config of a 50-service file, seconds (whole command):');
  for (const [k, s] of Object.entries(f.config)) lines.push(`    ${k.padEnd(28)} ${fmt(s, 3)}`);
  lines.push('  the same, CPU seconds (task-clock, all threads):');
  for (const [k, s] of Object.entries(f.configCpu)) lines.push(`    ${k.padEnd(28)} ${fmt(s, 3)}`);
  const bundle = f.config['berth compose'];
  const source = f.config['berth compose (source)'];
  if (bundle && source) {
    lines.push(
      `  config: bundle / source ${(bundle.median / source.median).toFixed(2)}× wall, ` +
        `${(f.configCpu['berth compose']!.median / f.configCpu['berth compose (source)']!.median).toFixed(2)}× CPU; ` +
        `goal ≤ 0.100 s: median ${bundle.median.toFixed(3)} s`,
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      'config-only': { type: 'boolean', default: false },
      base: { type: 'string' },
    },
  });
  const f = await benchCompose({
    runs: Number(values.runs),
    log: (s) => process.stderr.write(`${s}\n`),
    configOnly: values['config-only'],
    ...(values.base !== undefined ? { base: values.base } : {}),
  });
  process.stdout.write(`${composeReport(f)}\n`);
}
