/**
 * The registry server's memory under load: `berth registry serve` alone (as bin/berth starts it), with token auth
 * (or none), GET manifest by tag (wrk -t2 -c32), HEAD blob (ab -k -c32) and GET /v2/ one after the other, RSS
 * sampled every 50 ms: idle after start, the peak under each load, and after (with the anonymous part: the rest
 * is the node binary's mapped pages). `--runs N` repeats it on fresh roots. `--node-options` adds to NODE_OPTIONS
 * (only the flags Node allows there; bin/berth's own flags win).
 *
 * A script, not a test: it prints figures and asserts no timing. `node bench/registry-rss.ts --help`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { call, getToken, pushImage, registryCli, serveRegistry } from '../src/registry/testkit.ts';
import { abHead, wrk } from './lib/load.ts';
import { sampleRss, sleep } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '2' },
    'node-options': { type: 'string', default: '' },
    auth: { type: 'string', default: 'token' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: node bench/registry-rss.ts [--seconds N] [--runs N] [--auth token|none] [--node-options FLAGS]\n',
  );
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const variants = Array.from({ length: Number(values.runs) }, (_, i) => ({
  label: `run ${i + 1}`,
  flags: values['node-options'],
}));
const out = (s: string) => process.stdout.write(`${s}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

async function rssKiB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
}

out(`# registry RSS under load (${values.auth} auth), ${new Date().toISOString()}; load average ${load()}`);
out('| run | idle MiB | peak MiB: manifest GET / HEAD blob / GET /v2/ | after MiB | manifest req/s |');
out('|---|---|---|---|---|');
for (const v of variants) {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-rss-'));
  try {
    const token = values.auth === 'token';
    if (token) {
      await registryCli(['user', 'add', 'alice', '--password-stdin', '--root', root], 'wonderland\n');
      await registryCli(['project', 'create', 'bench', '--root', root]);
      await registryCli(['grant', 'alice', 'bench', 'push', '--root', root]);
    }
    const reg = await serveRegistry(undefined, {
      root,
      env: {
        ...process.env,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${v.flags}`.trim(),
      },
    });
    try {
      const basic = { Authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` };
      await pushImage(reg, 'bench/app', 'v1', token ? { headers: basic } : {});
      let headers: Record<string, string> = {};
      if (token) {
        const res = await getToken(reg, ['repository:bench/app:pull'], 'alice:wonderland');
        headers = { Authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
      }
      await sleep(2000);
      const idle = await rssKiB(reg.pid);
      const layer = (
        (await (await call(reg, 'GET', '/v2/bench/app/manifests/v1', { headers })).json()) as {
          layers: { digest: string }[];
        }
      ).layers[0]!.digest;
      const peaks: number[] = [];
      let rps = 0;
      for (const ep of ['manifest', 'head', 'ping']) {
        const rss = sampleRss([reg.pid], 50);
        if (ep === 'manifest') {
          const f = await wrk(`${reg.url}/v2/bench/app/manifests/v1`, SECONDS, {
            ...headers,
            Accept: 'application/vnd.oci.image.manifest.v1+json',
          });
          rps = f.rps;
        } else if (ep === 'head') await abHead(`${reg.url}/v2/bench/app/blobs/${layer}`, SECONDS, headers);
        else await wrk(`${reg.url}/v2/`, SECONDS, headers);
        peaks.push(rss.stop());
      }
      await sleep(2000);
      const after = await rssKiB(reg.pid);
      const anon = Number(/RssAnon:\s+(\d+)/.exec(await readFile(`/proc/${reg.pid}/status`, 'utf8'))?.[1] ?? 0);
      const mib = (k: number) => (k / 1024).toFixed(0);
      out(
        `| ${v.label} | ${mib(idle)} | ${peaks.map(mib).join(' / ')} | ${mib(after)} (anon ${mib(anon)}) | ${rps.toFixed(0)} |`,
      );
    } finally {
      await reg.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
