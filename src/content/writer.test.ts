import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, lstat, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileContentStore } from './store.ts';
import { DirSyncs } from './dirsyncs.ts';
import { placeFile } from './writer.ts';
import { syncDir } from '../util/atomic.ts';
import { sha256 } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, UnavailableError } from '../util/errors.ts';

// Every writer test runs on both writers: the calling thread's, and the ingest thread's.
for (const ingestThread of [false, true]) {
  describe(ingestThread ? 'on the ingest thread' : 'on the calling thread', () => {
    let root: string;
    let store: FileContentStore;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'berth-writer-'));
      store = new FileContentStore(root, { ingestThread });
      await store.init();
      // Writers go to the thread once it is up.
      await store.warm();
    });
    after(async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    });

    test('chunks appended across writers (a restart between them) commit to the whole blob', async () => {
      const w = await store.writer('up1', { size: 0 });
      assert.equal(await w.append(Readable.from([Buffer.from('hello ')])), 6);
      await w.close();
      const again = await store.writer('up1', { size: 6 });
      assert.equal(again.size, 6);
      await again.append(Readable.from([Buffer.from('world')]));
      const info = await again.commit({ digest: sha256('hello world'), size: 11 });
      assert.deepEqual(info, { digest: sha256('hello world'), size: 11, created: true });
      assert.equal((await store.readAll(info.digest)).toString(), 'hello world');
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    });

    test('bytes past the acknowledged size (a chunk cut by a crash) are dropped on reopen', async () => {
      const w = await store.writer('up2', { size: 0 });
      await w.append(Readable.from([Buffer.from('abc')]));
      await w.close();
      await appendFile(join(root, 'ingest', 'up2'), 'garbage');
      const again = await store.writer('up2', { size: 3 });
      await again.append(Readable.from([Buffer.from('def')]));
      const info = await again.commit({ digest: sha256('abcdef') });
      assert.equal(info.size, 6);
    });

    test('a partial shorter than acknowledged is DataLoss', async () => {
      const w = await store.writer('up3', { size: 0 });
      await w.append(Readable.from([Buffer.from('ab')]));
      await w.close();
      await assert.rejects(store.writer('up3', { size: 5 }), DataLossError);
      await store.abort('up3');
    });

    test('a failed append is cut back, and the hash still matches afterwards', async () => {
      const w = await store.writer('up4', { size: 0 });
      await w.append(Readable.from([Buffer.from('one')]));
      const failing = (async function* () {
        yield Buffer.from('partial');
        throw new Error('client went away');
      })();
      await assert.rejects(w.append(failing), /client went away/);
      assert.equal(w.size, 3);
      await assert.rejects(w.append(Readable.from([Buffer.alloc(20)]), { maxSize: 10 }), InvalidArgumentError);
      await w.append(Readable.from([Buffer.from('two')]));
      const info = await w.commit({ digest: sha256('onetwo'), size: 6 });
      assert.equal(info.digest, sha256('onetwo'));
    });

    test('a digest mismatch at commit is DataLoss and removes the partial', async () => {
      const w = await store.writer('up5', { size: 0 });
      await w.append(Readable.from([Buffer.from('data')]));
      await assert.rejects(w.commit({ digest: sha256('other') }), DataLossError);
      assert.equal(await store.has(sha256('data')), false);
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    });

    test('a blob already stored: commit reports created false', async () => {
      await store.put(Buffer.from('dup'));
      const w = await store.writer('up6', { size: 0 });
      await w.append(Readable.from([Buffer.from('dup')]));
      assert.equal((await w.commit({ digest: sha256('dup') })).created, false);
      const parts = [];
      for await (const p of store.partials()) parts.push(p.ref);
      assert.deepEqual(parts, []);
    });

    test('an invalid reference is refused', async () => {
      await assert.rejects(store.writer('../x', { size: 0 }), InvalidArgumentError);
    });

    test('read takes an inclusive end', async () => {
      const { digest } = await store.put(Buffer.from('0123456789'));
      const chunks: Buffer[] = [];
      for await (const c of store.read(digest, { start: 2, end: 4 })) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), '234');
    });

    test('pieces larger than a slot, and more writers at once than slots, each commit to its own blob', async () => {
      const blobs = Array.from({ length: 20 }, (_, i) => Buffer.alloc(600_000 + i * 1000, i + 1));
      const infos = await Promise.all(
        blobs.map(async (b, i) => {
          const w = await store.writer(`many${i}`, { size: 0 });
          // One piece of the whole blob, then the same bytes again in 64 KiB pieces.
          await w.append(Readable.from([b]));
          const pieces = [];
          for (let off = 0; off < b.length; off += 65536) pieces.push(b.subarray(off, off + 65536));
          await w.append(Readable.from(pieces));
          return w.commit({ digest: sha256(Buffer.concat([b, b])), size: 2 * b.length });
        }),
      );
      for (const [i, info] of infos.entries()) assert.equal(info.size, 2 * blobs[i]!.length);
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    });

    test('an append with `last` keeps its last piece for the commit; given up by a close, its slot comes back', async () => {
      // More blobs given up than the thread has slots: a slot kept for a commit that never came would run out.
      for (let i = 0; i < 12; i++) {
        const w = await store.writer(`last-drop${i}`, { size: 0 });
        await w.append(Readable.from([Buffer.alloc(1_500_000, i)]), { last: true });
        await w.close();
        await store.abort(`last-drop${i}`);
      }
      const blobs = Array.from({ length: 12 }, (_, i) => Buffer.alloc((1 << 20) * 2 + 1000 * i, i + 7));
      const infos = await Promise.all(
        blobs.map(async (b, i) => {
          const w = await store.writer(`last${i}`, { size: 0 });
          const pieces = [];
          for (let off = 0; off < b.length; off += 65536) pieces.push(b.subarray(off, off + 65536));
          assert.equal(await w.append(Readable.from(pieces), { last: true }), b.length);
          return w.commit({ digest: sha256(b), size: b.length });
        }),
      );
      for (const [i, info] of infos.entries()) {
        assert.deepEqual(info, { digest: sha256(blobs[i]!), size: blobs[i]!.length, created: true });
        assert.ok((await store.readAll(info.digest)).equals(blobs[i]!));
      }
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    });

    test('an append with `last` that fails leaves no last piece for a later commit', async () => {
      const w = await store.writer('last-failed', { size: 0 });
      await assert.rejects(
        w.append(Readable.from([Buffer.alloc(1_500_000, 3)]), {
          last: true,
          onWritten: () => {
            throw new Error('refused');
          },
        }),
        /refused/,
      );
      assert.equal(w.size, 0);
      await w.append(Readable.from([Buffer.from('retried')]));
      const info = await w.commit({ digest: sha256('retried'), size: 7 });
      assert.deepEqual(info, { digest: sha256('retried'), size: 7, created: true });
      assert.equal((await store.readAll(info.digest)).toString(), 'retried');
    });

    test('onWritten hears sizes that are on file, rising to the whole append', async () => {
      const w = await store.writer('upw', { size: 0 });
      assert.equal(w.gathers === true, ingestThread, 'the writer of the thread, when there is one');
      const heard: number[] = [];
      const chunks = Array.from({ length: 48 }, (_, i) => Buffer.alloc(65536, i));
      const { stat } = await import('node:fs/promises');
      await w.append(Readable.from(chunks), {
        onWritten: async (n) => {
          heard.push(n);
          assert.ok((await stat(join(root, 'ingest', 'upw'))).size >= n);
        },
      });
      assert.ok(heard.length >= 2);
      assert.deepEqual(
        heard,
        [...heard].sort((a, b) => a - b),
      );
      assert.equal(heard.at(-1), 48 * 65536);
      await w.commit({ digest: sha256(Buffer.concat(chunks)) });
    });

    test('a sha512 upload is hashed with sha512', async () => {
      const w = await store.writer('up512', { size: 0, algorithm: 'sha512' });
      await w.append(Readable.from([Buffer.from('five twelve')]));
      await w.close();
      const again = await store.writer('up512', { size: 11, algorithm: 'sha512' });
      await again.append(Readable.from([Buffer.from('!')]));
      const { createHash } = await import('node:crypto');
      const digest = `sha512:${createHash('sha512').update('five twelve!').digest('hex')}` as const;
      assert.equal((await again.commit({ digest })).digest, digest);
    });

    if (ingestThread)
      test("a new file's open is not waited for: its failure comes with the first append", async () => {
        await rm(join(root, 'ingest'), { recursive: true });
        try {
          const w = await store.writer('up8', { size: 0 });
          await assert.rejects(w.append(Readable.from([Buffer.from('x')])), { code: 'ENOENT' });
          await w.close();
        } finally {
          await store.init();
        }
      });

    if (ingestThread)
      test('a commit whose last piece cannot be written fails and leaves no partial behind', async () => {
        // Writes to /dev/full fail (ENOSPC): the partial is a link to it, and the last piece is written at commit.
        await symlink('/dev/full', join(root, 'ingest', 'full'));
        const w = await store.writer('full', { size: 0 });
        assert.equal(await w.append(Readable.from([Buffer.from('no room')]), { last: true }), 7);
        await assert.rejects(w.commit({ digest: sha256('no room'), size: 7 }), { code: 'ENOSPC' });
        await assert.rejects(lstat(join(root, 'ingest', 'full')), { code: 'ENOENT' });
      });

    if (ingestThread)
      test('a writer whose thread stopped fails as unavailable, and a new writer reopens the partial', async () => {
        const w = await store.writer('up7', { size: 0 });
        await w.append(Readable.from([Buffer.from('kept')]));
        await store.close();
        await assert.rejects(w.append(Readable.from([Buffer.from('lost')])), UnavailableError);
        assert.equal(w.size, 4);
        await store.warm();
        const again = await store.writer('up7', { size: 4 });
        await again.append(Readable.from([Buffer.from('!')]));
        assert.equal((await again.commit({ digest: sha256('kept!') })).size, 5);
      });
  });
}

