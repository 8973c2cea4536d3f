import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileContentStore } from '../content/index.ts';
import { type AuthGate, OpenGate } from './auth/gate.ts';
import type { RegistryConfig } from './config.ts';
import { migrate } from './meta/schema.ts';
import { type SqlDb, SqliteDb } from './meta/sql.ts';
import { RegistryStore } from './meta/store.ts';
import { Registry } from './service.ts';
import type { BlobBackend } from './storage/backend.ts';

/** The metadata database a config names: `<root>/registry.db`, or PostgreSQL. Migrated to the current schema. */
export async function openDatabase(config: Pick<RegistryConfig, 'root' | 'postgres'>): Promise<SqlDb> {
  await mkdir(config.root, { recursive: true, mode: 0o700 });
  const db = new SqliteDb(join(config.root, 'registry.db'));
  await migrate(db, async (sql) => db.exec(sql));
  return db;
}

/** The blob backend a config names: `<root>/blobs` through content/'s store, or an S3 bucket. */
export async function openBlobs(config: Pick<RegistryConfig, 'root' | 's3'>): Promise<BlobBackend> {
  const b = new FileContentStore(config.root);
  await b.init();
  return b;
}

/** Everything a serving registry is made of. */
export interface OpenRegistry {
  db: SqlDb;
  registry: Registry;
  gate: AuthGate;
  close(): Promise<void>;
}

export async function openRegistry(config: RegistryConfig): Promise<OpenRegistry> {
  const db = await openDatabase(config);
  const blobs = await openBlobs(config);
  const store = new RegistryStore(db);
  const registry = new Registry({ store, blobs, deleteEnabled: config.deleteEnabled });
  const gate: AuthGate = new OpenGate();
  return {
    db,
    registry,
    gate,
    close: async () => {
      await registry.close();
      await blobs.close?.();
      await db.close();
    },
  };
}
