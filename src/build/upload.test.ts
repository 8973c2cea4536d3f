import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { BuildContext } from './context.ts';
import { type Upload, Uploads } from './upload.ts';

let root: string;
let n = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-upload-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

type Files = Record<string, Buffer | { data: Buffer; mode?: number; uid?: number }>;

/** A context tar of `files` (in this order), sent in chunks of `chunk` bytes. */
async function* body(files: Files, chunk = 4096): AsyncGenerator<Uint8Array> {
  const entries: PackEntry[] = [{ header: { name: 'dir/', type: 'directory', mode: 0o755, mtime: 1 } }];
  for (const [name, f] of Object.entries(files)) {
    const { data, mode, uid } = Buffer.isBuffer(f) ? { data: f, mode: 0o644, uid: 0 } : f;
    entries.push({
      header: { name, type: 'file', mode: mode ?? 0o644, uid: uid ?? 0, size: data.length, mtime: 7 },
      body: data,
    });
  }
  const parts: Buffer[] = [];
  for await (const c of pack(entries)) parts.push(Buffer.from(c));
  const all = Buffer.concat(parts);
  for (let i = 0; i < all.length; i += chunk) yield all.subarray(i, i + chunk);
}

async function receive(files: Files, base?: Upload, chunk?: number) {
  const dir = join(root, `ctx-${n++}`);
  const { context } = await BuildContext.receive(body(files, chunk), dir, { base });
  return { context, dir, upload: { entries: context.entries, spools: context.spools } };
}

async function content(ctx: BuildContext, name: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of ctx.read(name)) parts.push(c);
  return Buffer.concat(parts);
}

const big = Buffer.alloc(3 << 20);
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;

test('an upload equal to the last one takes its sums and bodies and writes no spool', async () => {
  const files = { 'dir/a': Buffer.from('alpha'), 'dir/big': big, 'dir/empty': Buffer.alloc(0) };
  const first = await receive(files);
  assert.deepEqual([...first.context.spools], [`${first.dir}.spool`]);
  const second = await receive(files, first.upload, 65536);
  assert.deepEqual([...second.context.spools], [`${first.dir}.spool`], 'every body is the first upload’s');
  assert.equal(existsSync(`${second.dir}.spool`), false, 'nothing was spooled');
  for (const name of ['dir', 'dir/a', 'dir/big', 'dir/empty'])
    assert.equal(second.context.entries.get(name)?.sum, first.context.entries.get(name)?.sum, name);
  assert.deepEqual(await content(second.context, 'dir/big'), big);
  assert.deepEqual(await content(second.context, 'dir/a'), Buffer.from('alpha'));
  // the empty file is still written out when a step needs it
  await second.context.materialize('dir');
  assert.equal(existsSync(join(second.dir, 'dir', 'empty')), true);
  await first.context.close();
  await second.context.close();
});

test('one byte changed anywhere in a body, or a header field, gives the sum a fresh upload gives', async () => {
  const files = { 'dir/a': Buffer.from('alpha'), 'dir/big': big };
  const first = await receive(files);
  for (const at of [0, 4095, 4096, 1 << 20, big.length - 1]) {
    const changed = Buffer.from(big);
    changed[at] = (changed[at]! + 1) % 256;
    const other = { 'dir/a': Buffer.from('alpha'), 'dir/big': changed };
    const fresh = await receive(other);
    // in chunks that do not line up with the windows, and in one that spans the whole body
    for (const chunk of [1000, 4096, 8 << 20]) {
      const got = await receive(other, first.upload, chunk);
      assert.equal(got.context.entries.get('dir/big')?.sum, fresh.context.entries.get('dir/big')?.sum, `byte ${at}`);
      assert.notEqual(got.context.entries.get('dir/big')?.sum, first.context.entries.get('dir/big')?.sum);
      assert.equal(got.context.entries.get('dir/a')?.sum, first.context.entries.get('dir/a')?.sum);
      assert.deepEqual(await content(got.context, 'dir/big'), changed, `byte ${at}, chunks of ${chunk}`);
      // the first spool would keep 3 MiB for dir/a's 5 bytes: those are copied and it is not read (unpin)
      assert.deepEqual([...got.context.spools], [`${got.dir}.spool`]);
      assert.deepEqual(await content(got.context, 'dir/a'), Buffer.from('alpha'));
      await got.context.close();
    }
    await fresh.context.close();
  }
  // the same bytes under another mode or owner: not the same entry
  for (const f of [
    { data: Buffer.from('alpha'), mode: 0o600 },
    { data: Buffer.from('alpha'), uid: 1000 },
  ]) {
    const fresh = await receive({ 'dir/a': f, 'dir/big': big });
    const got = await receive({ 'dir/a': f, 'dir/big': big }, first.upload);
    assert.equal(got.context.entries.get('dir/a')?.sum, fresh.context.entries.get('dir/a')?.sum);
    assert.notEqual(got.context.entries.get('dir/a')?.sum, first.context.entries.get('dir/a')?.sum);
    assert.equal(got.context.entries.get('dir/big')?.spool, `${first.dir}.spool`);
    await got.context.close();
    await fresh.context.close();
  }
  // a longer body whose start is the base's whole body
  const longer = Buffer.concat([big, Buffer.from('tail')]);
  const fresh = await receive({ 'dir/a': Buffer.from('alpha'), 'dir/big': longer });
  const got = await receive({ 'dir/a': Buffer.from('alpha'), 'dir/big': longer }, first.upload);
  assert.equal(got.context.entries.get('dir/big')?.sum, fresh.context.entries.get('dir/big')?.sum);
  assert.deepEqual(await content(got.context, 'dir/big'), longer);
  await got.context.close();
  await fresh.context.close();
  await first.context.close();
});

