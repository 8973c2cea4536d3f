/**
 * The registry server's garbage collection while it serves, and its faults: concurrent pushes of one blob,
 * kill -9 in the middle of an upload, GC during pushes, a full disk (a small tmpfs made by the test).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  call,
  errorCode,
  pushBlob,
  pushImage,
  registryCli,
  serveRegistry,
  sha256,
  type ServedRegistry,
} from '../src/registry/testkit.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
// Long enough that a loaded machine gets a push and the collection after it into one window.
const GRACE_MS = 4000;

async function gc(reg: ServedRegistry, args: string[] = []): Promise<string> {
  const r = await registryCli(['gc', '--url', reg.url, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Blob rows of a stopped registry's metadata, by state. */
function blobRows(root: string): Map<string, string> {
  const db = new DatabaseSync(join(root, 'registry.db'));
  try {
    const rows = db.prepare('SELECT digest, state FROM blobs').all() as { digest: string; state: string }[];
    return new Map(rows.map((r) => [r.digest, r.state]));
  } finally {
    db.close();
  }
}

/** Waits for the `n`th start-up repair line of the registry's log; returns it. */
async function repairLine(reg: ServedRegistry, n: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const lines = reg.log().match(/repair: .*/g) ?? [];
    if (lines.length >= n) return lines[n - 1]!;
    await sleep(100);
  }
  assert.fail(`no repair line #${n} in the log:\n${reg.log()}`);
}

async function blobFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, 'blobs', 'sha256'))).map((h) => `sha256:${h}`);
}

