/**
 * Registry benchmark: pull and push through berthd (`berth pull -q`, `berth push`) side by side with skopeo
 * (`skopeo copy docker://… oci:DIR`, `skopeo copy oci:DIR docker://…`) against the same local docker-registry
 * (Debian's distribution 2.8.2 on 127.0.0.1, plain HTTP, started by src/distribution/remote/testkit.ts). Berth's pull includes
 * the unpack into snapshots; skopeo's does not unpack. A cold push goes to a fresh registry (its storage empty),
 * so every blob is uploaded; the warm push repeats it to the same registry, where every blob is present. Between
 * runs berthd removes the image and prunes (checked: no snapshot left), and skopeo's OCI dir is removed; `sync`
 * runs untimed before each timed step. No timing is asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import type { BuiltImage } from './lib/archive.ts';
import { BERTH, type Engine } from './lib/engines.ts';
import { MiB, run, stats, type Stats } from './lib/proc.ts';
import { seedRegistry } from './lib/pull-probe.ts';

export interface RegistryFigures {
  image: string;
  layers: number;
  /** Bytes of uncompressed layer tar, summed over layers. */
  layerBytes: number;
  runs: number;
  berthPull: Stats;
  skopeoPull: Stats;
  berthPush: Stats;
  skopeoPush: Stats;
  berthWarmPush: Stats;
  skopeoWarmPush: Stats;
}

/** A step that takes longer than this is a hang, reported as an error. */
const STEP_TIMEOUT_MS = 300_000;

async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  await run('sync', []);
  const r = await run(cmd, args, { env, timeoutMs: STEP_TIMEOUT_MS });
  return r.seconds;
}

const skopeo = (args: string[]) => timed('skopeo', ['--insecure-policy', ...args]);

/** Removes every image from berthd and prunes; fails if an unpacked layer is left. */
async function clearBerth(e: Engine, env: Record<string, string>): Promise<void> {
  const ids = (await run(BERTH, ['-H', e.host, 'images', '-a', '-q'], { env })).stdout.split('\n').filter(Boolean);
  if (ids.length) await run(BERTH, ['-H', e.host, 'rmi', '-f', ...new Set(ids)], { env, allowFail: true });
  await run(BERTH, ['-H', e.host, 'image', 'prune', '-a', '-f'], { env });
  const left = await e.layerDirs();
  if (left.length) throw new Error(`berthd kept ${left.length} snapshot(s) after rmi and prune: ${left.join(' ')}`);
}

