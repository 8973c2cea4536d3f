/**
 * Registry operations beside their peers, in the same run, on 127.0.0.1:
 *
 * - replication: the 50-layer image (50 layers of 1 MiB of random files, gzip) copied between registries by a
 *   replication rule of `berth registry serve` (run through the admin API, waiting for its end) and by
 *   `skopeo copy docker://… docker://…` between the same kinds of registries: berth → docker-registry (a push rule),
 *   docker-registry → berth (a pull rule) and berth → berth. Every run goes to a fresh, empty destination, so every
 *   blob is sent.
 * - proxy: `skopeo copy docker://… oci:DIR` of the same image from one `berth registry serve`, once from a plain
 *   project (a local pull) and once from a proxy project in front of docker-registry whose cache already holds the
 *   image (a cache hit), interleaved; the upstream's access log shows it was not asked.
 *
 * A script, not a test: it prints figures and asserts no timing. `node bench/registry-ops.ts --help`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  accessLog,
  type DistributionRegistry,
  htpasswdFile,
  startRegistry,
} from '../src/distribution/remote/testkit.ts';
import { registryCli, serveRegistry, type ServedRegistry } from '../src/registry/testkit.ts';
import { type BuiltImage, bigLayer, buildImage, manyLayers } from './lib/archive.ts';
import { cpuMs, cpuSeconds, fmt, run, type Stats, sampleRss, stats, threadSched } from './lib/proc.ts';

const USAGE = `usage: node bench/registry-ops.ts [replication] [proxy] [big] [options]
  big             a --mib MiB one-layer image: berth → docker-registry → another berth by rules, digests compared
  --mib N         layer size of the big image (default 256)
  --chunk-mib N   the berth registries' replication chunk size (default theirs, 32)
  --layers N      layers of the image (default 50)
  --layer-kib N   KiB of each layer (default 1024)
  --runs N        runs per measurement (default 3)
  --pairs LIST    replication pairs to measure, of berth-dist, dist-berth, berth-berth (default all three)
  --parallel-blobs N  the berth registries' replication.parallelBlobs (default theirs)
  --cpu-prof DIR  V8 CPU profiles of the berth registries into DIR (one file per process, written at its exit)
  --uv-threads N  UV_THREADPOOL_SIZE of the berth registries (default theirs)
  --baseline DIR  another checkout (e.g. main's tree): in the pairs into berth its registries run the rule too
                  (berth-berth: both ends), in the same runs, the three copies' order rotating; its times and CPU are
                  printed beside this one's
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    layers: { type: 'string', default: '50' },
    'layer-kib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    mib: { type: 'string', default: '256' },
    'chunk-mib': { type: 'string' },
    pairs: { type: 'string', default: 'berth-dist,dist-berth,berth-berth' },
    'parallel-blobs': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'uv-threads': { type: 'string' },
    baseline: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const which = new Set(positionals.length ? positionals : ['replication', 'proxy', 'big']);
const RUNS = Number(values.runs);
const USER = 'bench:benchpw';
const ADMIN = { Authorization: `Basic ${Buffer.from(USER).toString('base64')}` };
const STEP_TIMEOUT_MS = 600_000;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const out = (s: string) => process.stdout.write(`${s}\n`);

/** A registry either kind, as the measurements need it. */
interface Peer {
  kind: 'berth' | 'dist';
  host: string;
  url: string;
  /** skopeo's flags for it as `src` or `dest`. */
  flags(side: 'src' | 'dest'): string[];
  /** The registry's process. */
  pid: number;
  stop(): Promise<void>;
}