describe('garbage collection', () => {
  let reg: ServedRegistry;
  let cfg: string;
  let cfgDir: string;
  before(async () => {
    cfgDir = await mkdtemp(join(tmpdir(), 'berth-reggc-cfg-'));
    cfg = join(cfgDir, 'gc.json');
    await writeFile(cfg, JSON.stringify({ gc: { grace: `${GRACE_MS}ms` } }));
    reg = await serveRegistry(undefined, { args: ['--config', cfg] });
  });
  after(async () => {
    await reg.stop();
    await rm(reg.root, { recursive: true, force: true });
    await rm(cfgDir, { recursive: true, force: true });
  });

  it('keeps what tags reach and young content; --dry-run lists what would go with sizes; then frees it', async () => {
    const shared = randomBytes(100);
    const keep = await pushImage(reg, 'gc/app', 'keep', { layers: [shared, randomBytes(200)] });
    const drop = await pushImage(reg, 'gc/app', 'drop', { layers: [shared, randomBytes(300)] });
    assert.equal((await call(reg, 'DELETE', `/v2/gc/app/manifests/${drop.digest}`)).status, 202);
    // Young: nothing goes yet.
    const young = await gc(reg, ['--dry-run']);
    assert.doesNotMatch(young, /would delete blob/);
    await sleep(GRACE_MS + 300);
    const dry = await gc(reg, ['--dry-run']);
    assert.match(dry, new RegExp(`would delete blob ${drop.layers[1]} \\(300 bytes\\)`));
    assert.match(dry, new RegExp(`would delete blob ${drop.config}`));
    assert.doesNotMatch(dry, new RegExp(shared.length ? sha256(shared) : 'x'));
    assert.ok((await blobFiles(reg.root)).includes(drop.layers[1]!), 'a dry run deletes nothing');
    const real = await gc(reg);
    assert.match(real, new RegExp(`deleted blob ${drop.layers[1]}`));
    const files = await blobFiles(reg.root);
    assert.ok(!files.includes(drop.layers[1]!));
    for (const d of [keep.config, ...keep.layers]) assert.ok(files.includes(d), `kept ${d}`);
    assert.equal((await call(reg, 'HEAD', `/v2/gc/app/blobs/${drop.layers[1]}`)).status, 404);
    const pulled = await call(reg, 'GET', `/v2/gc/app/blobs/${keep.layers[1]}`);
    assert.equal(pulled.status, 200);
  });

  it('--delete-untagged removes manifests no tag reaches, keeping index children and referrers of tagged ones', async () => {
    const old = await pushImage(reg, 'gc/ut', 'v1');
    const child = await pushImage(reg, 'gc/ut', 'child');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.manifest.length }],
      }),
    );
    assert.equal(
      (
        await call(reg, 'PUT', '/v2/gc/ut/manifests/multi', {
          body: index,
          headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
        })
      ).status,
      201,
    );
    assert.equal((await call(reg, 'DELETE', '/v2/gc/ut/manifests/child')).status, 202);
    const cfgBlob = await pushBlob(reg, 'gc/ut', Buffer.from('{}'));
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.sig',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: cfgBlob, size: 2 },
        layers: [],
        subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length },
      }),
    );
    assert.equal(
      (
        await call(reg, 'PUT', `/v2/gc/ut/manifests/${sha256(sig)}`, {
          body: sig,
          headers: { 'Content-Type': OCI_MANIFEST },
        })
      ).status,
      201,
    );
    // v1 moves to a new image: the old manifest is untagged.
    const newer = await pushImage(reg, 'gc/ut', 'v1');
    await sleep(GRACE_MS + 300);
    const plain = await gc(reg);
    assert.doesNotMatch(plain, /manifest gc\/ut@/);
    assert.equal((await call(reg, 'HEAD', `/v2/gc/ut/manifests/${old.digest}`)).status, 200);
    const out = await gc(reg, ['--delete-untagged']);
    assert.match(out, new RegExp(`deleted manifest gc/ut@${old.digest}`));
    assert.match(out, new RegExp(`deleted blob ${old.layers[0]}`));
    assert.equal((await call(reg, 'HEAD', `/v2/gc/ut/manifests/${old.digest}`)).status, 404);
    for (const d of [newer.digest, child.digest, sha256(index), sha256(sig)])
      assert.equal((await call(reg, 'HEAD', `/v2/gc/ut/manifests/${d}`)).status, 200, `kept ${d}`);
    assert.equal((await call(reg, 'HEAD', `/v2/gc/ut/blobs/${child.layers[0]}`)).status, 200);
  });

  it('a blob a client just found (HEAD) survives a collection until its manifest arrives', async () => {
    const img = await pushImage(reg, 'gc/race', 'v1');
    assert.equal((await call(reg, 'DELETE', `/v2/gc/race/manifests/${img.digest}`)).status, 202);
    await sleep(GRACE_MS + 300);
    for (const d of [img.config, ...img.layers])
      assert.equal((await call(reg, 'HEAD', `/v2/gc/race/blobs/${d}`)).status, 200);
    await gc(reg);
    const put = await call(reg, 'PUT', '/v2/gc/race/manifests/v1', {
      body: img.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(put.status, 201, await put.text());
  });

  it('pushes and pulls never fail while collections run back to back', async () => {
    let stop = false;
    let runs = 0;
    const loop = (async () => {
      while (!stop) {
        await gc(reg, ['--delete-untagged']);
        runs++;
      }
    })();
    const images: { repo: string; digest: string }[] = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < 8000 || runs < 3; i++) {
      const repo = `gc/busy${i % 3}`;
      const img = await pushImage(reg, repo, `t${i}`, { layers: [randomBytes(2048), randomBytes(64)] });
      images.push({ repo, digest: img.digest });
      // Re-push an earlier image's tag, reusing its blobs (HEAD, then manifest).
      if (i > 2) {
        const prev = images[i - 3]!;
        const m = await call(reg, 'GET', `/v2/${prev.repo}/manifests/${prev.digest}`);
        assert.equal(m.status, 200);
      }
    }
    stop = true;
    await loop;
    assert.ok(runs >= 3, `collections ran ${runs} times`);
    for (const img of images) {
      const m = await call(reg, 'GET', `/v2/${img.repo}/manifests/${img.digest}`);
      assert.equal(m.status, 200);
      const doc = (await m.json()) as { layers: { digest: string }[]; config: { digest: string } };
      for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
        const b = await call(reg, 'GET', `/v2/${img.repo}/blobs/${d}`);
        assert.equal(b.status, 200);
        assert.equal(sha256(Buffer.from(await b.arrayBuffer())), d);
      }
    }
  });

  it('a scheduled collection runs on its own (gc.interval in the config)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-reggc-sched-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ gc: { grace: '200ms', interval: '300ms' } }));
    const r = await serveRegistry(t, { args: ['--config', file] });
    const img = await pushImage(r, 'sched/x', 'v1');
    assert.equal((await call(r, 'DELETE', `/v2/sched/x/manifests/${img.digest}`)).status, 202);
    for (let i = 0; i < 50 && (await blobFiles(r.root)).includes(img.layers[0]!); i++) await sleep(100);
    assert.ok(!(await blobFiles(r.root)).includes(img.layers[0]!), r.log());
    assert.match(r.log(), /gc: freed/);
  });
});

