/**
 * Trust benchmark. No peer scanner runs here (no trivy or grype in Debian 12), so the scan figures stand alone;
 * the verification overhead is measured side by side: the same berthd code with and without a signature policy.
 *
 * - scan: `berth scan IMAGE` (the CLI end to end) and `GET /images/{name}/scan` (the engine alone), warm (after one
 *   untimed scan), of a Debian-based image — a debootstrap minbase tree when `--debian-root DIR` names one, else
 *   100 packages of the host's dpkg status — against a generated database of `--advisories` OSV records (default
 *   50,000; the image's source packages have some of them, the rest spread over npm, PyPI, Go, Alpine, crates.io).
 *   The import of that database is timed too.
 * - verify: `POST /images/create` of an image already present (a pull that only checks the registry), by a berthd
 *   without a policy and one whose policy requires a sigstore signature for the repository, interleaved rounds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { osvRecord, type RecordSpec } from '../src/trust/osv/testkit.ts';
import { parseStanzas } from '../src/trust/sbom/dpkg.ts';
import { writeDebianRoot } from '../src/trust/sbom/testkit.ts';
import { BERTH, startBerthd } from './lib/engines.ts';
import { fmt, run, type Stats, stats } from './lib/proc.ts';

export interface TrustFigures {
  advisories: number;
  packages: number;
  debootstrap: boolean;
  importSeconds: number;
  scanCli: Stats;
  scanApi: Stats;
  vulnerabilities: number;
  pullPlain: Stats;
  pullVerified: Stats;
}

function apiCall(socket: string, method: string, path: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `n` advisories: some for each of `sources` (Debian 12), the rest over other ecosystems and names. */
async function writeAdvisories(dir: string, n: number, sources: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ecos = ['npm', 'PyPI', 'Go', 'Alpine:v3.19', 'crates.io', 'Debian:12', 'Debian:11'];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    let spec: RecordSpec;
    if (i < sources.length * 3) {
      const name = sources[i % sources.length]!;
      // One in three is fixed in a version above anything installed: those match.
      const fixed = i % 3 === 0 ? '999:1.0-1' : '0.0.1-1';
      spec = {
        id: `DEBIAN-BENCH-${i}`,
        ecosystem: 'Debian:12',
        name,
        events: [{ introduced: '0' }, { fixed }],
        urgency: 'medium',
      };
    } else {
      const eco = ecos[i % ecos.length]!;
      const semverish = eco === 'npm' || eco === 'Go' || eco === 'crates.io';
      spec = {
        id: `BENCH-${i}`,
        ecosystem: eco,
        name: eco === 'Go' ? `example.com/mod${i % 5000}` : `pkg${i % 20000}`,
        rangeType: semverish ? 'SEMVER' : 'ECOSYSTEM',
        events: [{ introduced: '0' }, { fixed: semverish ? `1.${i % 50}.0` : `1.${i % 50}-1` }],
        cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N',
      };
    }
    writes.push(writeFile(join(dir, `${spec.id}.json`), JSON.stringify(osvRecord(spec))));
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}