async function berthPeer(work: string, name: string, checkout?: string): Promise<Peer & { reg: ServedRegistry }> {
  const root = await mkdtemp(join(work, `${name}-`));
  await htpasswdFile(join(root, 'htpasswd'), { bench: 'benchpw' });
  const args = ['--auth', `htpasswd=${join(root, 'htpasswd')}`];
  const replication: Record<string, number> = {};
  if (values['chunk-mib'] !== undefined) replication.chunkBytes = Number(values['chunk-mib']) * 1024 * 1024;
  if (values['parallel-blobs'] !== undefined) replication.parallelBlobs = Number(values['parallel-blobs']);
  if (Object.keys(replication).length > 0) {
    await writeFile(join(root, 'config.json'), JSON.stringify({ replication }));
    args.push('--config', join(root, 'config.json'));
  }
  const prof = values['cpu-prof'];
  const threads = values['uv-threads'];
  const env =
    prof || threads
      ? {
          ...process.env,
          ...(prof
            ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${prof}`.trim() }
            : {}),
          ...(threads ? { UV_THREADPOOL_SIZE: threads } : {}),
        }
      : undefined;
  const reg = await serveRegistry(undefined, {
    root,
    args,
    ...(env ? { env } : {}),
    ...(checkout ? { berth: join(checkout, 'bin', 'berth') } : {}),
  });
  // A registry repairs its storage in a worker thread once it listens (loading that worker's modules, then a
  // scan): 0.1-0.3 s of CPU that would otherwise overlap the first copy into a fresh destination. Measured are
  // copies between registries that are up, so each copy waits for it.
  await repaired(reg);
  return {
    kind: 'berth',
    reg,
    pid: reg.pid,
    host: reg.host,
    url: reg.url,
    flags: (side) => [`--${side}-tls-verify=false`, `--${side}-creds`, USER],
    stop: async () => {
      await reg.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Waits for the registry's start-up repair to end (its log line). */
async function repaired(reg: ServedRegistry): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!/berth registry: repair(:| failed)/.test(reg.log())) {
    if (Date.now() > deadline) throw new Error(`the registry did not finish its start-up repair:\n${reg.log()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function distPeer(): Promise<Peer & { reg: DistributionRegistry }> {
  const reg = await startRegistry('plain');
  return {
    kind: 'dist',
    reg,
    pid: reg.pid,
    host: reg.host,
    url: reg.url,
    flags: (side) => [`--${side}-tls-verify=false`],
    stop: () => reg.stop(),
  };
}

/** CPU seconds a thread has run, and seconds it was runnable but waiting for a CPU. */
interface ThreadTimes {
  cpu: number;
  wait: number;
}

/**
 * CPU and run-queue times of a Node process's main thread (Node names it MainThread) and of its content store's
 * ingest thread (`ingest`); zero for a thread it does not have.
 */
function mainAndIngestTimes(pid: number): { main: ThreadTimes; ingest: ThreadTimes } {
  const all = threadSched(pid);
  const times = (name: string): ThreadTimes => ({ cpu: all[name]?.cpu ?? 0, wait: all[name]?.wait ?? 0 });
  return { main: times('MainThread'), ingest: times('ingest') };
}

const skopeo = async (args: string[]) =>
  (await run('skopeo', ['--insecure-policy', ...args], { timeoutMs: STEP_TIMEOUT_MS })).seconds;

/** skopeo copies bench/img:1 from one registry to another; seconds. */
const skopeoCopy = (src: Peer, dst: Peer) =>
  skopeo([
    'copy',
    '-q',
    ...src.flags('src'),
    ...dst.flags('dest'),
    `docker://${src.host}/bench/img:1`,
    `docker://${dst.host}/bench/img:1`,
  ]);

async function seed(p: Peer, image: BuiltImage, ref: string): Promise<void> {
  await skopeo(['copy', '-q', ...p.flags('dest'), `docker-archive:${image.archive}`, `docker://${p.host}/${ref}`]);
}

async function admin(reg: { url: string }, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${reg.url}/admin/v1/${path}`, {
    method,
    headers: { ...ADMIN, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** One replication of `bench/img:1` from `src` to `dst` by a rule of whichever side is berth; seconds. */
async function replicate(
  src: Peer,
  dst: Peer,
  i: number,
  onStart?: () => void,
): Promise<{ seconds: number; own: number; bytes: number }> {
  const push = src.kind === 'berth';
  const owner = (push ? src : dst) as Peer & { reg: ServedRegistry };
  const remote = push ? dst : src;
  const name = `r${i}`;
  await admin(owner.reg, 'POST', 'replication', {
    name,
    direction: push ? 'push' : 'pull',
    remote: { url: remote.url, ...(remote.kind === 'berth' ? { username: 'bench', password: 'benchpw' } : {}) },
    repo: 'bench/img',
    trigger: 'manual',
  });
  await run('sync', []);
  onStart?.();
  const t0 = process.hrtime.bigint();
  const e = (await admin(owner.reg, 'POST', `replication/${name}/run`, { wait: true })) as {
    state: string;
    startedAt: string;
    endedAt: string;
    bytes: number;
    error: string | null;
  };
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (e.state !== 'succeeded') throw new Error(`replication ${name}: ${e.state} ${e.error}`);
  return { seconds, own: (Date.parse(e.endedAt) - Date.parse(e.startedAt)) / 1000, bytes: e.bytes };
}

async function benchReplication(work: string, image: BuiltImage): Promise<void> {
  const pairs = values.pairs.split(',').map((p) => {
    const [a, b] = p.split('-') as [Peer['kind'], Peer['kind']];
    if (!['berth', 'dist'].includes(a) || !['berth', 'dist'].includes(b)) throw new Error(`unknown pair "${p}"`);
    return [a, b] as const;
  });
  const make = (k: Peer['kind'], n: string, checkout?: string) =>
    k === 'berth' ? berthPeer(work, n, checkout) : distPeer();
  const rows: { pair: string; berth: Stats; skopeo: Stats; own: Stats; ratio: Stats; mb: number; cpu: string }[] = [];
  for (const [sk, dk] of pairs) {
    const src = await make(sk, 'src');
    // The baseline checkout runs the rule where the rule's owner is a fresh destination each run (dist → berth), or
    // both ends (berth → berth: a source of its own, seeded alike, and its destinations).
    const baseline = dk === 'berth' ? values.baseline : undefined;
    const baseSrc = baseline && sk === 'berth' ? await make(sk, 'srcbase', baseline) : undefined;
    const who = ['skopeo', 'berth', ...(baseline ? ['baseline'] : [])];
    const m = new Map(
      who.map((w) => [
        w,
        {
          secs: [] as number[],
          own: [] as number[],
          cpu: [] as number[],
          main: [] as number[],
          wait: [] as number[],
          ingest: [] as number[],
          ingestWait: [] as number[],
          rss: [] as number[],
        },
      ]),
    );
    let bytes = 0;
    try {
      await seed(src, image, 'bench/img:1');
      if (baseSrc) await seed(baseSrc, image, 'bench/img:1');
      for (let i = 0; i < RUNS; i++) {
        // skopeo and the rule (and the baseline's rule) take turns first, each to a destination of its own, fresh.
        const order = [...who.slice(i % who.length), ...who.slice(0, i % who.length)];
        for (const w of order) {
          const r = m.get(w)!;
          const dst = await make(dk, `dst${i}${w}`, w === 'baseline' ? baseline : undefined);
          const from = w === 'baseline' && baseSrc ? baseSrc : src;
          // CPU of every berth registry in the copy (both ends of berth → berth); the rule's main thread is its owner's.
          const pids = [from, dst].filter((p) => p.kind === 'berth').map((p) => p.pid);
          const owner = sk === 'berth' ? from : dst;
          let cpu0 = cpuSeconds(pids);
          let times0 = mainAndIngestTimes(owner.pid);
          // Peak RSS of the process that runs the rule (for skopeo's copy: the same berth registry's, receiving it).
          const rss = sampleRss([owner.pid]);
          try {
            if (w === 'skopeo') {
              await run('sync', []);
              const synced = cpuMs('self').reaped / 1000;
              r.secs.push(await skopeoCopy(from, dst));
              r.cpu.push(cpuMs('self').reaped / 1000 - synced + cpuSeconds(pids) - cpu0);
            } else {
              // From the run's request on: the rule's creation (and the client loaded meanwhile) not counted.
              const x = await replicate(from, dst, i, () => {
                cpu0 = cpuSeconds(pids);
                times0 = mainAndIngestTimes(owner.pid);
              });
              r.secs.push(x.seconds);
              r.own.push(x.own);
              bytes = x.bytes;
              r.cpu.push(cpuSeconds(pids) - cpu0);
              const times1 = mainAndIngestTimes(owner.pid);
              r.main.push(times1.main.cpu - times0.main.cpu);
              r.wait.push(times1.main.wait - times0.main.wait);
              r.ingest.push(times1.ingest.cpu - times0.ingest.cpu);
              r.ingestWait.push(times1.ingest.wait - times0.ingest.wait);
            }
          } finally {
            r.rss.push(rss.stop() / 1024);
            await dst.stop();
          }
        }
      }
    } finally {
      await src.stop();
      await baseSrc?.stop();
    }
    const sko = m.get('skopeo')!;
    for (const w of who.slice(1)) {
      const r = m.get(w)!;
      // Each run's rule and skopeo ran back to back: their ratio is less at the mercy of the machine's load.
      rows.push({
        pair: `${sk} → ${dk}${w === 'baseline' ? ` (baseline ${baseline})` : ''}`,
        berth: stats(r.secs),
        skopeo: stats(sko.secs),
        own: stats(r.own),
        ratio: stats(r.secs.map((b, i) => b / sko.secs[i]!)),
        mb: bytes / 1e6,
        cpu: `rule ${fmt(stats(r.cpu))} (its main thread ${fmt(stats(r.main))}, and runnable waiting for a CPU ${fmt(stats(r.wait))}; its ingest thread ${fmt(stats(r.ingest))}, waiting ${fmt(stats(r.ingestWait))}); skopeo's copy, skopeo + the berth registry ${fmt(stats(sko.cpu))}; peak RSS of the rule's process ${fmt(stats(r.rss))} MiB (the ${sk === 'berth' ? 'source' : 'destination'} under skopeo's copy ${fmt(stats(sko.rss))} MiB)`,
      });
    }
    if (baseline) {
      const [b, a] = [m.get('berth')!, m.get('baseline')!];
      out(
        `(${sk} → ${dk}, this checkout / the baseline, run by run: wall ${fmt(stats(b.secs.map((x, i) => x / a.secs[i]!)))}, CPU ${fmt(stats(b.cpu.map((x, i) => x / a.cpu[i]!)))}, main thread CPU ${fmt(stats(b.main.map((x, i) => x / a.main[i]!)))})`,
      );
    }
  }
  out(
    `\n## Replication of the ${image.layers.length}-layer image (${(image.archiveBytes / 1e6).toFixed(0)} MB), ${RUNS} runs each, fresh destination each run; load average now ${load()}`,
  );
  out(
    '| source → destination | replication rule, s (median, min–max) | execution alone, s | skopeo copy, s | rule / skopeo, run by run (median, min–max) |',
  );
  out('|---|---|---|---|---|');
  for (const r of rows) out(`| ${r.pair} | ${fmt(r.berth)} | ${fmt(r.own)} | ${fmt(r.skopeo)} | ${fmt(r.ratio)} |`);
  out(`(bytes sent by the rule per run: ${rows[0]?.mb.toFixed(1)} MB)`);
  out('CPU seconds per run (the berth registries: all threads; skopeo: the command; docker-registry not counted):');
  for (const r of rows) out(`- ${r.pair}: ${r.cpu}`);
}

async function benchProxy(work: string, image: BuiltImage): Promise<void> {
  const up = await distPeer();
  const root = await mkdtemp(join(work, 'proxy-'));
  await htpasswdFile(join(root, 'htpasswd'), { bench: 'benchpw' });
  await registryCli(['project', 'create', 'cache', '--proxy', up.url, '--root', root]);
  await registryCli(['project', 'create', 'local', '--root', root]);
  const reg = await serveRegistry(undefined, { root, args: ['--auth', `htpasswd=${join(root, 'htpasswd')}`] });
  await repaired(reg);
  const flags = ['--src-tls-verify=false', '--src-creds', USER];
  const pull = async (ref: string) => {
    const dir = join(work, 'pulled');
    await rm(dir, { recursive: true, force: true });
    await run('sync', []);
    return skopeo(['copy', '-q', ...flags, `docker://${reg.host}/${ref}`, `oci:${dir}:t`]);
  };
  try {
    await seed(up, image, 'bench/img:1');
    await skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      USER,
      `docker-archive:${image.archive}`,
      `docker://${reg.host}/local/bench/img:1`,
    ]);
    const miss = await pull('cache/bench/img:1');
    const before = accessLog(up.reg).length;
    const local: number[] = [];
    const hit: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (i % 2 === 0) {
        local.push(await pull('local/bench/img:1'));
        hit.push(await pull('cache/bench/img:1'));
      } else {
        hit.push(await pull('cache/bench/img:1'));
        local.push(await pull('local/bench/img:1'));
      }
    }
    const asked = accessLog(up.reg).length - before;
    const l = stats(local);
    const h = stats(hit);
    out(
      `\n## Pull-through cache, the ${image.layers.length}-layer image, skopeo copy to an OCI dir, ${RUNS} runs each; load average now ${load()}`,
    );
    out('| pull | seconds, median (min–max) |');
    out('|---|---|');
    out(`| local project | ${fmt(l)} |`);
    out(`| proxy project, cache hit | ${fmt(h)} |`);
    out(`| proxy project, first pull (miss, from docker-registry) | ${miss.toFixed(2)} |`);
    const ratio = stats(hit.map((x, i) => x / local[i]!));
    out(`hit / local, run by run: ${fmt(ratio)}; requests the upstream saw during the hits: ${asked}`);
  } finally {
    await reg.stop();
    await up.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** The big image both ways: berth → docker-registry (push rule), docker-registry → berth (pull rule), digests. */
async function benchBig(work: string, image: BuiltImage): Promise<void> {
  const a = await berthPeer(work, 'big-a');
  const d = await distPeer();
  const b = await berthPeer(work, 'big-b');
  const digestAt = async (p: Peer) => {
    const res = await fetch(`${p.url}/v2/bench/img/manifests/1`, {
      method: 'HEAD',
      headers: {
        ...(p.kind === 'berth' ? ADMIN : {}),
        Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    return res.headers.get('docker-content-digest');
  };
  try {
    await seed(a, image, 'bench/img:1');
    await run('sync', []);
    const d2 = await distPeer();
    let sko: number;
    try {
      sko = await skopeoCopy(a, d2);
    } finally {
      await d2.stop();
    }
    const there = await replicate(a, d, 0);
    const back = await replicate(d, b, 1);
    const digests = [await digestAt(a), await digestAt(d), await digestAt(b)];
    out(`\n## The ${(image.archiveBytes / 1e6).toFixed(0)} MB one-layer image both ways; load average now ${load()}`);
    out('| rule | seconds | MB sent |');
    out('|---|---|---|');
    out(`| berth → docker-registry (push) | ${there.seconds.toFixed(2)} | ${(there.bytes / 1e6).toFixed(1)} |`);
    out(`| docker-registry → berth (pull) | ${back.seconds.toFixed(2)} | ${(back.bytes / 1e6).toFixed(1)} |`);
    out(`| skopeo copy berth → docker-registry, just before | ${sko.toFixed(2)} | |`);
    out(`manifest digests: ${digests.join(', ')}: ${new Set(digests).size === 1 ? 'identical' : 'DIFFERENT'}`);
  } finally {
    await a.stop();
    await d.stop();
    await b.stop();
  }
}

const work = await mkdtemp(join(tmpdir(), 'berth-bench-regops-'));
try {
  out(`# Registry operations — ${new Date().toISOString()}; load average at start ${load()}`);
  if (which.has('replication') || which.has('proxy')) {
    const image = await buildImage(work, 'many', manyLayers(Number(values.layers), Number(values['layer-kib'])), {
      gzip: true,
    });
    if (which.has('replication')) await benchReplication(work, image);
    if (which.has('proxy')) await benchProxy(work, image);
  }
  if (which.has('big'))
    await benchBig(work, await buildImage(work, 'big', [bigLayer(Number(values.mib))], { gzip: true }));
} finally {
  await rm(work, { recursive: true, force: true });
}
