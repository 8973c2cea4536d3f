/** Test helpers: a whole image service in a temp data root, and images made from in-memory layers. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileContentStore } from '../content/index.ts';
import { ImageRecords, MetadataDB, SnapshotRecords } from '../metadata/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { CopySnapshotter, OverlaySnapshotter } from '../snapshots/index.ts';
import { sha256, type Digest } from '../util/digest.ts';
import { EventLog } from '../util/events.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { ImageService } from './service.ts';

export interface TestEngine {
  root: string;
  db: MetadataDB;
  content: FileContentStore;
  images: ImageService;
  events: EventLog;
  cleanup(): Promise<void>;
}

export async function testEngine(kind: 'overlay' | 'copy' = 'overlay'): Promise<TestEngine> {
  const root = await mkdtemp(join(tmpdir(), 'berth-images-'));
  const db = new MetadataDB(join(root, 'berth.db'));
  const content = new FileContentStore(root);
  await content.init();
  const deps = { root, records: new SnapshotRecords(db) };
  const snapshotter = kind === 'copy' ? new CopySnapshotter(deps) : new OverlaySnapshotter(deps);
  const events = new EventLog();
  const images = new ImageService({ content, snapshotter, records: new ImageRecords(db), events });
  return {
    root,
    db,
    content,
    images,
    events,
    cleanup: async () => {
      await snapshotter.close();
      db.close();
      await rm(root, { recursive: true, force: true });
    },
  };
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
