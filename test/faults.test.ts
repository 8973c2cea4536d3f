/**
 * Bad input and faults: every bad archive is refused with a message naming the problem and leaves nothing
 * behind; concurrent loads of one image make one image; kill -9 in the middle of a load or a delete is repaired at
 * the next start; one daemon per data root; graceful SIGTERM; bad daemon configuration.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { PackEntry } from '../src/util/tar/index.ts';
import {
  BERTHD,
  api,
  berthdRoots,
  docker,
  imageIds,
  rootArgs,
  run,
  startDaemon,
  waitFor,
  type Daemon,
} from './harness.ts';
import {
  blobFiles,
  dir,
  file,
  image,
  layer,
  legacyArchive,
  listDir,
  MT,
  ociArchive,
  ociManifest,
  sha256,
  smallImageArchive,
  snapshotDirs,
  storeProblems,
  storeState,
  tarOf,
  writeBigArchive,
  type Image,
} from './fixtures.ts';

/** What a refused load must leave unchanged. */
async function snapshotOfStore(d: Daemon): Promise<{ images: string[]; blobs: string[]; snapshots: string[] }> {
  return { images: await imageIds(d), blobs: await blobFiles(d.dataRoot), snapshots: await snapshotDirs(d.dataRoot) };
}

async function expectRefused(d: Daemon, archive: Buffer, message: RegExp): Promise<string> {
  const before = await snapshotOfStore(d);
  const r = await docker(d, ['load'], archive);
  assert.notEqual(r.code, 0, `the load should fail; it printed: ${r.stdout}`);
  assert.match(r.stderr, message);
  assert.deepEqual(await snapshotOfStore(d), before, 'the refused load left something behind');
  assert.deepEqual(await listDir(join(d.dataRoot, 'ingest')), []);
  // Still serving.
  assert.equal((await api(d.socket, 'GET', '/_ping')).body, 'OK');
  return r.stderr;
}

const symlinkEntry = (name: string, target: string): PackEntry => ({
  header: { name, type: 'symlink', linkname: target },
});
const hardlinkEntry = (name: string, target: string): PackEntry => ({
  header: { name, type: 'link', linkname: target },
});

async function legacyWith(entries: PackEntry[], tag: string): Promise<Buffer> {
  const l = await layer(entries);
  return tarOf(legacyArchive([{ image: image([l]), tags: [tag] }]));
}

