/**
 * Networking side by side: berthd, Debian's dockerd (with a bridge of its own and iptables on) and podman, each
 * on its own roots, sockets, bridge devices and subnets inside 10.202.0.0/16.
 * - `run --rm busybox true` on the default bridge vs `--network none` (the bridge's extra cost per container);
 * - `--parallel` containers (default 20) started at once (`run -d … sleep`) on a user network, wall time;
 * - `wrk` against busybox httpd through a published port on 127.0.0.1 vs the container's own IP.
 * The docker CLI drives berthd and dockerd; podman its own CLI. Everything started is stopped by PID, every device,
 * chain and rule made here is removed, and `ip_forward` and the FORWARD policy are restored at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DOCKER, dockerEnv, podmanSetup, removeDir, startBerthd } from './lib/engines.ts';
import { childrenOf, comm, ping, run, sleep, stats, stopPid, type RunResult, type Stats } from './lib/proc.ts';

export interface NetworkFigures {
  runs: number;
  parallel: number;
  wrkSeconds: number;
  engines: EngineFigures[];
}

export interface EngineFigures {
  engine: string;
  /** `run --rm busybox true`, seconds. */
  bridge?: Stats;
  none?: Stats;
  /** Wall time for `parallel` containers started at once on a user network, seconds. */
  parallelStart?: Stats;
  /** wrk requests/s through the published port and to the container's IP. */
  published?: number;
  direct?: number;
  errors: string[];
}

/** One engine as the benchmark drives it: a CLI (docker's or podman's) and how to stop it. */
interface Peer {
  name: string;
  cli(args: string[], allowFail?: boolean): Promise<RunResult>;
  stop(): Promise<void>;
}

type Log = (s: string) => void;

const SFX = randomBytes(2).toString('hex');

/** A TCP port the kernel hands out now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** /24s inside 10.202.0.0/16 that no address or route of the host uses now. */
async function freeSubnets(n: number): Promise<string[]> {
  const used = (await run('sh', ['-c', 'ip -o -4 route; ip -o -4 addr'])).stdout;
  const out: string[] = [];
  for (let x = 200; x < 256 && out.length < n; x++) if (!used.includes(`10.202.${x}.`)) out.push(`10.202.${x}`);
  if (out.length < n) throw new Error('no free /24 left in 10.202.200.0–10.202.255.0');
  return out;
}

async function waitPing(name: string, socket: string, exited: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`${name} exited:\n${log().slice(-3000)}`);
    if (await ping(socket)) return;
    await sleep(20);
  }
  throw new Error(`${name} did not answer within 60 s:\n${log().slice(-3000)}`);
}

/** berthd with the busybox seed, its default bridge on its own device and subnet. */
async function startBerth(net: string): Promise<Peer> {
  const e = await startBerthd({ seed: true, args: ['--bridge', `bnbb${SFX}`, '--bip', `${net}.1/24`] });
  const env = dockerEnv(e);
  return {
    name: 'berthd',
    cli: (args, allowFail) => run(DOCKER, args, { env, allowFail: allowFail ?? false, timeoutMs: 120_000 }),
    stop: () => e.stop(),
  };
}

/** iptables chains per table, to tell later which ones a dockerd made. */
async function chains(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const table of ['filter', 'nat']) {
    const r = await run('iptables', ['-t', table, '-S'], { allowFail: true });
    for (const m of r.stdout.matchAll(/^-N (\S+)$/gm)) out.add(`${table}/${m[1]}`);
  }
  return out;
}

