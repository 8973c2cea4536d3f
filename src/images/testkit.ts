/**
 * Test helpers: a whole image engine in a temp data root (the one the image, distribution and daemon tests
 * share), and images stored from in-memory layers.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FileContentStore } from '../content/index.ts';
import { BlobSourceRecords, ImageRecords, LeaseRecords, MetadataDB, SnapshotRecords } from '../metadata/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { CopySnapshotter, mountAll, OverlaySnapshotter, type Snapshotter, unmountAll } from '../snapshots/index.ts';
import { sha256, type Digest } from '../util/digest.ts';
import { EventLog } from '../util/events.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { ImageService } from './service.ts';

export interface TestEngine {
  root: string;
  db: MetadataDB;
  content: FileContentStore;
  snapshotter: Snapshotter;
  images: ImageService;
  events: EventLog;
  leases: LeaseRecords;
  blobSources: BlobSourceRecords;
  /** Digests of every blob in the content store, sorted. */
  blobs(): Promise<string[]>;
  /** Keys of every snapshot, sorted. */
  snapshots(): Promise<string[]>;
  /** What is half-written in the store's ingest dir. */
  ingesting(): Promise<string[]>;
  /** Every path under the image's root file system (mounted read-only for the call) with a short description. */
  tree(imageRef: string): Promise<Map<string, string>>;
  /** Closes and removes everything (also done after the test when `t` was given). */
  cleanup(): Promise<void>;
}

/**
 * A whole image engine — content store, snapshotter (overlay unless asked), image service, blob-source record —
 * over one metadata database in a fresh temp data root. With `t`, it is removed after that test.
 */
export async function testEngine(t?: TestContext, kind: 'overlay' | 'copy' = 'overlay'): Promise<TestEngine> {
  const root = await mkdtemp(join(tmpdir(), 'berth-images-'));
  const db = new MetadataDB(join(root, 'berth.db'));
  const content = new FileContentStore(root);
  await content.init();
  const deps = { root, records: new SnapshotRecords(db) };
  const snapshotter = kind === 'copy' ? new CopySnapshotter(deps) : new OverlaySnapshotter(deps);
  const events = new EventLog();
  const leases = new LeaseRecords(db);
  const images = new ImageService({ content, snapshotter, records: new ImageRecords(db), leases, events });
  let closed = false;
  const cleanup = async () => {
    if (closed) return;
    closed = true;
    await snapshotter.close();
    db.close();
    await rm(root, { recursive: true, force: true });
  };
  t?.after(cleanup);
  let views = 0;
  return {
    root,
    db,
    content,
    snapshotter,
    images,
    events,
    leases,
    blobSources: new BlobSourceRecords(db),
    async blobs() {
      const out: string[] = [];
      for await (const b of content.walk()) out.push(b.digest);
      return out.sort();
    },
    async snapshots() {
      const out: string[] = [];
      for await (const s of snapshotter.walk()) out.push(s.key);
      return out.sort();
    },
    async ingesting() {
      return readdir(join(root, 'ingest'));
    },
    async tree(imageRef) {
      const img = await images.load(images.resolve(imageRef));
      const key = `view-${++views}`;
      const target = join(root, `mnt-${views}`);
      await mkdir(target);
      await snapshotter.view(key, img.record.chainId!);
      try {
        mountAll(await snapshotter.mounts(key), target);
        try {
          return await describeTree(target);
        } finally {
          await unmountAll(target);
        }
      } finally {
        await snapshotter.remove(key);
        await rm(target, { recursive: true });
      }
    },
    cleanup,
  };
}

/** path → 'dir 755', 'file 644 <content>', 'link -> target' for every entry under dir. */
export async function describeTree(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const full = join(dir, p);
    const st = await lstat(full);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out.set(p, `dir ${mode}`);
      for (const [k, v] of await describeTree(dir, p)) out.set(k, v);
    } else if (st.isSymbolicLink()) {
      out.set(p, `link -> ${await readlink(full)}`);
    } else if (st.isFile()) {
      out.set(p, `file ${mode} ${sha256(await readFile(full)).slice(7, 19)}`);
    } else {
      out.set(p, `other ${st.mode.toString(8)}`);
    }
  }
  return out;
}

export async function tarBytes(entries: PackEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of pack(entries)) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Stores layers (each a list of tar entries), a config and a manifest; returns the manifest's descriptor. */
export async function makeImage(
  content: FileContentStore,
  layers: PackEntry[][],
  opts: { gzip?: boolean; created?: string; labels?: Record<string, string>; cmd?: string[] } = {},
): Promise<{ desc: Descriptor; manifest: Manifest; config: ImageConfig; configDigest: string }> {
  const layerDescs: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const l of layers) {
    const tar = await tarBytes(l);
    diffIds.push(sha256(tar));
    const blob = opts.gzip ? gzipSync(tar) : tar;
    const info = await content.put(blob);
    layerDescs.push({
      mediaType: opts.gzip ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: info.digest,
      size: info.size,
    });
  }
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    created: opts.created ?? '2026-01-01T00:00:00Z',
    config: { Cmd: opts.cmd ?? ['sh'], ...(opts.labels ? { Labels: opts.labels } : {}) },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map((_, i) => ({ created: opts.created ?? '2026-01-01T00:00:00Z', created_by: `layer ${i}` })),
  };
  const cbytes = Buffer.from(JSON.stringify(config));
  const cinfo = await content.put(cbytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: cinfo.digest, size: cinfo.size },
    layers: layerDescs,
  };
  const mbytes = Buffer.from(JSON.stringify(manifest));
  const minfo = await content.put(mbytes);
  return {
    desc: { mediaType: MediaType.OciManifest, digest: minfo.digest, size: minfo.size },
    manifest,
    config,
    configDigest: cinfo.digest,
  };
}