describe('bad archives are refused, leaving nothing behind', () => {
  let d: Daemon;
  let good: Awaited<ReturnType<typeof smallImageArchive>>;
  let oci: { image: Image; layerDigest: string };

  before(async () => {
    d = await startDaemon();
    good = await smallImageArchive('faults-good', ['good:1']);
    // One image in the store already, so "nothing changed" is checked against a non-empty store.
    assert.equal((await docker(d, ['load'], good.archive)).code, 0);
    const l = await layer([dir('srv'), file('srv/a', 'hello from an oci layer')]);
    oci = { image: image([l]), layerDigest: l.digest };
  });
  after(async () => {
    await d?.cleanup();
  });

  it('a truncated archive', async () => {
    const fresh = await smallImageArchive('faults-truncated', ['trunc:1']);
    await expectRefused(d, fresh.archive.subarray(0, 1700), /unexpected end of tar archive/);
    // Truncated inside a gzip-compressed archive.
    const gz = gzipSync(fresh.archive);
    await expectRefused(d, gz.subarray(0, gz.length - 30), /unexpected end of file|truncated/);
  });

  it('a corrupt tar header', async () => {
    const corrupt = Buffer.from(good.archive);
    corrupt.write('XXXXXXXX', 148); // the checksum field of the first header
    await expectRefused(d, corrupt, /checksum/);
  });

  it('a corrupt gzip layer', async () => {
    const l = await layer([file('a', 'hello'.repeat(1000))], { gzip: true });
    const blob = Buffer.from(l.blob);
    blob[blob.length - 6]! ^= 0xff; // the CRC
    const bad = { ...l, blob, digest: sha256(blob) };
    await expectRefused(
      d,
      await tarOf(legacyArchive([{ image: image([bad]), tags: ['gzbad:1'] }])),
      new RegExp(`layer ${bad.digest}: incorrect data check`),
    );
  });

  it('a blob whose content does not match its digest', async () => {
    const m = ociManifest(oci.image);
    const archive = await tarOf(
      ociArchive([{ manifest: m, name: 'mismatch:1' }], [oci.image], {
        [oci.layerDigest]: Buffer.from('not the layer'),
      }),
    );
    await expectRefused(d, archive, new RegExp(`does not match.*${oci.layerDigest.slice(7)}`));
  });

  it('a blob whose size does not match the manifest', async () => {
    const m = JSON.parse(ociManifest(oci.image).toString()) as { layers: { size: number }[] };
    m.layers[0]!.size += 5;
    const archive = await tarOf(
      ociArchive([{ manifest: Buffer.from(JSON.stringify(m)), name: 'size:1' }], [oci.image]),
    );
    await expectRefused(d, archive, new RegExp(`${oci.layerDigest}.*${m.layers[0]!.size}`));
  });

  it('a manifest naming a missing blob', async () => {
    const archive = await tarOf(
      ociArchive([{ manifest: ociManifest(oci.image), name: 'missing:1' }], [oci.image], {
        [oci.layerDigest]: undefined,
      }),
    );
    await expectRefused(d, archive, new RegExp(`${oci.layerDigest}, which is missing`));
  });

  it('a config whose diff IDs do not match the layers', async () => {
    const l = await layer([file('b', 'x')]);
    const wrong = sha256('another layer');
    await expectRefused(
      d,
      await tarOf(legacyArchive([{ image: image([l], {}, [wrong]), tags: ['diffid:1'] }])),
      new RegExp(`diff ID is ${wrong}`),
    );
  });

  it('a layer entry with ../ in its path', async () => {
    await expectRefused(
      d,
      await legacyWith([file('../evil', 'x')], 'dotdot:1'),
      /layer entry "\.\.\/evil" escapes the root/,
    );
    await expectRefused(
      d,
      await legacyWith([dir('a'), file('a/../../evil', 'x')], 'dotdot:2'),
      /layer entry "a\/\.\.\/\.\.\/evil" escapes the root/,
    );
  });

  it('a symlink that escapes the layer root, written through', async () => {
    await expectRefused(
      d,
      await legacyWith([symlinkEntry('esc', '../../../../../tmp'), file('esc/pwned', 'x')], 'symesc:1'),
      /layer entry "esc\/pwned" would be written through the symlink "esc"/,
    );
    await expectRefused(
      d,
      await legacyWith([symlinkEntry('abs', '/etc'), file('abs/pwned', 'x')], 'symesc:2'),
      /"abs\/pwned" would be written through the symlink "abs"/,
    );
    assert.equal(existsSync('/tmp/pwned'), false);
    assert.equal(existsSync('/etc/pwned'), false);
  });

  it('a hard link to a path outside the layer root', async () => {
    await expectRefused(
      d,
      await legacyWith([hardlinkEntry('hl', '../../etc/passwd')], 'hardesc:1'),
      /layer entry "hl" links to "\.\.\/\.\.\/etc\/passwd", outside the root/,
    );
  });

  it('an entry with an absolute path stays inside the layer (as Docker treats it)', async () => {
    // Docker's unpacker joins an absolute name under the layer root; Berth does the same rather than refusing.
    const r = await docker(d, ['load'], await legacyWith([dir('etc'), file('/etc/absolute-evil', 'x')], 'abs:1'));
    if (r.code !== 0) {
      assert.match(r.stderr, /\/etc\/absolute-evil/);
      return;
    }
    assert.equal(existsSync('/etc/absolute-evil'), false);
    const [img] = JSON.parse((await docker(d, ['image', 'inspect', 'abs:1'])).stdout) as {
      RootFS: { Layers: string[] };
    }[];
    const s = await storeState(d.dataRoot);
    const fs = join(d.dataRoot, 'snapshots', s.snapshots.get(img!.RootFS.Layers[0]!)!, 'fs');
    assert.equal((await stat(join(fs, 'etc/absolute-evil'))).size, 1);
    assert.equal((await docker(d, ['rmi', 'abs:1'])).code, 0);
  });

  it('an unknown layer media type', async () => {
    const archive = await tarOf(
      ociArchive([{ manifest: ociManifest(oci.image, ['application/x-foo']), name: 'mt:1' }], [oci.image]),
    );
    await expectRefused(d, archive, /unsupported layer media type "application\/x-foo"/);
  });

  it('a schema 1 manifest', async () => {
    const s1 = Buffer.from(
      JSON.stringify({
        schemaVersion: 1,
        name: 'x',
        tag: 'latest',
        architecture: 'amd64',
        fsLayers: [{ blobSum: oci.layerDigest }],
        history: [{ v1Compatibility: '{}' }],
      }),
    );
    const archive = await tarOf(ociArchive([{ manifest: s1, name: 's1:1', mediaType: MT.schema1Signed }], [oci.image]));
    await expectRefused(d, archive, /schema 1 manifests are not supported/);
  });

  it('an archive with no images, or neither manifest.json nor an OCI layout', async () => {
    await expectRefused(d, await tarOf([file('hello.txt', 'hi')]), /neither manifest\.json nor an OCI layout/);
    await expectRefused(d, await tarOf([file('manifest.json', '[]')]), /contains no images/);
    await expectRefused(d, await tarOf([file('manifest.json', '{"not":"a list"')]), /manifest\.json/);
  });

  it('a bad image next to a good one: neither is loaded', async () => {
    const fine = await smallImageArchive('faults-pair', ['pair:1']);
    const l = await layer([file('../evil', 'x')]);
    const bad = image([l]);
    const archive = await tarOf(
      legacyArchive([
        { image: fine.image, tags: ['pair:1'] },
        { image: bad, tags: ['pair:2'] },
      ]),
    );
    await expectRefused(d, archive, /escapes the root/);
    assert.equal((await docker(d, ['image', 'inspect', 'pair:1'])).code, 1);
  });

  it('afterwards the store holds exactly what its images need', async () => {
    assert.deepEqual(await storeProblems(d.dataRoot), []);
    assert.deepEqual(await imageIds(d), [good.image.configDigest]);
  });
});