/** Deletes the rules that mention one of `marks`, and the chains (with the jumps to them) not in `keep`. */
async function removeFirewall(marks: readonly string[], keep: Set<string>, log: Log): Promise<void> {
  for (const table of ['filter', 'nat']) {
    const made = [...(await chains())]
      .filter((c) => c.startsWith(`${table}/`) && !keep.has(c))
      .map((c) => c.slice(table.length + 1));
    const rules = (await run('iptables', ['-t', table, '-S'], { allowFail: true })).stdout.split('\n');
    for (const rule of rules) {
      if (!rule.startsWith('-A ')) continue;
      const chain = rule.split(' ')[1] ?? '';
      if (made.includes(chain)) continue; // flushed with the chain below
      const jumpsToMade = made.some((c) => rule.endsWith(` -j ${c}`) || rule.includes(` -j ${c} `));
      if (!jumpsToMade && !marks.some((m) => rule.includes(m))) continue;
      const args = [
        '-t',
        table,
        '-D',
        ...(rule.slice(3).match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, '$1')),
      ];
      const r = await run('iptables', args, { allowFail: true });
      if (r.code !== 0) log(`could not delete "${rule}" from ${table}: ${r.stderr.trim()}`);
    }
    for (const c of made) {
      await run('iptables', ['-t', table, '-F', c], { allowFail: true });
      await run('iptables', ['-t', table, '-X', c], { allowFail: true });
    }
  }
}

/**
 * Debian's dockerd on its own roots and socket, with iptables and forwarding on, its default network on a bridge
 * device made here for it (dockerd only makes `docker0` itself, which other engines on this host might use).
 */
async function startDockerd(net: string, userNet: string, log: Log): Promise<Peer> {
  const dir = await mkdtemp('/tmp/dockerd-bench-net-');
  const socket = join(dir, 'd.sock');
  const bridge = `bnbd${SFX}`;
  const keep = await chains();
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${net}.1/24`, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);
  let out = '';
  const proc = spawn(
    'dockerd',
    [
      '--data-root',
      join(dir, 'dd'),
      '--exec-root',
      join(dir, 'dx'),
      '-H',
      `unix://${socket}`,
      '--pidfile',
      join(dir, 'd.pid'),
      '--bridge',
      bridge,
      '--cgroup-parent',
      `/${bridge}`,
      '--log-level=error',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const pid = proc.pid!;
  const env = { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'docker-config') };
  const cli = (args: string[], allowFail?: boolean) =>
    run(DOCKER, args, { env, allowFail: allowFail ?? false, timeoutMs: 120_000 });
  const stop = async () => {
    // dockerd leaves its networks' bridges (br-…) and their rules behind when it stops: remove its networks first,
    // then any device that still holds an address of its subnets.
    if (proc.exitCode === null) {
      const ids = (await cli(['network', 'ls', '-q', '--filter', 'type=custom'], true)).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length > 0) await cli(['network', 'rm', ...ids], true);
    }
    const addrs = (await run('ip', ['-o', '-4', 'addr'], { allowFail: true })).stdout.split('\n');
    const devices = addrs
      .filter((l) => l.includes(` inet ${userNet}.`) || l.includes(` inet ${net}.`))
      .map((l) => l.split(/\s+/)[1] ?? '')
      .filter(Boolean);
    const cd = childrenOf(pid).find((c) => comm(c) === 'containerd');
    await stopPid(pid, 30_000);
    if (cd !== undefined) await stopPid(cd, 15_000);
    await removeFirewall([bridge, `${net}.`, `${userNet}.`, ...devices], keep, log);
    for (const dev of new Set([bridge, ...devices])) await run('ip', ['link', 'del', dev], { allowFail: true });
    // Its containers' cgroup parent, in every hierarchy (rmdir removes only empty ones).
    await run('sh', ['-c', `rmdir /sys/fs/cgroup/*/${bridge} /sys/fs/cgroup/${bridge} 2>/dev/null; true`], {
      allowFail: true,
    });
    await removeDir(dir);
  };
  try {
    await waitPing(
      'dockerd',
      socket,
      () => proc.exitCode !== null,
      () => out,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: 'dockerd', cli, stop };
}

/** podman (root) on its own storage, run root, network config dir and default subnet. */
async function startPodman(net: string): Promise<Peer> {
  const { dir, base, env } = await podmanSetup('/tmp/podman-bench-net-', { defaultSubnet: `${net}.0/24` });
  const cli = (args: string[], allowFail?: boolean) =>
    run('podman', [...base, ...args], { env, allowFail: allowFail ?? false, timeoutMs: 120_000 });
  return {
    name: 'podman',
    cli,
    async stop() {
      await cli(['rm', '-a', '-f'], true);
      await cli(['rmi', '-a', '-f'], true);
      await removeDir(dir);
    },
  };
}

