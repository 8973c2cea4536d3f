import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FileContentStore } from '../content/index.ts';
import { ImageService } from '../images/index.ts';
import { ImageRecords, MetadataDB, SnapshotRecords } from '../metadata/index.ts';
import { CopySnapshotter, OverlaySnapshotter, type Snapshotter } from '../snapshots/index.ts';
import { EventLog } from '../util/events.ts';
import { isErrno } from '../util/errors.ts';
import type { DaemonConfig } from './config.ts';
import type { Logger } from './log.ts';

/** Every service of one engine, built over one data root. Tests build one in a temp dir. */
export interface Engine {
  config: DaemonConfig;
  db: MetadataDB;
  content: FileContentStore;
  snapshotter: Snapshotter;
  images: ImageService;
  events: EventLog;
  engineId: string;
  close(): Promise<void>;
}

export async function buildEngine(config: DaemonConfig): Promise<Engine> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  const db = new MetadataDB(join(config.dataRoot, 'berth.db'));
  const content = new FileContentStore(config.dataRoot);
  await content.init();
  const deps = { root: config.dataRoot, records: new SnapshotRecords(db) };
  const snapshotter: Snapshotter = config.snapshotter === 'copy' ? new CopySnapshotter(deps) : new OverlaySnapshotter(deps);
  const events = new EventLog();
  const images = new ImageService({ content, snapshotter, records: new ImageRecords(db), events, historyDepth: config.tagHistoryDepth });
  const engineId = await readOrCreateId(join(config.dataRoot, 'engine-id'));
  return {
    config,
    db,
    content,
    snapshotter,
    images,
    events,
    engineId,
    close: async () => {
      await snapshotter.close();
      db.close();
    },
  };
}

/**
 * Repairs what a crash left, before serving: unfinished ingests, unpacks in progress, snapshot directories
 * without records, then blobs and snapshots no image needs.
 */
export async function repair(engine: Engine, log: Logger): Promise<void> {
  const ingests = await engine.content.repair();
  const snaps = await engine.snapshotter.repair();
  const gc = await engine.images.collect();
  if (ingests.removed || snaps.removed.length || gc.blobs.length || gc.layers.length) {
    log.info(
      `startup repair: removed ${ingests.removed} unfinished ingest(s), ${snaps.removed.length} interrupted snapshot(s), ${gc.blobs.length} orphan blob(s), ${gc.layers.length} orphan layer(s)`,
    );
  }
}

async function readOrCreateId(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const id = randomUUID();
  await writeFile(`${path}.tmp`, id + '\n');
  await rename(`${path}.tmp`, path);
  return id;
}
