import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanceledError, InvalidArgumentError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import type { PackEntry } from '../util/tar/index.ts';
import { unpackLayer } from './apply.ts';

// unpackLayer's worker threads: more unpacks at once than workers, failures, cancels, big bodies.
let tmp: string;
let n = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-apply-worker-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function root(): Promise<string> {
  const r = join(tmp, `root-${++n}`);
  await mkdir(r);
  return r;
}

test('eight unpacks at once (more than the worker threads) all complete, each into its own root', async () => {
  const roots = await Promise.all(Array.from({ length: 8 }, root));
  await Promise.all(
    roots.map((r, i) =>
      unpackLayer(
        r,
        extract(pack([{ header: { name: 'd/' } }, { header: { name: 'd/f' }, body: Buffer.from(`layer ${i}`) }])),
        { whiteouts: 'overlay' },
      ),
    ),
  );
  for (const [i, r] of roots.entries()) assert.equal(await readFile(join(r, 'd/f'), 'utf8'), `layer ${i}`);
});

test("a worker's error arrives as its class, and the next unpack works", async () => {
  const bad = await root();
  await assert.rejects(
    unpackLayer(
      bad,
      extract(
        pack([
          { header: { name: 'a' }, body: Buffer.from('x') },
          { header: { name: 'l', type: 'link', linkname: 'missing' } },
        ]),
      ),
      { whiteouts: 'overlay' },
    ),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /links to "missing", which does not exist/.test(err.message),
  );
  const good = await root();
  await unpackLayer(good, extract(pack([{ header: { name: 'ok' }, body: Buffer.from('fine') }])), {
    whiteouts: 'overlay',
  });
  assert.equal(await readFile(join(good, 'ok'), 'utf8'), 'fine');
});

test('more failed unpacks than worker threads give every slot back: the next unpacks still run', async () => {
  const badLayer = () =>
    extract(
      pack([
        { header: { name: 'a' }, body: Buffer.from('x') },
        { header: { name: 'l', type: 'link', linkname: 'missing' } },
      ]),
    );
  for (let i = 0; i < 5; i++)
    await assert.rejects(unpackLayer(await root(), badLayer(), { whiteouts: 'overlay' }), InvalidArgumentError);
  const roots = await Promise.all(Array.from({ length: 4 }, root));
  await Promise.all(
    roots.map((r, i) =>
      unpackLayer(r, extract(pack([{ header: { name: 'f' }, body: Buffer.from(`after ${i}`) }])), {
        whiteouts: 'overlay',
      }),
    ),
  );
  for (const [i, r] of roots.entries()) assert.equal(await readFile(join(r, 'f'), 'utf8'), `after ${i}`);
});

test('a body larger than the flow-control window lands whole, and the size counts every block', async () => {
  const big = Buffer.alloc(40 << 20);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
  const small: PackEntry[] = Array.from({ length: 300 }, (_, i) => ({
    header: { name: `s/${i}` },
    body: Buffer.from(String(i)),
  }));
  const r = await root();
  const { size } = await unpackLayer(r, extract(pack([{ header: { name: 'big' }, body: big }, ...small])), {
    whiteouts: 'overlay',
  });
  assert.deepEqual(await readFile(join(r, 'big')), big);
  assert.equal((await readdir(join(r, 's'))).length, 300);
  assert.equal(size, 512 + big.length + 300 * 1024 + 1024);
});

test('a canceled unpack stops its worker before it returns: nothing more lands in the root', async () => {
  const ac = new AbortController();
  async function* entries(): AsyncIterable<PackEntry> {
    for (let i = 0; i < 100_000; i++) {
      if (i === 50) ac.abort();
      yield { header: { name: `f${i}` }, body: Buffer.from('x') };
    }
  }
  const r = await root();
  await assert.rejects(
    unpackLayer(r, extract(pack(entries())), { whiteouts: 'overlay', signal: ac.signal }),
    CanceledError,
  );
  const count = (await readdir(r)).length;
  assert.ok(count <= 50, `${count} files`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await readdir(r)).length, count);
  assert.ok((await stat(r)).isDirectory());
});
