import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../util/digest.ts';
import { sha256 } from '../util/digest.ts';
import { RegistryError } from './errors.ts';
import type { SqlDb } from './meta/sql.ts';
import { BlobBeingDeleted, RegistryStore } from './meta/store.ts';
import { openBlobs, openDatabase } from './open.ts';
import { Registry } from './service.ts';
import type { BlobBackend } from './storage/backend.ts';

async function* pieces(b: Buffer, size = 65536): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += size) yield b.subarray(off, off + size);
}

describe('Registry.putBlob: a whole blob of known digest in one call', () => {
  let root: string;
  let db: SqlDb;
  let blobs: BlobBackend;
  let store: RegistryStore;
  let reg: Registry;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-putblob-'));
    db = await openDatabase({ root });
    blobs = await openBlobs({ root });
    store = new RegistryStore(db);
    reg = new Registry({ store, blobs });
  });
  after(async () => {
    await reg.close();
    await blobs.close?.();
    await db.close();
    await rm(root, { recursive: true, force: true });
  });

  const uploads = async () => (await db.all<{ id: string }>('SELECT id FROM uploads')).length;
  const partials = async () => readdir(join(root, 'ingest')).catch(() => []);

  test('stores and links the blob, leaving no upload behind; the same blob again is linked too', async () => {
    const b = randomBytes((2 << 20) + 12_345);
    const digest = sha256(b);
    const pushed: string[] = [];
    reg.onEvent((e) => pushed.push(`${e.action} ${e.repo} ${e.digest}`));
    await reg.putBlob('lib/a', digest, b.length, pieces(b), 'replication:r');
    assert.equal(await store.blobInRepo('lib/a', digest), b.length);
    const chunks: Buffer[] = [];
    for await (const c of reg.readBlob(digest)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(b));
    await reg.putBlob('lib/b', digest, b.length, pieces(b, 1 << 20), 'replication:r');
    assert.equal(await store.blobInRepo('lib/b', digest), b.length);
    assert.deepEqual(pushed, [`push lib/a ${digest}`, `push lib/b ${digest}`]);
    assert.equal(await uploads(), 0);
    assert.deepEqual(await partials(), []);
  });

  test('bytes that do not match the digest: DIGEST_INVALID, nothing stored or left', async () => {
    const b = randomBytes(300_000);
    const wrong = sha256(Buffer.from('something else'));
    await assert.rejects(
      reg.putBlob('lib/a', wrong, b.length, pieces(b), 'replication:r'),
      (err) => err instanceof RegistryError && err.oci === 'DIGEST_INVALID',
    );
    assert.equal(await store.blobInRepo('lib/a', wrong), undefined);
    assert.equal(await uploads(), 0);
    assert.deepEqual(await partials(), []);
  });

  test('a body shorter or longer than announced: SIZE_INVALID, nothing stored or left', async () => {
    const b = randomBytes(200_000);
    for (const announced of [b.length + 1, b.length - 1]) {
      await assert.rejects(
        reg.putBlob('lib/a', sha256(b), announced, pieces(b), 'replication:r'),
        (err) => err instanceof RegistryError && err.oci === 'SIZE_INVALID',
      );
    }
    assert.equal(await store.blobInRepo('lib/a', sha256(b)), undefined);
    assert.equal(await uploads(), 0);
    assert.deepEqual(await partials(), []);
  });

  test('a clean-up that fails does not hide why the blob was refused, and the rest of the clean-up still runs', async () => {
    const b = randomBytes(100_000);
    const wrong = sha256(Buffer.from('not these bytes'));
    // The database refuses to drop the upload's row.
    await db.run(`CREATE TRIGGER keep_uploads BEFORE DELETE ON uploads BEGIN SELECT RAISE(ABORT, 'kept'); END`);
    try {
      await assert.rejects(
        reg.putBlob('lib/a', wrong, b.length, pieces(b), 'replication:r'),
        (err) => err instanceof RegistryError && err.oci === 'DIGEST_INVALID',
      );
      assert.equal(await uploads(), 1, 'the row the database kept, for the collector');
      assert.deepEqual(await partials(), []);
      // The same for an upload's last PUT.
      const id = await reg.startUpload('lib/a', 'client');
      const u = await reg.upload('lib/a', id, 'client');
      await assert.rejects(
        reg.appendAndFinish(u, pieces(b), b.length, wrong, 'client'),
        (err) => err instanceof RegistryError && err.oci === 'DIGEST_INVALID',
      );
      assert.equal(await uploads(), 2);
    } finally {
      await db.run('DROP TRIGGER keep_uploads');
      await db.run('DELETE FROM uploads');
    }
  });

  test('appendAndFinish: the rest of an upload and its commit in one call; a wrong digest or length leaves nothing', async () => {
    const b = randomBytes((1 << 20) + 77_777);
    const digest = sha256(b);
    const id = await reg.startUpload('lib/c', 'client');
    let u = await reg.upload('lib/c', id, 'client');
    assert.equal(await reg.appendUpload(u, pieces(b.subarray(0, 100_000)), { length: 100_000 }), 100_000);
    u = await reg.upload('lib/c', id, 'client');
    const info = await reg.appendAndFinish(u, pieces(b.subarray(100_000)), b.length - 100_000, digest, 'client');
    assert.equal(info.digest, digest);
    assert.equal(info.size, b.length);
    assert.equal(await store.blobInRepo('lib/c', digest), b.length);

    // Short of the length announced: SIZE_INVALID, and the upload goes on from where it stood.
    const other = randomBytes(500_000);
    const id2 = await reg.startUpload('lib/c', 'client');
    const u2 = await reg.upload('lib/c', id2, 'client');
    await assert.rejects(
      reg.appendAndFinish(u2, pieces(other), other.length + 10, sha256(other), 'client'),
      (err) => err instanceof RegistryError && err.oci === 'SIZE_INVALID',
    );
    assert.equal((await store.upload(id2))?.size, 0);
    await reg.appendAndFinish(u2, pieces(other), other.length, sha256(other), 'client');
    assert.equal(await store.blobInRepo('lib/c', sha256(other)), other.length);

    // The wrong digest: DIGEST_INVALID, the upload gone.
    const id3 = await reg.startUpload('lib/c', 'client');
    const u3 = await reg.upload('lib/c', id3, 'client');
    await assert.rejects(
      reg.appendAndFinish(u3, pieces(other), other.length, sha256(b.subarray(1)), 'client'),
      (err) => err instanceof RegistryError && err.oci === 'DIGEST_INVALID',
    );
    assert.equal(await store.upload(id3), undefined);
    assert.equal(await uploads(), 0);
    assert.deepEqual(await partials(), []);
  });

  test('an upload created with its digest claims it: refused while the collector deletes that blob', async () => {
    const digest = sha256(Buffer.from('being deleted')) as Digest;
    await db.run(`INSERT INTO blobs (digest, size, state, created_at, touched_at) VALUES (?, 13, 'deleting', 0, 0)`, [
      digest,
    ]);
    await assert.rejects(
      store.createUpload({ id: 'claim-1', repo: 'lib/a', owner: 'x', algorithm: 'sha256', digest }),
      BlobBeingDeleted,
    );
    assert.equal(await uploads(), 0);
    await db.run('DELETE FROM blobs WHERE digest = ?', [digest]);
    await store.createUpload({ id: 'claim-2', repo: 'lib/a', owner: 'x', algorithm: 'sha256', digest });
    const row = await db.get<{ digest: string }>('SELECT digest FROM uploads WHERE id = ?', ['claim-2']);
    assert.equal(row?.digest, digest);
    await store.deleteUpload('claim-2');
  });
});