/** wrk's requests per second against `url` (2 threads, 20 connections). */
async function wrk(url: string, seconds: number): Promise<number> {
  const r = await run('wrk', ['-t2', '-c20', `-d${seconds}s`, url], { timeoutMs: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (m === null) throw new Error(`wrk printed no rate:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '1', url], { allowFail: true });
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

async function benchPeer(
  peer: Peer,
  o: { runs: number; parallel: number; wrkSeconds: number; userNet: string; www: string; log: Log },
): Promise<EngineFigures> {
  const f: EngineFigures = { engine: peer.name, errors: [] };
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      f.errors.push(`${what}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
      o.log(`${peer.name} ${what} failed: ${(err as Error).message}`);
    }
  };
  await attempt('run --rm', async () => {
    // One untimed warm-up of each, then the two interleaved.
    await peer.cli(['run', '--rm', 'busybox', 'true']);
    await peer.cli(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    const bridge: number[] = [];
    const none: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      bridge.push((await peer.cli(['run', '--rm', 'busybox', 'true'])).seconds);
      none.push((await peer.cli(['run', '--rm', '--network', 'none', 'busybox', 'true'])).seconds);
    }
    f.bridge = stats(bridge);
    f.none = stats(none);
  });
  const net = `bnet${SFX}`;
  await attempt('parallel', async () => {
    await peer.cli(['network', 'create', '--subnet', `${o.userNet}.0/24`, net]);
    try {
      const walls: number[] = [];
      for (let round = 0; round < Math.max(1, Math.min(3, o.runs)); round++) {
        const t0 = process.hrtime.bigint();
        const results = await Promise.all(
          Array.from({ length: o.parallel }, (_, i) =>
            peer.cli(
              ['run', '-d', '--network', net, '--name', `bp${SFX}-${round}-${i}`, 'busybox', 'sleep', '120'],
              true,
            ),
          ),
        );
        walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const failed = results.filter((r) => r.code !== 0);
        await peer.cli(['rm', '-f', ...Array.from({ length: o.parallel }, (_, i) => `bp${SFX}-${round}-${i}`)], true);
        if (failed.length > 0) throw new Error(`${failed.length} of ${o.parallel} failed: ${failed[0]!.stderr.trim()}`);
      }
      f.parallelStart = stats(walls);
    } finally {
      const r = await peer.cli(['network', 'rm', net], true);
      if (r.code !== 0) o.log(`${peer.name}: network rm ${net}: ${r.stderr.trim()}`);
    }
  });
  await attempt('wrk', async () => {
    const port = await freePort();
    const name = `bw${SFX}`;
    await peer.cli([
      'run',
      '-d',
      '--name',
      name,
      '-p',
      `${port}:80`,
      '-v',
      `${o.www}:/www:ro`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    try {
      const ip = (
        await peer.cli(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name])
      ).stdout.trim();
      await waitHttp(`http://127.0.0.1:${port}/`);
      await waitHttp(`http://${ip}/`);
      f.published = await wrk(`http://127.0.0.1:${port}/`, o.wrkSeconds);
      f.direct = await wrk(`http://${ip}/`, o.wrkSeconds);
    } finally {
      await peer.cli(['rm', '-f', name], true);
    }
  });
  return f;
}

async function forwardState(): Promise<{ ipForward: string; policy: string | undefined }> {
  const r = await run('iptables', ['-S', 'FORWARD'], { allowFail: true });
  return {
    ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
    policy: /^-P FORWARD (\w+)/m.exec(r.stdout)?.[1],
  };
}

/** Runs the network benchmark on berthd, dockerd and podman (those in `engines`). */
export async function benchNetwork(o: {
  runs: number;
  parallel: number;
  wrkSeconds: number;
  scratch: string;
  log: Log;
  engines?: readonly string[];
}): Promise<NetworkFigures> {
  const want = o.engines ?? ['berthd', 'dockerd', 'podman'];
  const before = await forwardState();
  const [berthNet, dockerNet, podmanNet, userNet] = (await freeSubnets(4)) as [string, string, string, string];
  const www = join(o.scratch, 'www');
  await mkdir(www, { recursive: true });
  await writeFile(join(www, 'index.html'), 'hello from the network benchmark\n');
  const figures: NetworkFigures = { runs: o.runs, parallel: o.parallel, wrkSeconds: o.wrkSeconds, engines: [] };
  const berth = await startBerth(berthNet);
  try {
    // berthd seeds busybox from Debian's busybox-static; the same image goes to the peers.
    const archive = join(o.scratch, 'busybox.tar');
    for (let i = 0; i < 100 && (await berth.cli(['image', 'inspect', 'busybox'], true)).code !== 0; i++)
      await sleep(100);
    await berth.cli(['save', '-o', archive, 'busybox']);
    const peers: (() => Promise<Peer>)[] = [];
    if (want.includes('berthd')) peers.push(async () => berth);
    if (want.includes('dockerd')) peers.push(() => startDockerd(dockerNet, userNet, o.log));
    if (want.includes('podman')) peers.push(() => startPodman(podmanNet));
    for (const start of peers) {
      let peer: Peer | undefined;
      try {
        peer = await start();
        if (peer !== berth) {
          await peer.cli(['load', '-i', archive]);
          if (peer.name === 'podman')
            await peer.cli(['tag', 'localhost/busybox:latest', 'docker.io/library/busybox:latest'], true);
        }
        o.log(`network: ${peer.name}`);
        figures.engines.push(await benchPeer(peer, { ...o, userNet, www }));
      } catch (err) {
        figures.engines.push({ engine: peer?.name ?? 'peer', errors: [(err as Error).message.split('\n')[0] ?? ''] });
        o.log(`network: ${(err as Error).message}`);
      } finally {
        if (peer !== undefined && peer !== berth) await peer.stop();
      }
    }
  } finally {
    await berth.stop();
    const now = await forwardState();
    if (now.ipForward !== before.ipForward) await writeFile('/proc/sys/net/ipv4/ip_forward', `${before.ipForward}\n`);
    if (before.policy !== undefined && now.policy !== before.policy)
      await run('iptables', ['-P', 'FORWARD', before.policy]);
  }
  return figures;
}

const ms = (s: Stats | undefined) =>
  s === undefined || s.n === 0
    ? 'n/a'
    : `${(s.median * 1000).toFixed(0)} (${(s.min * 1000).toFixed(0)}–${(s.max * 1000).toFixed(0)}) ms`;

/** The figures as the Markdown tables bench/README.md keeps. */
export function networkReport(f: NetworkFigures): string {
  const lines = [
    `### Networking (${f.runs} runs of each \`run --rm\`, interleaved; ${f.parallel} in parallel; wrk -t2 -c20 for ${f.wrkSeconds} s: median (min–max))`,
    '',
    `| engine | \`run --rm busybox true\`, bridge | same, \`--network none\` | bridge extra | ${f.parallel} \`run -d\` in parallel, user network | wrk via published port | wrk to container IP | published / direct |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const e of f.engines) {
    const extra = e.bridge && e.none ? `${((e.bridge.median - e.none.median) * 1000).toFixed(0)} ms` : 'n/a';
    const ratio = e.published !== undefined && e.direct ? `${(e.published / e.direct).toFixed(2)}×` : 'n/a';
    const rps = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)} req/s`);
    lines.push(
      `| ${e.engine} | ${ms(e.bridge)} | ${ms(e.none)} | ${extra} | ${ms(e.parallelStart)} | ${rps(e.published)} | ${rps(e.direct)} | ${ratio} |`,
    );
  }
  lines.push('');
  for (const e of f.engines) for (const err of e.errors) lines.push(`- ${e.engine}: ${err}`);
  lines.push('');
  return lines.join('\n');
}