describe('faults', () => {
  it('two clients pushing the same blob at once: one blob, both succeed', async (t) => {
    const reg = await serveRegistry(t);
    const data = randomBytes(8 << 20);
    const [a, b] = await Promise.all([pushBlob(reg, 'fault/a', data), pushBlob(reg, 'fault/b', data)]);
    assert.equal(a, b);
    const files = (await blobFiles(reg.root)).filter((d) => d === a);
    assert.equal(files.length, 1);
    assert.deepEqual(await readdir(join(reg.root, 'ingest')), []);
    for (const repo of ['fault/a', 'fault/b']) {
      const res = await call(reg, 'GET', `/v2/${repo}/blobs/${a}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), a);
    }
  });

  it('kill -9 in the middle of a chunk: after a restart the upload resumes from the last acknowledged byte', async (t) => {
    const reg = await serveRegistry(t);
    const data = randomBytes(3 << 20);
    const post = await call(reg, 'POST', '/v2/fault/kill/blobs/uploads/');
    const loc = post.headers.get('location')!;
    const first = await call(reg, 'PATCH', loc, {
      body: data.subarray(0, 1 << 20),
      headers: { 'Content-Range': `0-${(1 << 20) - 1}` },
    });
    assert.equal(first.status, 202);
    // A second chunk that stops half way, then the server dies.
    const [host, port] = reg.host.split(':');
    const req = request({
      host,
      port: Number(port),
      method: 'PATCH',
      path: loc,
      headers: { 'Content-Range': `${1 << 20}-${(2 << 20) - 1}`, 'Content-Length': String(1 << 20) },
    });
    req.on('error', () => {});
    req.write(data.subarray(1 << 20, (1 << 20) + (512 << 10)));
    await sleep(300);
    await reg.kill();
    req.destroy();
    assert.equal(
      (await call({ url: reg.url }, 'GET', '/v2/').catch(() => ({ status: 0 }))).status,
      0,
      'the server is down',
    );
    await reg.restart();
    const status = await call(reg, 'GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${(1 << 20) - 1}`);
    assert.equal(
      (await call(reg, 'HEAD', `/v2/fault/kill/blobs/${sha256(data)}`)).status,
      404,
      'no blob before the upload ends',
    );
    const rest = await call(reg, 'PATCH', loc, {
      body: data.subarray(1 << 20),
      headers: { 'Content-Range': `${1 << 20}-${data.length - 1}` },
    });
    assert.equal(rest.status, 202);
    const put = await call(reg, 'PUT', `${loc}?digest=${sha256(data)}`);
    assert.equal(put.status, 201, await put.text());
    const got = await call(reg, 'GET', `/v2/fault/kill/blobs/${sha256(data)}`);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(data));
  });

  it('kill -9 between placing a blob and recording it: the start-up repair adopts or removes what is left', async (t) => {
    const reg = await serveRegistry(t);
    const kept = await pushImage(reg, 'orphan/app', 'v1');
    assert.match(await repairLine(reg, 1), /repair: 0 orphaned blobs removed \(0 bytes\), 0 adopted/);
    // An upload whose last PUT was being committed when the process died: its digest claimed, its bytes in place.
    const claimed = randomBytes(300_000);
    const post = await call(reg, 'POST', '/v2/orphan/app/blobs/uploads/');
    const loc = post.headers.get('location')!;
    assert.equal((await call(reg, 'PATCH', loc, { body: claimed })).status, 202);
    // A push that dies mid-body (kill -9 with the request half sent).
    const [host, port] = reg.host.split(':');
    const cut = request({
      host,
      port: Number(port),
      method: 'POST',
      path: `/v2/orphan/app/blobs/uploads/?digest=${sha256('never')}`,
      headers: { 'Content-Length': String(4 << 20) },
    });
    cut.on('error', () => {});
    cut.write(randomBytes(1 << 20));
    await sleep(200);
    await reg.kill();
    cut.destroy();
    // What the crash left between the commit and the transaction that records the blob: the bytes under their
    // digest, the upload still claiming it (its partial gone with the rename), and a blob nothing claims any more
    // (its upload purged since).
    const id = loc.slice(loc.lastIndexOf('/') + 1);
    const db = new DatabaseSync(join(reg.root, 'registry.db'));
    db.prepare('UPDATE uploads SET digest = ? WHERE id = ?').run(sha256(claimed), id);
    db.close();
    await rm(join(reg.root, 'ingest', id), { recursive: true, force: true });
    const orphan = randomBytes(200_000);
    const dir = join(reg.root, 'blobs', 'sha256');
    await writeFile(join(dir, sha256(claimed).slice(7)), claimed);
    await writeFile(join(dir, sha256(orphan).slice(7)), orphan);
    // An orphan under another algorithm (a sha512 upload cut the same way) is found as well.
    const orphan512 = randomBytes(1000);
    const hex512 = createHash('sha512').update(orphan512).digest('hex');
    await mkdir(join(reg.root, 'blobs', 'sha512'), { recursive: true });
    await writeFile(join(reg.root, 'blobs', 'sha512', hex512), orphan512);
    assert.equal(blobRows(reg.root).has(sha256(orphan)), false);
    await reg.restart();
    // Not served before the repair, nor after: the metadata decides what exists.
    assert.equal((await call(reg, 'HEAD', `/v2/orphan/app/blobs/${sha256(orphan)}`)).status, 404);
    assert.match(
      await repairLine(reg, 2),
      /repair: 2 orphaned blobs removed \(201000 bytes\), 1 adopted by their uploads/,
    );
    const files = await blobFiles(reg.root);
    assert.equal(files.includes(sha256(orphan)), false, 'the orphan is gone');
    assert.deepEqual(await readdir(join(reg.root, 'blobs', 'sha512')), [], 'the sha512 orphan is gone');
    assert.equal(blobRows(reg.root).has(`sha512:${hex512}`), false, 'and left no row');
    assert.ok(files.includes(sha256(claimed)), 'the adopted blob is kept');
    // The adopted blob is in the upload's repository, as if its PUT had ended; the upload is closed.
    const got = await call(reg, 'GET', `/v2/orphan/app/blobs/${sha256(claimed)}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(claimed));
    assert.equal((await call(reg, 'GET', loc)).status, 404);
    // What was pushed before is untouched, and the same orphan pushed again is a normal blob.
    for (const d of [kept.config, ...kept.layers])
      assert.equal((await call(reg, 'HEAD', `/v2/orphan/app/blobs/${d}`)).status, 200);
    assert.equal(await pushBlob(reg, 'orphan/app', orphan), sha256(orphan));
    assert.equal((await call(reg, 'HEAD', `/v2/orphan/app/blobs/${sha256(orphan)}`)).status, 200);
    // A collection finds orphans too (a dry run lists them).
    await writeFile(join(dir, sha256('stray').slice(7)), 'stray');
    assert.match(await gc(reg, ['--dry-run']), /would delete orphaned blob sha256:[0-9a-f]{64} \(5 bytes/);
    assert.match(await gc(reg), /1 orphaned blobs, 0 adopted/);
    assert.equal((await blobFiles(reg.root)).includes(sha256('stray')), false);
  });

  it('kill -9 during many concurrent pushes: after the repair every stored blob is listed and every listed one is stored', async (t) => {
    const reg = await serveRegistry(t);
    await repairLine(reg, 1);
    let seen = 0;
    const acknowledged = new Map<string, { repo: string; data: Buffer }>();
    for (let round = 0; round < 3; round++) {
      let stop = false;
      const pushers = Array.from({ length: 24 }, async (_, i) => {
        while (!stop) {
          const data = randomBytes(1000 + i);
          try {
            const repo = `crash/r${i % 4}`;
            const d = await pushBlob(reg, repo, data);
            if (!stop) acknowledged.set(d, { repo, data });
          } catch {
            return;
          }
        }
      });
      await sleep(400 + round * 150);
      await reg.kill();
      stop = true;
      await Promise.all(pushers);
      const rows = blobRows(reg.root);
      const files = await blobFiles(reg.root);
      const orphans = files.filter((d) => !rows.has(d));
      seen += orphans.length;
      await reg.restart();
      const line = await repairLine(reg, round + 2);
      const m = /repair: (\d+) orphaned blobs removed .*, (\d+) adopted/.exec(line)!;
      assert.equal(Number(m[1]) + Number(m[2]), orphans.length, line);
      const after = blobRows(reg.root);
      for (const d of await blobFiles(reg.root)) assert.ok(after.has(d), `${d} is stored but not listed`);
      for (const [d, state] of after) {
        if (state === 'live') assert.ok((await blobFiles(reg.root)).includes(d), `${d} is listed but not stored`);
      }
    }
    t.diagnostic(`blobs left unlisted by the kills: ${seen}`);
    // Every push that was acknowledged is served intact.
    assert.ok(acknowledged.size > 0);
    for (const [d, { repo, data }] of acknowledged) {
      const res = await call(reg, 'GET', `/v2/${repo}/blobs/${d}`);
      assert.equal(res.status, 200, `${repo}@${d}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
    }
  });

  it('an abandoned upload is cleaned up by a collection after the grace window, not before', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-reggc-up-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    // A grace window a loaded machine cannot outrun between the PATCH and the collection's start.
    await writeFile(join(dir, 'c.json'), JSON.stringify({ gc: { grace: '4s' } }));
    const reg = await serveRegistry(t, { args: ['--config', join(dir, 'c.json')] });
    const post = await call(reg, 'POST', '/v2/fault/abandon/blobs/uploads/');
    const loc = post.headers.get('location')!;
    await call(reg, 'PATCH', loc, { body: randomBytes(1000) });
    await gc(reg);
    assert.equal((await call(reg, 'GET', loc)).status, 204, 'a young upload is kept');
    await sleep(4300);
    assert.match(await gc(reg), /1 uploads/);
    assert.equal((await call(reg, 'GET', loc)).status, 404);
    assert.deepEqual(await readdir(join(reg.root, 'ingest')), []);
  });

  it('a full disk answers with an error and loses nothing already stored', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-regfull-'));
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
    let reg: Awaited<ReturnType<typeof serveRegistry>> | undefined;
    t.after(async () => {
      // The registry stops first: still running, it would write its root again under the unmounted directory.
      await reg?.stop();
      execFileSync('umount', ['-l', mnt]);
      await rm(dir, { recursive: true, force: true });
    });
    reg = await serveRegistry(t, { root: join(mnt, 'root') });
    const stored = [];
    for (let i = 0; i < 3; i++)
      stored.push(await pushImage(reg, 'full/app', `v${i}`, { layers: [randomBytes(512 << 10)] }));
    const big = randomBytes(8 << 20);
    const post = await call(reg, 'POST', '/v2/full/app/blobs/uploads/');
    const patch = await call(reg, 'PATCH', post.headers.get('location')!, { body: big });
    assert.equal(patch.status, 507, await patch.clone().text());
    assert.match(await patch.text(), /storage is full/);
    for (const img of stored) {
      const m = await call(reg, 'GET', `/v2/full/app/manifests/${img.digest}`);
      assert.equal(m.status, 200);
      for (const d of [img.config, ...img.layers]) {
        const b = await call(reg, 'GET', `/v2/full/app/blobs/${d}`);
        assert.equal(sha256(Buffer.from(await b.arrayBuffer())), d);
      }
    }
    // The failed chunk took nothing: a small push still fits.
    assert.equal((await call(reg, 'DELETE', post.headers.get('location')!)).status, 204);
    const small = await pushImage(reg, 'full/app', 'small', { layers: [randomBytes(1024)] });
    assert.equal((await call(reg, 'HEAD', `/v2/full/app/manifests/${small.digest}`)).status, 200);
    assert.equal(await errorCode(await call(reg, 'GET', '/v2/full/app/manifests/none')), 'MANIFEST_UNKNOWN');
  });
});
