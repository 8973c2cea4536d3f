/**
 * Where a load's time goes, measured in-process on the same code berthd runs (content store, overlay snapshotter,
 * image service, loadArchive) in a temp data root, with no HTTP in between:
 * - ingest: reading the archive and streaming each blob into the content store (hash, write, fsync, rename),
 *   from the start until the image service is asked to unpack;
 * - unpack: reading each layer blob back, hashing its diff ID and extracting it into its snapshot;
 * - register: recording the image and its tags, and the sweep of leftovers;
 * and, apart from the load, `unpackLayer` alone (layer tar file → directory), the part GNU tar is the floor of.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuiltImage } from './lib/archive.ts';
import { TREE } from './lib/engines.ts';
import { run, stats, withTimeout, type Stats } from './lib/proc.ts';
import { LOAD_TIMEOUT_MS } from './load.ts';

/** The modules under test, from the tree under test (this checkout unless --tree names another). */
async function modules() {
  const from = <T>(rel: string): Promise<T> => import(pathToFileURL(join(TREE, rel)).href) as Promise<T>;
  return {
    content: await from<typeof import('../src/content/index.ts')>('src/content/index.ts'),
    distribution: await from<typeof import('../src/distribution/index.ts')>('src/distribution/index.ts'),
    images: await from<typeof import('../src/images/index.ts')>('src/images/index.ts'),
    metadata: await from<typeof import('../src/metadata/index.ts')>('src/metadata/index.ts'),
    snapshots: await from<typeof import('../src/snapshots/index.ts')>('src/snapshots/index.ts'),
    compression: await from<typeof import('../src/util/compression.ts')>('src/util/compression.ts'),
    events: await from<typeof import('../src/util/events.ts')>('src/util/events.ts'),
    tar: await from<typeof import('../src/util/tar/index.ts')>('src/util/tar/index.ts'),
  };
}
type Modules = Awaited<ReturnType<typeof modules>>;

export interface PhaseFigures {
  image: string;
  runs: number;
  total: Stats;
  ingest: Stats;
  unpack: Stats;
  register: Stats;
  /** `unpackLayer` alone over every layer, from the layer files (decompressing gzip ones), in seconds. */
  unpackOnly: Stats;
}

const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function engine(m: Modules, root: string) {
  const db = new m.metadata.MetadataDB(join(root, 'berth.db'));
  const content = new m.content.FileContentStore(root);
  await content.init();
  const snapshotter = new m.snapshots.OverlaySnapshotter({ root, records: new m.metadata.SnapshotRecords(db) });
  const images = new m.images.ImageService({
    content,
    snapshotter,
    records: new m.metadata.ImageRecords(db),
    leases: new m.metadata.LeaseRecords(db),
    events: new m.events.EventLog(),
  });
  return {
    content,
    images,
    async close() {
      await snapshotter.close();
      db.close();
    },
  };
}

export async function benchPhases(
  image: BuiltImage,
  opts: { runs: number; scratch: string; log: (s: string) => void },
): Promise<PhaseFigures> {
  const m = await modules();
  const root = await mkdtemp(join(opts.scratch, 'phases-'));
  const e = await engine(m, root);
  const t = {
    total: [] as number[],
    ingest: [] as number[],
    unpack: [] as number[],
    register: [] as number[],
    only: [] as number[],
  };
  try {
    // Time the image service's unpack from outside: an own-property wrapper around the instance's method.
    const unpack = e.images.unpack.bind(e.images);
    let firstUnpack: bigint | undefined;
    let unpackSeconds = 0;
    e.images.unpack = async (...args: Parameters<typeof unpack>) => {
      firstUnpack ??= process.hrtime.bigint();
      const t0 = process.hrtime.bigint();
      try {
        return await unpack(...args);
      } finally {
        unpackSeconds += since(t0);
      }
    };
    for (let i = 0; i <= opts.runs; i++) {
      firstUnpack = undefined;
      unpackSeconds = 0;
      await run('sync', []);
      const t0 = process.hrtime.bigint();
      await withTimeout(
        m.distribution.loadArchive(e, createReadStream(image.archive, { highWaterMark: 1 << 20 })),
        LOAD_TIMEOUT_MS,
        `loading ${image.name}`,
      );
      const total = since(t0);
      const ingest = firstUnpack === undefined ? total : Number(firstUnpack - t0) / 1e9;
      await e.images.remove(`${image.name}:latest`);
      await e.images.collect();
      // The standalone unpack: the same layer files GNU tar extracts, into fresh directories.
      const dest = join(root, 'unpack-only');
      await mkdir(dest);
      await run('sync', []);
      const u0 = process.hrtime.bigint();
      for (const [j, l] of image.layers.entries()) {
        const dir = join(dest, String(j));
        await mkdir(dir);
        const src = createReadStream(l.gz ?? l.tar, { highWaterMark: 1 << 20 });
        await m.snapshots.unpackLayer(dir, m.tar.extract(l.gz ? src.pipe(m.compression.decompressor('gzip')) : src), {
          whiteouts: 'overlay',
        });
      }
      const only = since(u0);
      await rm(dest, { recursive: true, force: true });
      if (i === 0) continue; // warm-up
      t.total.push(total);
      t.ingest.push(ingest);
      t.unpack.push(unpackSeconds);
      t.register.push(total - ingest - unpackSeconds);
      t.only.push(only);
      opts.log(
        `  ${image.name} phases ${i}/${opts.runs}: total ${total.toFixed(2)}s = ingest ${ingest.toFixed(2)}s + unpack ${unpackSeconds.toFixed(2)}s + ` +
          `register ${(total - ingest - unpackSeconds).toFixed(2)}s; unpackLayer alone ${only.toFixed(2)}s`,
      );
    }
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true });
  }
  return {
    image: image.name,
    runs: opts.runs,
    total: stats(t.total),
    ingest: stats(t.ingest),
    unpack: stats(t.unpack),
    register: stats(t.register),
    unpackOnly: stats(t.only),
  };
}