export async function benchTrust(opts: {
  runs: number;
  scratch: string;
  advisories: number;
  debianRoot?: string;
  log: (s: string) => void;
}): Promise<TrustFigures> {
  const work = await mkdtemp(join(opts.scratch, 'trust-'));
  const root =
    opts.debianRoot && existsSync(join(opts.debianRoot, 'var/lib/dpkg/status')) ? opts.debianRoot : join(work, 'root');
  if (root !== opts.debianRoot) writeDebianRoot(root, 100);
  const status = execFileSync('cat', [join(root, 'var/lib/dpkg/status')]).toString();
  const pkgs = parseStanzas(status).filter((s) => /installed$/.test(s.Status ?? ''));
  const sources = [...new Set(pkgs.map((p) => (p.Source ?? p.Package!).split(' ')[0]!))];
  const tar = join(work, 'debian.tar');
  execFileSync('tar', ['-C', root, '--exclude=./proc', '--exclude=./sys', '--exclude=./dev', '-cf', tar, '.']);
  opts.log(`trust: writing ${opts.advisories} advisories`);
  await writeAdvisories(join(work, 'osv'), opts.advisories, sources);
  const reg = await startRegistry('plain');
  const plain = await startBerthd();
  await writeFile(join(work, 'key-password'), '');
  const env = { BERTH_TRUST_PASSWORD: 'bench', HOME: work };
  const berth = (e: { host: string }, args: string[]) => run(BERTH, ['-H', e.host, ...args], { env });
  let verified: Awaited<ReturnType<typeof startBerthd>> | undefined;
  try {
    const ref = `${reg.host}/debian:1`;
    await berth(plain, ['import', tar, ref]);
    const t0 = performance.now();
    await berth(plain, ['scan', 'db', 'import', join(work, 'osv')]);
    const importSeconds = (performance.now() - t0) / 1000;
    opts.log('trust: scans');
    const first = JSON.parse((await berth(plain, ['scan', '--format', 'json', ref])).stdout) as {
      vulnerabilities: unknown[];
      packages: number;
    };
    const cli: number[] = [];
    const api: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      cli.push((await berth(plain, ['scan', '--format', 'json', ref])).seconds);
      const r = await apiCall(plain.socket, 'GET', `/images/${ref}/scan`);
      if (r.status !== 200) throw new Error(`scan answered ${r.status}: ${r.body}`);
      api.push(r.ms / 1000);
    }
    opts.log('trust: verification on pull');
    await berth(plain, ['push', ref]);
    await run(BERTH, ['-H', plain.host, 'trust', 'key', 'generate', '--output-key-prefix', join(work, 'bench')], {
      env,
    });
    await berth(plain, ['trust', 'sign', '--key', join(work, 'bench.key'), ref]);
    await writeFile(
      join(work, 'policy.json'),
      JSON.stringify({
        default: [{ type: 'insecureAcceptAnything' }],
        transports: {
          docker: {
            [`${reg.host}/debian`]: [
              { type: 'sigstoreSigned', keyPath: join(work, 'bench.pub'), signedIdentity: { type: 'matchRepository' } },
            ],
          },
        },
      }),
    );
    verified = await startBerthd({ args: ['--signature-policy', join(work, 'policy.json')] });
    await berth(verified, ['pull', '-q', ref]);
    const pullPath = `/images/create?fromImage=${encodeURIComponent(`${reg.host}/debian`)}&tag=1`;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < opts.runs + 1; i++) {
      const x = await apiCall(plain.socket, 'POST', pullPath);
      const y = await apiCall(verified.socket, 'POST', pullPath);
      if (x.status !== 200 || y.status !== 200 || /errorDetail/.test(y.body))
        throw new Error(`pull failed: ${x.body} ${y.body}`);
      if (i > 0) {
        a.push(x.ms / 1000);
        b.push(y.ms / 1000);
      }
    }
    return {
      advisories: opts.advisories,
      packages: first.packages,
      debootstrap: root === opts.debianRoot,
      importSeconds,
      scanCli: stats(cli),
      scanApi: stats(api),
      vulnerabilities: first.vulnerabilities.length,
      pullPlain: stats(a),
      pullVerified: stats(b),
    };
  } finally {
    await verified?.stop();
    await plain.stop();
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export function trustReport(f: TrustFigures): string {
  const ms = (s: Stats) => fmt({ ...s, median: s.median * 1000, min: s.min * 1000, max: s.max * 1000 }, 1);
  const overhead = (f.pullVerified.median - f.pullPlain.median) * 1000;
  return [
    `### Trust (issue 14)`,
    `Image: ${f.debootstrap ? 'a debootstrap minbase Debian 12 tree' : "100 packages of the host's dpkg status"} (${f.packages} packages found); database: ${f.advisories} generated OSV records, imported in ${f.importSeconds.toFixed(1)} s; ${f.vulnerabilities} vulnerabilities found.`,
    '',
    '| what | median (min–max), ms | goal |',
    '| --- | --- | --- |',
    `| \`berth scan --format json IMAGE\`, warm (CLI end to end) | ${ms(f.scanCli)} | ≤ 1000 |`,
    `| \`GET /images/{name}/scan\`, warm (the engine alone) | ${ms(f.scanApi)} | |`,
    `| pull of a present image, no policy | ${ms(f.pullPlain)} | |`,
    `| pull of a present image, sigstoreSigned policy | ${ms(f.pullVerified)} | |`,
    `| verification overhead (difference of medians) | ${overhead.toFixed(1)} | ≤ 20 |`,
    '',
  ].join('\n');
}
