/**
 * `berth registry serve` beside Debian's docker-registry (distribution 2.8.2) in the same run, on 127.0.0.1:
 *
 * - http: GET manifest by tag, GET /v2/ (wrk -t2 -c32) and HEAD blob (ab -k -c32 for the same time: wrk 4.1 cannot HEAD), without
 *   auth and with token auth (a bearer token from each registry's token service on every request); peak RSS of
 *   each server under that load.
 * - throughput: skopeo copy of an image with one --mib MiB layer (random data, gzip) into each registry (a fresh
 *   root per run, so every byte is uploaded) and out of it into an OCI directory.
 * - blobget: GET of one 256 MiB blob with curl to /dev/null from each registry, 6 times interleaved: the servers'
 *   own cost of sending a blob, without skopeo's (digesting, writing) in the way.
 * - gc: see bench/registry-gc.ts.
 *
 * A script, not a test: it prints figures and asserts no timing. `node bench/registry-server.ts --help`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRegistry, type DistributionRegistry } from '../src/distribution/remote/testkit.ts';
import { pushBlob, registryCli, serveRegistry, type ServedRegistry } from '../src/registry/testkit.ts';
import { bigLayer, buildImage, type BuiltImage } from './lib/archive.ts';
import { abHead, type LoadFigures, wrk } from './lib/load.ts';
import { fmt, run, sampleRss, stats, type Stats } from './lib/proc.ts';
import { skopeoPullArgs, skopeoPush } from './lib/pull-probe.ts';
import { benchGc, gcReport } from './registry-gc.ts';

const USAGE = `usage: node bench/registry-server.ts [http] [throughput] [blobget] [gc] [options]
  --seconds N     wrk duration per measurement (default 10)
  --rounds N      rounds of the http measurements, interleaved (default 2)
  --mib N         layer size of the throughput image (default 256)
  --runs N        throughput runs per direction and registry (default 3)
  --blobs N       blobs in the GC benchmark (default 100000)
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    blobs: { type: 'string', default: '100000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const which = new Set(positionals.length ? positionals : ['http', 'throughput', 'blobget', 'gc']);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const out = (s: string) => process.stdout.write(`${s}\n`);

/** Seeds a small image (one 2 KiB gzip layer) as `bench/app:v1` with skopeo; returns its layer digest. */
async function seed(host: string, archive: string, creds?: string): Promise<void> {
  await run('skopeo', [
    '--insecure-policy',
    'copy',
    '-q',
    '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', creds] : []),
    `docker-archive:${archive}`,
    `docker://${host}/bench/app:v1`,
  ]);
}

interface Target {
  name: string;
  url: string;
  pid: number;
  /** Headers for a measurement: a fresh bearer token each time with token auth (tokens live 5 minutes). */
  headers: () => Promise<Record<string, string>>;
}