test('a spool is removed when neither the last upload nor a build holds it', async () => {
  const uploads = new Uploads();
  const files = { 'dir/a': Buffer.from('alpha'), 'dir/big': big };
  const first = await receive(files);
  const firstBuild = uploads.hold(first.upload);
  uploads.keep(first.upload);
  firstBuild.release();
  const spool = `${first.dir}.spool`;
  assert.equal(existsSync(spool), true, 'the last upload holds it');

  // a second build, one file changed: reads the rest from the first spool
  const base = uploads.base();
  const second = await receive({ ...files, 'dir/a': Buffer.from('beta') }, base.upload);
  const secondBuild = uploads.hold(second.upload);
  uploads.keep(second.upload);
  base.release();
  assert.equal(existsSync(spool), true, 'the new last upload reads dir/big from it');

  // a third upload that shares nothing with the first: the first spool goes once no build holds it
  const thirdBase = uploads.base();
  const third = await receive({ 'dir/b': Buffer.from('gamma') }, thirdBase.upload);
  const thirdBuild = uploads.hold(third.upload);
  uploads.keep(third.upload);
  thirdBase.release();
  await sleep(50);
  assert.equal(existsSync(spool), true, 'the second build still reads from it');
  secondBuild.release();
  await sleep(50);
  assert.equal(existsSync(spool), false);
  assert.equal(existsSync(`${second.dir}.spool`), false);
  assert.equal(existsSync(`${third.dir}.spool`), true);
  thirdBuild.release();
  uploads.clear();
  await sleep(50);
  assert.equal(existsSync(`${third.dir}.spool`), false, 'builder prune lets the last upload go');
  await first.context.close();
  await second.context.close();
  await third.context.close();
});

test('the spools an upload keeps hold at most 1.5 times its bytes, over a sequence of uploads', async () => {
  const dir = join(root, 'sequence');
  await mkdir(dir);
  const uploads = new Uploads();
  const mib = (seed: number) => {
    const b = Buffer.alloc(1 << 20);
    for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 7) % 253;
    return b;
  };
  const onDisk = async () => {
    let total = 0;
    for (const f of await readdir(dir)) if (f.endsWith('.spool')) total += (await stat(join(dir, f))).size;
    return total;
  };
  // four 1 MiB files and a small one; each upload changes some of them (the last: all but the small one)
  const files: Record<string, Buffer> = { 'dir/small': Buffer.from('small') };
  for (const k of [0, 1, 2, 3]) files[`dir/f${k}`] = mib(k);
  const changes = [[], [0], [1], [2], [3], [0, 1], [2], [0, 1, 2, 3], [], [1]];
  let version = 10;
  const contexts: BuildContext[] = [];
  for (const change of changes) {
    for (const k of change) files[`dir/f${k}`] = mib(version++);
    const base = uploads.base();
    const { context } = await BuildContext.receive(body(files), join(dir, `ctx-${n++}`), { base: base.upload });
    contexts.push(context);
    const upload = { entries: context.entries, spools: context.spools };
    const own = uploads.hold(upload);
    uploads.keep(upload);
    base.release();
    own.release();
    await sleep(50);
    const live = Object.values(files).reduce((a, b) => a + b.length, 0);
    const kept = await onDisk();
    assert.ok(kept <= live * 1.5, `after changing [${change}]: ${kept} bytes on disk for ${live} of context`);
    // byte for byte what was sent, wherever it now is
    for (const [name, data] of Object.entries(files)) assert.deepEqual(await content(context, name), data, name);
    // the same sums a fresh hash gives
    const fresh = await receive(files);
    for (const name of Object.keys(files))
      assert.equal(context.entries.get(name)?.sum, fresh.context.entries.get(name)?.sum, name);
    await fresh.context.close();
    await rm(`${fresh.dir}.spool`, { force: true });
  }
  // the last change left only f1 new: f0, f2, f3 and small are in older spools, each mostly in use
  uploads.clear();
  await sleep(50);
  assert.equal(await onDisk(), 0);
  for (const c of contexts) await c.close();
});
