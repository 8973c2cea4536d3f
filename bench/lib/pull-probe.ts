/**
 * Probes of a pull for the data path bench (bench/datapath.ts): the registry seeded with an image's archive, berthd's
 * API pull with its progress timestamped, the network floor of a pull (curl fetching what the pull fetches), and the
 * requests a client made to the registry, from its access log.
 */
import { request } from 'node:http';
import { accessLog, type DistributionRegistry } from '../../src/distribution/remote/testkit.ts';
import type { BuiltImage } from './archive.ts';
import { type RunResult, run } from './proc.ts';

/** Pushes an image's archive to `ref` (a registry on plain HTTP) with skopeo; `seconds` is how long it took. */
export function skopeoPush(archive: string, ref: string, timeoutMs?: number): Promise<RunResult> {
  return run(
    'skopeo',
    ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${ref}`],
    timeoutMs === undefined ? {} : { timeoutMs },
  );
}

/** skopeo's arguments for a pull of `ref` (a registry on plain HTTP) into `dest` (`oci:DIR[:TAG]`): no unpack. */
export function skopeoPullArgs(ref: string, dest: string): string[] {
  return ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, dest];
}

/** Seeds `reg` (startRegistry's) with an image's archive as `<name>:1` through skopeo, untimed; the reference. */
export async function seedRegistry(reg: DistributionRegistry, image: BuiltImage, timeoutMs?: number): Promise<string> {
  const ref = `${reg.host}/${image.name}:1`;
  await skopeoPush(image.archive, ref, timeoutMs);
  return ref;
}

/** Pulls through the API, timestamping the progress: seconds from the request to each milestone. */
export function apiPull(socket: string, ref: string): Promise<Record<string, number>> {
  const [name, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const t0 = performance.now();
  const at = (): number => (performance.now() - t0) / 1000;
  const marks: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const path = `/v1.41/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`;
    const req = request({ socketPath: socket, method: 'POST', path }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          const m = JSON.parse(line) as { status?: string; error?: string };
          if (m.error) reject(new Error(m.error));
          const s = m.status ?? '';
          if (s === 'Downloading') marks['first bytes'] ??= at();
          if (s === 'Download complete') marks['last blob downloaded'] = at();
          if (s === 'Extracting') marks['last extract progress'] = at();
          if (s === 'Pull complete') {
            marks['first layer unpacked'] ??= at();
            marks['last layer unpacked'] = at();
          }
        }
      });
      res.on('end', () => {
        marks['pull answered'] = at();
        resolve(marks);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The arguments of one curl that fetches what a pull of `ref` fetches (manifest, config, every layer) to /dev/null,
 * `parallel` transfers at once over kept-alive connections: the network part of a pull with nothing else.
 */
export async function floorArgs(reg: DistributionRegistry, ref: string): Promise<(parallel: number) => string[]> {
  const raw = (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout;
  const m = JSON.parse(raw) as { mediaType?: string; config: { digest: string }; layers: { digest: string }[] };
  const repo = ref.slice(reg.host.length + 1, ref.lastIndexOf(':'));
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  const base = `http://${reg.host}/v2/${repo}`;
  const urls = [`${base}/manifests/${tag}`, ...[m.config, ...m.layers].map((d) => `${base}/blobs/${d.digest}`)];
  const accept = m.mediaType ?? 'application/vnd.docker.distribution.manifest.v2+json';
  return (parallel) => [
    '-sf',
    '--parallel',
    '--parallel-immediate',
    '--parallel-max',
    String(parallel),
    '-H',
    `Accept: ${accept}`,
    ...urls.flatMap((u) => ['-o', '/dev/null', u]),
  ];
}

/** The requests the registry answered since `from` entries of its access log, counted by method and kind. */
export function requestsSince(reg: DistributionRegistry, from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of accessLog(reg).slice(from)) {
    const kind = e.uri.includes('/blobs/') ? 'blob' : e.uri.includes('/manifests/') ? 'manifest' : 'other';
    const k = `${e.method} ${kind}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