async function tokenFor(realm: string, service: string, scope: string, creds: string): Promise<string> {
  const q = new URLSearchParams({ service, scope });
  const res = await fetch(`${realm}?${q}`, {
    headers: { Authorization: `Basic ${Buffer.from(creds).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`token from ${realm}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

type Endpoint = 'manifest' | 'ping' | 'head';

async function measure(t: Target, ep: Endpoint, layer: string): Promise<LoadFigures & { rssKiB: number }> {
  const headers = await t.headers();
  const rss = sampleRss([t.pid], 50);
  let f: LoadFigures;
  if (ep === 'manifest')
    f = await wrk(`${t.url}/v2/bench/app/manifests/v1`, SECONDS, {
      ...headers,
      Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
    });
  else if (ep === 'ping') f = await wrk(`${t.url}/v2/`, SECONDS, headers);
  else f = await abHead(`${t.url}/v2/bench/app/blobs/${layer}`, SECONDS, headers);
  return { ...f, rssKiB: rss.stop() };
}

async function benchHttp(work: string, archive: string): Promise<void> {
  const berth = await serveRegistry(undefined, { root: join(work, 'berth-http') });
  const dist = await startRegistry('plain');
  // Token auth: a user with pull on a project in Berth; alice in the token service distribution trusts.
  const root = join(work, 'berth-token');
  await registryCli(['user', 'add', 'alice', '--password-stdin', '--root', root], 'wonderland\n');
  await registryCli(['project', 'create', 'bench', '--root', root]);
  await registryCli(['grant', 'alice', 'bench', 'push', '--root', root]);
  const berthTok = await serveRegistry(undefined, { root });
  const distTok = await startRegistry('token');
  let servers: { stop(): Promise<unknown> }[] = [berth, dist, berthTok, distTok];
  try {
    await seed(berth.host, archive);
    await seed(dist.host, archive);
    await seed(berthTok.host, archive, 'alice:wonderland');
    await seed(distTok.host, archive, 'alice:wonderland');
    const manifest = (await (
      await fetch(`${berth.url}/v2/bench/app/manifests/v1`, {
        headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      })
    ).json()) as { layers: { digest: string }[] };
    const layer = manifest.layers[0]!.digest;
    const scope = 'repository:bench/app:pull';
    const bt = async () => ({
      Authorization: `Bearer ${await tokenFor(`${berthTok.url}/token`, 'berth-registry', scope, 'alice:wonderland')}`,
    });
    const dt = async () => ({
      Authorization: `Bearer ${await tokenFor(distTok.tokens!.realm, distTok.tokens!.service, scope, 'alice:wonderland')}`,
    });
    const none = async () => ({});
    const targets: [string, Target, Target][] = [
      [
        'no auth',
        { name: 'berth', url: berth.url, pid: berth.pid, headers: none },
        { name: 'distribution', url: dist.url, pid: dist.pid, headers: none },
      ],
      [
        'token auth',
        { name: 'berth', url: berthTok.url, pid: berthTok.pid, headers: bt },
        { name: 'distribution', url: distTok.url, pid: distTok.pid, headers: dt },
      ],
    ];
    const results = new Map<string, (LoadFigures & { rssKiB: number })[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode, b, d] of targets) {
        for (const ep of ['manifest', 'head', 'ping'] as Endpoint[]) {
          for (const t of round % 2 ? [d, b] : [b, d]) {
            const f = await measure(t, ep, layer);
            const key = `${mode}|${ep}|${t.name}`;
            results.set(key, [...(results.get(key) ?? []), f]);
            if (f.errors > 0) out(`  warning: ${key}: ${f.errors} error answers`);
          }
        }
      }
    }
    out(
      `\n## HTTP (${ROUNDS} rounds, wrk -t2 -c32 -d${SECONDS}s; HEAD: ab -k -c32 -t ${SECONDS}); load average now ${load()}`,
    );
    out(
      '| auth | request | berth req/s | berth p99 ms | distribution req/s | distribution p99 ms | ratio | peak RSS berth / distribution MiB |',
    );
    out('|---|---|---|---|---|---|---|---|');
    const label: Record<Endpoint, string> = { manifest: 'GET manifest by tag', head: 'HEAD blob', ping: 'GET /v2/' };
    for (const [mode] of targets) {
      for (const ep of ['manifest', 'head', 'ping'] as Endpoint[]) {
        const b = results.get(`${mode}|${ep}|berth`)!;
        const d = results.get(`${mode}|${ep}|distribution`)!;
        const med = (xs: number[]) => stats(xs).median;
        const br = med(b.map((x) => x.rps));
        const dr = med(d.map((x) => x.rps));
        out(
          `| ${mode} | ${label[ep]} | ${br.toFixed(0)} | ${med(b.map((x) => x.p99Ms)).toFixed(1)} | ${dr.toFixed(0)} | ${med(d.map((x) => x.p99Ms)).toFixed(1)} | ${(br / dr).toFixed(1)}× | ${(Math.max(...b.map((x) => x.rssKiB)) / 1024).toFixed(0)} / ${(Math.max(...d.map((x) => x.rssKiB)) / 1024).toFixed(0)} |`,
        );
      }
    }
  } finally {
    for (const s of servers) await s.stop();
    servers = [];
    await rm(join(work, 'berth-http'), { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}

async function benchThroughput(work: string, image: BuiltImage, runs: number): Promise<void> {
  let bytes = 0;
  for (const l of image.layers) bytes += l.gz ? (await stat(l.gz)).size : l.tarBytes;
  const times: Record<string, number[]> = {};
  const add = (k: string, s: number) => (times[k] ??= []).push(s);
  for (let i = 0; i < runs; i++) {
    for (const name of i % 2 ? ['distribution', 'berth'] : ['berth', 'distribution']) {
      const reg: ServedRegistry | DistributionRegistry =
        name === 'berth'
          ? await serveRegistry(undefined, { root: join(work, `tp-${i}`) })
          : await startRegistry('plain');
      try {
        await run('sync', []);
        const push = await skopeoPush(image.archive, `${reg.host}/bench/big:1`, 600_000);
        add(`${name} push`, push.seconds);
        const dest = join(work, `pull-${name}-${i}`);
        await run('sync', []);
        const pull = await run('skopeo', skopeoPullArgs(`${reg.host}/bench/big:1`, `oci:${dest}:x`), {
          timeoutMs: 600_000,
        });
        add(`${name} pull`, pull.seconds);
        await rm(dest, { recursive: true, force: true });
      } finally {
        await reg.stop();
        await rm(join(work, `tp-${i}`), { recursive: true, force: true });
      }
    }
  }
  out(
    `\n## skopeo throughput, one ${values.mib} MiB layer (random, gzip), ${runs} runs each; load average now ${load()}`,
  );
  out('| | seconds, median (min–max) | MB/s (median) |');
  out('|---|---|---|');
  for (const k of ['berth push', 'distribution push', 'berth pull', 'distribution pull']) {
    const s: Stats = stats(times[k] ?? []);
    out(`| ${k} | ${fmt(s)} | ${(bytes / 1e6 / s.median).toFixed(0)} |`);
  }
}

/** One 256 MiB blob fetched with curl from each registry, 6 times, interleaved. */
async function benchBlobGet(work: string): Promise<void> {
  const berth = await serveRegistry(undefined, { root: join(work, 'berth-get') });
  const dist = await startRegistry('plain');
  try {
    const data = randomBytes(256 << 20);
    const digest = await pushBlob(berth, 'bench/big', data);
    await pushBlob({ url: `http://${dist.host}` }, 'bench/big', data);
    const times: Record<string, number[]> = { berth: [], distribution: [] };
    for (let i = 0; i < 6; i++) {
      for (const [name, host] of i % 2
        ? [
            ['distribution', dist.host],
            ['berth', berth.host],
          ]
        : [
            ['berth', berth.host],
            ['distribution', dist.host],
          ]) {
        const r = await run('curl', [
          '-sf',
          '-o',
          '/dev/null',
          '-w',
          '%{time_total}',
          `http://${host}/v2/bench/big/blobs/${digest}`,
        ]);
        times[name!]!.push(Number(r.stdout));
      }
    }
    out(`\n## GET of one 256 MiB blob with curl, 6 times each, interleaved; load average now ${load()}`);
    out('| | seconds, median (min–max) | MB/s (median) |');
    out('|---|---|---|');
    for (const k of ['berth', 'distribution']) {
      const s = stats(times[k]!);
      out(`| ${k} | ${fmt(s)} | ${(data.length / 1e6 / s.median).toFixed(0)} |`);
    }
  } finally {
    await berth.stop();
    await dist.stop();
    await rm(join(work, 'berth-get'), { recursive: true, force: true });
  }
}

const work = await mkdtemp(join(tmpdir(), 'berth-bench-regsrv-'));
try {
  out(`# berth registry serve vs docker-registry 2.8 — ${new Date().toISOString()}; load average at start ${load()}`);
  if (which.has('http')) {
    const small = await buildImage(work, 'small', [{ dirs: [], files: [{ path: 'f', size: 2048 }] }], { gzip: true });
    await benchHttp(work, small.archive);
  }
  if (which.has('throughput')) {
    const big = await buildImage(work, 'big', [bigLayer(Number(values.mib))], { gzip: true });
    await benchThroughput(work, big, Number(values.runs));
  }
  if (which.has('blobget')) await benchBlobGet(work);
  if (which.has('gc')) out(gcReport(await benchGc(work, Number(values.blobs), SECONDS)));
} finally {
  await rm(work, { recursive: true, force: true });
}
