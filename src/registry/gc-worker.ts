/**
 * Runs one garbage collection in a worker thread, on its own database connection and blob backend (opened from
 * the same config), so that the collection's queries never hold up the requests the main thread serves.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RegistryConfig } from './config.ts';
import { type CollectOptions, collect } from './gc.ts';
import { RegistryStore } from './meta/store.ts';
import { openBlobs, openDatabase } from './open.ts';
import { Registry } from './service.ts';

const { config, options } = workerData as { config: RegistryConfig; options: CollectOptions };
const db = await openDatabase(config);
const blobs = await openBlobs(config);
const registry = new Registry({ store: new RegistryStore(db), blobs });
try {
  parentPort!.postMessage({ report: await collect(registry, options) });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error)?.stack ?? String(err) });
} finally {
  await registry.close();
  await blobs.close?.();
  await db.close();
}