export async function benchRegistry(
  image: BuiltImage,
  berthd: Engine,
  opts: { runs: number; scratch: string; log: (s: string) => void },
): Promise<RegistryFigures> {
  const home = await mkdtemp(join(opts.scratch, 'registry-home-'));
  // A temp HOME: no credentials of the user are read or written.
  const env = { HOME: home, DOCKER_CONFIG: join(home, '.docker') };
  const origin = await startRegistry('plain');
  const t = {
    berthPull: [] as number[],
    skopeoPull: [] as number[],
    berthPush: [] as number[],
    skopeoPush: [] as number[],
    berthWarm: [] as number[],
    skopeoWarm: [] as number[],
  };
  try {
    const ref = await seedRegistry(origin, image, STEP_TIMEOUT_MS);
    const ociDir = join(opts.scratch, `skopeo-${image.name}`);
    const round = async (record: boolean) => {
      // Pull.
      await rm(ociDir, { recursive: true, force: true });
      const sp = await skopeo([
        'copy',
        '-q',
        '--src-tls-verify=false',
        `docker://${ref}`,
        `oci:${ociDir}:${image.name}`,
      ]);
      const bp = await timed(BERTH, ['-H', berthd.host, 'pull', '-q', ref], env);
      // Cold push (each to a fresh registry), then warm push (the same again: every blob is there).
      const forSkopeo = await startRegistry('plain');
      const forBerth = await startRegistry('plain');
      try {
        const sDest = `docker://${forSkopeo.host}/${image.name}:1`;
        const sPush = await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${ociDir}:${image.name}`, sDest]);
        const sWarm = await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${ociDir}:${image.name}`, sDest]);
        const bRef = `${forBerth.host}/${image.name}:1`;
        await run(BERTH, ['-H', berthd.host, 'tag', ref, bRef], { env });
        const bPush = await timed(BERTH, ['-H', berthd.host, 'push', '-q', bRef], env);
        const bWarm = await timed(BERTH, ['-H', berthd.host, 'push', '-q', bRef], env);
        if (record) {
          t.skopeoPull.push(sp);
          t.berthPull.push(bp);
          t.skopeoPush.push(sPush);
          t.berthPush.push(bPush);
          t.skopeoWarm.push(sWarm);
          t.berthWarm.push(bWarm);
        }
        opts.log(
          `  ${image.name}${record ? '' : ' (warm-up)'}: pull berth ${bp.toFixed(2)}s skopeo ${sp.toFixed(2)}s; push berth ${bPush.toFixed(2)}s skopeo ${sPush.toFixed(2)}s; ` +
            `warm push berth ${bWarm.toFixed(3)}s skopeo ${sWarm.toFixed(3)}s`,
        );
      } finally {
        await forSkopeo.stop();
        await forBerth.stop();
        await clearBerth(berthd, env);
        await rm(ociDir, { recursive: true, force: true });
      }
    };
    await round(false);
    for (let i = 0; i < opts.runs; i++) await round(true);
  } finally {
    await origin.stop();
    await rm(home, { recursive: true, force: true });
  }
  return {
    image: image.name,
    layers: image.layers.length,
    layerBytes: image.layers.reduce((s, l) => s + l.tarBytes, 0),
    runs: opts.runs,
    berthPull: stats(t.berthPull),
    skopeoPull: stats(t.skopeoPull),
    berthPush: stats(t.berthPush),
    skopeoPush: stats(t.skopeoPush),
    berthWarmPush: stats(t.berthWarm),
    skopeoWarmPush: stats(t.skopeoWarm),
  };
}

/** The goals of issue 5, as ratios Berth / skopeo of median times. */
export const REGISTRY_GOALS = { bigPull: 1.2, push: 1.0, manyPull: 0.5, warmPush: 1.5 } as const;

/** A markdown section for one image's figures. */
export function registryReport(f: RegistryFigures, big: boolean): string {
  const sec = (s: Stats) => `${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)}) s`;
  const ratio = (a: Stats, b: Stats) => a.median / b.median;
  const verdict = (r: number, goal: number) =>
    `**${r.toFixed(2)}×** (goal ≤ ${goal}×: ${r <= goal ? 'met' : 'missed'})`;
  const pullGoal = big ? REGISTRY_GOALS.bigPull : REGISTRY_GOALS.manyPull;
  return [
    `### ${f.image}: ${f.layers} layer(s), ${(f.layerBytes / MiB).toFixed(0)} MiB of layer tar, via docker-registry on 127.0.0.1 (${f.runs} runs: median (min–max))`,
    '',
    '| step | Berth (berthd) | skopeo | Berth / skopeo |',
    '|---|---|---|---|',
    `| pull (Berth: \`berth pull -q\` incl. unpack; skopeo: \`copy docker://… oci:DIR\`) | ${sec(f.berthPull)} | ${sec(f.skopeoPull)} | ${verdict(ratio(f.berthPull, f.skopeoPull), pullGoal)} |`,
    `| push to an empty registry | ${sec(f.berthPush)} | ${sec(f.skopeoPush)} | ${verdict(ratio(f.berthPush, f.skopeoPush), REGISTRY_GOALS.push)} |`,
    `| warm push (every blob present) | ${sec(f.berthWarmPush)} | ${sec(f.skopeoWarmPush)} | ${verdict(ratio(f.berthWarmPush, f.skopeoWarmPush), REGISTRY_GOALS.warmPush)} |`,
    '',
  ].join('\n');
}
