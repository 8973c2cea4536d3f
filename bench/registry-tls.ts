/**
 * Blob GETs over HTTPS with a private CA, as a replication rule makes them: by the ingest thread
 * (`IngestWriter.fetch`, util/blob-fetch.ts) and by the registry client (`Transport.request`,
 * distribution/remote/transport.ts), straight from the registry and through a 307 to storage on another port under
 * the same CA (which only a tree whose TLS settings follow redirects can do). Each round runs this checkout and,
 * with `--baseline`, another checkout, each in a process of its own (the order alternating), so that the process's
 * CPU is the tree's own; both serve the blob from an https server in the same process, the same for both.
 *
 * A script, not a test: it prints figures and asserts no timing. `node bench/registry-tls.ts --help`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, stats } from './lib/proc.ts';

const USAGE = `usage: node bench/registry-tls.ts [options]
  --baseline DIR  another checkout (e.g. main's tree before a change), measured in the same rounds
  --fetches N     GETs per case and round (default 60)
  --mib N         size of the blob in MiB (default 1)
  --rounds N      rounds (default 3)
`;

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    fetches: { type: 'string', default: '60' },
    mib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const HERE = resolve(import.meta.dirname, '..');
const fetches = Number(values.fetches);
const mib = Number(values.mib);

type Figures = Record<string, { wallMs: number; cpuMs: number }>;

/** One tree's GETs, in this process: per case, milliseconds of wall time and of process CPU per GET. */
async function measure(tree: string): Promise<Figures> {
  const { makeCa } = await import(join(HERE, 'src/distribution/remote/testkit.ts'));
  const { FileContentStore } = await import(join(tree, 'src/content/store.ts'));
  const { Transport } = await import(join(tree, 'src/distribution/remote/transport.ts'));
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-tls-'));
  const servers: Server[] = [];
  try {
    await makeCa(dir);
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
    const blob = randomBytes(mib << 20);
    const listen = async (s: Server) => {
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `127.0.0.1:${(s.address() as { port: number }).port}`;
    };
    const storage = await listen(
      createServer(tls, (_req, res) => res.writeHead(200, { 'Content-Length': blob.length }).end(blob)),
    );
    const home = await listen(
      createServer(tls, (req, res) => {
        if (req.url === '/away') res.writeHead(307, { Location: `https://${storage}/data`, 'Content-Length': 0 }).end();
        else res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
      }),
    );
    const certsDir = join(dir, 'certs.d');
    await mkdir(join(certsDir, home), { recursive: true });
    await writeFile(join(certsDir, home, 'ca.crt'), ca);
    const t = new Transport({
      insecureRegistries: [],
      mirrors: [],
      certsDir,
      maxConcurrentDownloads: 1,
      maxConcurrentUploads: 1,
    });
    const ep = { base: `https://${home}`, registry: home, skipVerify: false, mirror: false };
    // A tree from before the settings were the client's gave the thread the rule's CA itself.
    const follows = typeof t.tlsSettings === 'function';
    const settings = follows ? t.tlsSettings(ep) : { ca, verify: true };
    const store = new FileContentStore(join(dir, 'store'), { ingestThread: true });
    await store.init();
    await store.warm();
    let n = 0;
    const thread = async (path: string) => {
      const ref = `f${n++}`;
      const w = await store.writer(ref, { size: 0 });
      const src = { url: `https://${home}${path}`, headers: {}, tls: settings, idleMs: 30_000, connectMs: 10_000 };
      await w.fetch(src, { maxSize: blob.length });
      await w.close();
      await store.abort(ref);
    };
    const client = async (path: string) => {
      let res = await t.request(ep, path);
      if (res.status === 307) {
        res.discard();
        res = await t.request(ep, new URL(res.headers.location, res.url).href);
      }
      for await (const _ of res.body);
    };
    const cases: [string, () => Promise<void>][] = [
      ['thread, straight', () => thread('/data')],
      ['client, straight', () => client('/data')],
      ...(follows
        ? ([
            ['thread, redirected', () => thread('/away')],
            ['client, redirected', () => client('/away')],
          ] as [string, () => Promise<void>][])
        : []),
    ];
    const out: Figures = {};
    for (const [name, get] of cases) {
      for (let i = 0; i < 3; i++) await get(); // connections made, code warm
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (let i = 0; i < fetches; i++) await get();
      const c = process.cpuUsage(c0);
      out[name] = {
        wallMs: Number(process.hrtime.bigint() - t0) / 1e6 / fetches,
        cpuMs: (c.user + c.system) / 1000 / fetches,
      };
    }
    t.close();
    await store.close();
    return out;
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function child(tree: string): Promise<Figures> {
  return new Promise((res, rej) => {
    const p = spawn(
      process.execPath,
      [import.meta.filename, '--child', tree, '--fetches', String(fetches), '--mib', String(mib)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as Figures) : rej(new Error(`${tree}: exit ${code}`))));
  });
}

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(values.child)));
} else {
  const trees = [HERE, ...(values.baseline ? [resolve(values.baseline)] : [])];
  const runs = new Map<string, Figures[]>(trees.map((t) => [t, []]));
  const load = [loadavg()[0]!];
  const started = new Date().toISOString();
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const tree of r % 2 ? [...trees].reverse() : trees) runs.get(tree)!.push(await child(tree));
    load.push(loadavg()[0]!);
  }
  console.log(
    `${started} → ${new Date().toISOString()}, ${fetches} GETs of ${mib} MiB per case and round, load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`,
  );
  for (const tree of trees) {
    console.log(tree === HERE ? 'this checkout' : `baseline ${tree}`);
    const figs = runs.get(tree)!;
    for (const name of Object.keys(figs[0]!)) {
      const wall = stats(figs.map((f) => f[name]!.wallMs));
      const cpu = stats(figs.map((f) => f[name]!.cpuMs));
      console.log(`  ${name.padEnd(20)} per GET: wall ${fmt(wall)} ms, process CPU ${fmt(cpu)} ms`);
    }
  }
  if (values.baseline) {
    const [mine, base] = [runs.get(HERE)!, runs.get(resolve(values.baseline))!];
    for (const name of Object.keys(base[0]!)) {
      const ratio = stats(mine.map((f, i) => f[name]!.cpuMs / base[i]![name]!.cpuMs));
      console.log(`  ${name}: process CPU, this checkout / the baseline, round by round: ${fmt(ratio)}`);
    }
  }
}