test('until the ingest thread is up, writers work on the calling thread; two open at once start it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-writer-'));
  const store = new FileContentStore(root, { ingestThread: true });
  try {
    await store.init();
    const early = await store.writer('early', { size: 0 });
    assert.notEqual(early.gathers, true);
    await early.append(Readable.from([Buffer.from('first ')]));
    const second = await store.writer('second', { size: 0 });
    assert.notEqual(second.gathers, true);
    await second.close();
    await early.close();
    await store.warm();
    // The same partial, continued on the thread.
    const later = await store.writer('early', { size: 6 });
    assert.equal(later.gathers, true);
    await later.append(Readable.from([Buffer.from('second')]));
    assert.equal((await later.commit({ digest: sha256('first second') })).size, 12);
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('placeFile reports a blob another commit renamed only once that commit’s directory sync has ended', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-place-'));
  try {
    let entered!: () => void;
    const syncing = new Promise<void>((r) => {
      entered = r;
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The first directory sync waits for the test (the real one runs after it).
    const syncs = new DirSyncs(async (d) => {
      entered();
      await gate;
      await syncDir(d);
    });
    const final = join(dir, 'blob');
    await writeFile(join(dir, 'a'), 'same');
    await writeFile(join(dir, 'b'), 'same');
    const first = placeFile(join(dir, 'a'), final, async () => {}, syncs);
    await syncing;
    let heard = false;
    const second = placeFile(join(dir, 'b'), final, async () => {}, syncs).then((created) => {
      heard = true;
      return created;
    });
    // The second commit has done its file work once its own copy is gone (on libuv's pool, so wait for it
    // rather than for a number of turns); it must still be waiting for the first one's sync.
    while (
      await lstat(join(dir, 'b')).then(
        () => true,
        () => false,
      )
    )
      await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(heard, false, 'the second commit waits for the first one’s directory sync');
    release();
    assert.equal(await first, true);
    assert.equal(await second, false);
    // Nothing under way: a blob stored is reported at once.
    await writeFile(join(dir, 'c'), 'same');
    assert.equal(await placeFile(join(dir, 'c'), final, async () => {}, syncs), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('DirSyncs: syncs asked for while one runs share the next one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-place-'));
  try {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const syncs = new DirSyncs(async (d) => {
      calls++;
      await gate;
      await syncDir(d);
    });
    const running = syncs.sync(dir);
    const later = [syncs.sync(dir), syncs.sync(dir), syncs.sync(dir)];
    assert.equal(syncs.settled(dir), later[0], 'a rename made now is durable with the next sync');
    release();
    await Promise.all([running, ...later]);
    assert.equal(calls, 2);
    await syncs.settled(dir);
    assert.equal(calls, 2, 'nothing under way, nothing to wait for');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