describe('concurrency, crashes and the daemon process', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  const start = async (opts: Parameters<typeof startDaemon>[0] = {}) => {
    const d = await startDaemon(opts);
    daemons.push(d);
    return d;
  };
  after(async () => {
    for (const d of daemons) await d.cleanup();
    for (const p of dirs) await rm(p, { recursive: true, force: true });
  });

  it('the same image loaded twice at once gives one image', async () => {
    const d = await start();
    // Several layers with some bulk, so that the two loads overlap.
    const layers = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        layer([dir(`l${i}`), file(`l${i}/data`, Buffer.alloc(2 << 20, i + 1))], { gzip: i % 2 === 0 }),
      ),
    );
    const img = image(layers);
    const archive = await tarOf(legacyArchive([{ image: img, tags: ['twice:1'] }]));
    const [a, b] = await Promise.all([docker(d, ['load'], archive), docker(d, ['load'], archive)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, 'Loaded image: twice:1\n');
    assert.equal(b.stdout, 'Loaded image: twice:1\n');
    assert.deepEqual(await imageIds(d), [img.configDigest]);
    const s = await storeState(d.dataRoot);
    assert.equal(s.images.size, 1);
    assert.equal(s.snapshots.size, 4, 'each layer unpacked once');
    assert.deepEqual(await storeProblems(d.dataRoot), []);
  });

  it('kill -9 in the middle of a load, then a restart: no half image, nothing orphaned; the load then succeeds', async () => {
    const d = await start();
    const big = join(d.dir, 'big.tar');
    const { id } = await writeBigArchive(big, 200 << 20, 'big:1');
    const before = await snapshotOfStore(d);

    // Killed while the layer is being received (ingest/ has it), then while it is being unpacked (snapshots/).
    const stages: [string, () => Promise<boolean>][] = [
      ['ingest', async () => (await listDir(join(d.dataRoot, 'ingest'))).length > 0],
      ['unpack', async () => (await snapshotDirs(d.dataRoot)).length > before.snapshots.length],
    ];
    for (const [stage, reached] of stages) {
      const load = docker(d, ['load', '-i', big]);
      await waitFor(`the load to reach ${stage}`, reached, 60_000);
      const pid = d.proc.pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor('berthd to die', () => d.proc.exitCode !== null || d.proc.signalCode !== null);
      const r = await load;
      assert.notEqual(r.code, 0, `${stage}: the load cannot have succeeded`);
      assert.doesNotMatch(r.stderr, /killed after/, `${stage}: the load hung: ${d.log()}`);
      await d.restart();
      assert.deepEqual(await snapshotOfStore(d), before, `${stage}: the store after repair`);
      assert.deepEqual(await storeProblems(d.dataRoot), []);
      assert.match(d.log(), /startup repair: removed/);
    }

    const r = await docker(d, ['load', '-i', big]);
    assert.equal(r.code, 0, `${r.stderr}\n${d.log()}`);
    assert.equal(r.stdout, 'Loaded image: big:1\n');
    assert.deepEqual(await imageIds(d), [...before.images, id].sort());
    assert.deepEqual(await storeProblems(d.dataRoot), []);
  });

  it('kill -9 in the middle of a delete, then a restart: no half image, nothing orphaned', async (t) => {
    const d = await start();
    // Many layers of many files, so that removing the snapshots takes a while.
    const LAYERS = 30;
    const layers: Awaited<ReturnType<typeof layer>>[] = [];
    for (let i = 0; i < LAYERS; i++) {
      const entries: PackEntry[] = [dir(`d${i}`)];
      for (let j = 0; j < 100; j++) entries.push(file(`d${i}/f${j}`, `${i}/${j}`));
      layers.push(await layer(entries));
    }
    const img = image(layers);
    const keep = await smallImageArchive('faults-keep', ['keep:1']);
    assert.equal((await docker(d, ['load'], await tarOf(legacyArchive([{ image: img, tags: ['doomed:1'] }])))).code, 0);
    assert.equal((await docker(d, ['load'], keep.archive)).code, 0);
    const snapsBefore = (await snapshotDirs(d.dataRoot)).length;
    assert.equal(snapsBefore, LAYERS + 1);

    // Killed (1) the moment the delete event arrives: the image record is gone, GC has not begun; (2) once GC
    // has removed some of the snapshots.
    const doomed = await tarOf(legacyArchive([{ image: img, tags: ['doomed:1'] }]));
    for (const stage of ['record deleted', 'gc under way'] as const) {
      const killed = new Promise<void>((resolveKill, rejectKill) => {
        const req = request(
          { socketPath: d.socket, path: `/events?filters=${encodeURIComponent('{"event":["delete"]}')}` },
          (res) => {
            res.on('data', (chunk: Buffer) => {
              if (!chunk.toString().includes('"delete"')) return;
              if (stage === 'record deleted') {
                process.kill(d.proc.pid!, 'SIGKILL');
                resolveKill();
                return;
              }
              void waitFor(
                'GC to begin',
                async () => (await snapshotDirs(d.dataRoot)).length < snapsBefore,
                30_000,
              ).then(() => {
                process.kill(d.proc.pid!, 'SIGKILL');
                resolveKill();
              }, rejectKill);
            });
            res.on('error', () => {});
            void docker(d, ['rmi', 'doomed:1']);
          },
        );
        req.on('error', rejectKill);
        req.end();
      });
      await killed;
      await waitFor('berthd to die', () => d.proc.exitCode !== null || d.proc.signalCode !== null);
      const leftAtKill = (await snapshotDirs(d.dataRoot)).length;
      t.diagnostic(`${stage}: snapshot directories left at the kill: ${leftAtKill} of ${snapsBefore}`);
      await d.restart();
      // The image record went first (that is when the event is sent): the image is gone, and whatever GC had not
      // finished is repaired at start.
      assert.deepEqual(await imageIds(d), [keep.image.configDigest], stage);
      assert.deepEqual(await storeProblems(d.dataRoot), [], stage);
      assert.equal((await snapshotDirs(d.dataRoot)).length, 1, stage);
      if (leftAtKill > 1) assert.match(d.log(), /startup repair: removed .*[1-9]\d* orphan layer/, stage);
      // The image loads again.
      assert.equal((await docker(d, ['load'], doomed)).code, 0, stage);
      assert.deepEqual(await storeProblems(d.dataRoot), [], stage);
    }
  });

  it('a second daemon on the same data root refuses to start, naming the lock holder', async () => {
    const d = await start();
    const other = berthdRoots(await mkdtemp(join(tmpdir(), 'berth-it-second-')));
    dirs.push(other.dir);
    const r = await run(BERTHD, [...rootArgs({ ...other, dataRoot: d.dataRoot }), '--no-seed'], {}, undefined, {
      timeoutMs: 30_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stdout + r.stderr,
      new RegExp(`another berthd \\(pid ${d.proc.pid}\\) is using the data root ${d.dataRoot}`),
    );
    assert.equal(existsSync(other.socket), false);
    // The first one is unaffected.
    assert.equal((await api(d.socket, 'GET', '/_ping')).body, 'OK');
    // A socket another daemon listens on is refused too.
    const r2 = await run(BERTHD, [...rootArgs({ ...other, host: d.host }), '--no-seed'], {}, undefined, {
      timeoutMs: 30_000,
    });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stdout + r2.stderr, new RegExp(`another daemon is already listening on unix://${d.socket}`));
    assert.equal(existsSync(other.dataRoot), false, 'refused before creating its data root');
    assert.equal((await api(d.socket, 'GET', '/_ping')).body, 'OK');
  });

  it('SIGTERM: requests in flight finish, then a graceful exit 0 with the socket and lock removed', async () => {
    const d = await start();
    const { archive, image: img } = await smallImageArchive('faults-term', ['term:1']);
    const layers = await Promise.all([0, 1, 2].map((i) => layer([file(`bulk${i}`, Buffer.alloc(8 << 20, i))])));
    const bulky = image(layers);
    await writeFile(join(d.dir, 'bulky.tar'), await tarOf(legacyArchive([{ image: bulky, tags: ['bulky:1'] }])));
    assert.equal((await docker(d, ['load'], archive)).code, 0);
    // A long-lived stream (docker events), which must not hold the daemon up: it ends when the daemon stops.
    const events = await new Promise<{ ended: Promise<boolean> }>((connected, failed) => {
      const req = request({ socketPath: d.socket, path: '/v1.47/events' }, (res) => {
        res.resume();
        const ended = new Promise<boolean>((done) => {
          res.on('end', () => done(true));
          res.on('error', () => done(false));
        });
        connected({ ended });
      });
      req.on('error', failed);
      req.end();
    });
    assert.deepEqual(await listDir(join(d.dataRoot, 'ingest')), []);
    const load = docker(d, ['load', '-i', join(d.dir, 'bulky.tar')]);
    await waitFor(
      'the load to be received',
      async () => (await listDir(join(d.dataRoot, 'ingest'))).length > 0 || (await imageIds(d)).length > 1,
      30_000,
    );
    const code = await d.stop('SIGTERM');
    assert.equal(code, 0, d.log());
    assert.doesNotMatch(d.log(), /harness: berthd did not exit/);
    assert.equal(await events.ended, true, 'the events stream ended cleanly when the daemon stopped');
    const r = await load;
    assert.equal(r.code, 0, `the load in flight should finish: ${r.stderr}\n${d.log()}`);
    assert.equal(existsSync(d.socket), false, 'the socket is removed');
    assert.equal(existsSync(join(d.dataRoot, 'berthd.pid')), false, 'the lock is released');
    assert.match(d.log(), /received SIGTERM/);
    await d.restart();
    assert.deepEqual(await imageIds(d), [img.configDigest, bulky.configDigest].sort());
    assert.deepEqual(await storeProblems(d.dataRoot), []);
  });

  it('a config file with an unknown key, bad JSON, or a bad --log-level: a clear error, exit non-zero', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'berth-it-config-'));
    dirs.push(tmp);
    const common = rootArgs(berthdRoots(tmp));
    await writeFile(join(tmp, 'bad-key.json'), JSON.stringify({ 'log-level': 'info', colour: 'red' }));
    const badKey = await run(BERTHD, [...common, '--config-file', join(tmp, 'bad-key.json')], {}, undefined, {
      timeoutMs: 30_000,
    });
    assert.notEqual(badKey.code, 0);
    assert.match(badKey.stderr, /unknown option "colour"/);
    assert.ok(badKey.stderr.includes(join(tmp, 'bad-key.json')));
    await writeFile(join(tmp, 'bad.json'), '{"hosts": [');
    const badJson = await run(BERTHD, [...common, '--config-file', join(tmp, 'bad.json')], {}, undefined, {
      timeoutMs: 30_000,
    });
    assert.notEqual(badJson.code, 0);
    assert.match(badJson.stderr, /not valid JSON/);
    const badLevel = await run(BERTHD, [...common, '--log-level', 'nonsense'], {}, undefined, { timeoutMs: 30_000 });
    assert.notEqual(badLevel.code, 0);
    assert.match(badLevel.stderr, /invalid log level "nonsense"/);
    // None of them started anything.
    assert.deepEqual((await readdir(tmp)).sort(), ['bad-key.json', 'bad.json']);
  });
});
