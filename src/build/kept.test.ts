import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { BuildCacheRecords, MetadataDB } from '../metadata/index.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { KeptContexts, MANIFEST_NAME, type ManifestEntry } from './kept.ts';

let root: string;
let db: MetadataDB;
let records: BuildCacheRecords;
let work = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-kept-'));
  db = new MetadataDB(join(root, 'berth.db'));
  records = new BuildCacheRecords(db);
});
after(async () => {
  db.close();
  await rm(root, { recursive: true, force: true });
});

/** The manifest of files named by their content, each with a time of its own (a change is a new time). */
function manifestOf(files: Record<string, { data: string; at: number }>): ManifestEntry[] {
  return Object.entries(files).map(([path, f]) => ({
    path,
    type: 'file',
    mode: 0o644,
    size: Buffer.byteLength(f.data),
    mtime: f.at,
    ctime: f.at,
  }));
}

/** A kept-context body: the manifest (or the token of its plan, as `berth build` sends), then the files in `send`. */
async function* body(
  files: Record<string, { data: string; at: number }>,
  send: readonly string[],
  planned?: string,
): AsyncGenerator<Uint8Array> {
  const first = planned !== undefined ? { planned } : manifestOf(files);
  const entries: PackEntry[] = [
    { header: { name: MANIFEST_NAME, mode: 0o644 }, body: Buffer.from(JSON.stringify(first)) },
  ];
  for (const name of send) {
    const data = Buffer.from(files[name]!.data);
    entries.push({ header: { name, type: 'file', mode: 0o644, size: data.length, mtime: 1 }, body: data });
  }
  yield* pack(entries);
}

async function receive(kept: KeptContexts, id: string, files: Record<string, { data: string; at: number }>) {
  const { need, planned } = await kept.plan(id, manifestOf(files));
  const got = await kept.receive(id, body(files, need, planned), await workDir());
  return { ...got, need };
}

/** A whole build of `files` as context `id`: planned, received, and the context closed and released. */
async function build(kept: KeptContexts, id: string, files: Record<string, { data: string; at: number }>) {
  const got = await receive(kept, id, files);
  await got.context.close();
  got.release();
  return got.need;
}

/** The kept contexts under the test root (the same directory in every test: each test has contexts of its own). */
function keptContexts(log?: { warn(m: string): void }, opts?: { planGraceMs?: number }): KeptContexts {
  return new KeptContexts(join(root, 'kept'), records, log, opts);
}

async function workDir(): Promise<string> {
  const dir = join(root, `work-${work++}`);
  await mkdir(dir);
  return dir;
}

async function contentOf(ctx: { dir: string; materialize(name: string): Promise<void> }, name: string) {
  await ctx.materialize(name);
  return readFile(join(ctx.dir, name), 'utf8');
}

test('a daemon gone before a build released its context leaves the previous index, with every segment it names', async () => {
  const id = 'a1'.repeat(8);
  const v1 = { a: { data: 'one', at: 1000 }, b: { data: 'bee', at: 1000 } };
  const kept = keptContexts();
  assert.deepEqual((await build(kept, id, v1)).sort(), ['a', 'b']);
  // a plan waits for the index write the release started
  assert.deepEqual((await kept.plan(id, manifestOf(v1))).need, []);

  // the next build received a change, and the daemon stopped before that build ended: no release, no index write
  const v2 = { ...v1, a: { data: 'two', at: 2000 } };
  const second = await receive(kept, id, v2);
  assert.deepEqual(second.need, ['a']);

  const again = keptContexts();
  const third = await receive(again, id, v2);
  assert.deepEqual(third.need, ['a'], 'the index on disk is the first build’s');
  assert.equal(await contentOf(third.context, 'a'), 'two');
  assert.equal(await contentOf(third.context, 'b'), 'bee', 'a body the first index names is still in its segment');
  await third.context.close();
  third.release();
  assert.deepEqual((await again.plan(id, manifestOf(v2))).need, []);
});

test('two builds of one context: the second receives once the first released it and its index is written', async () => {
  const id = 'b2'.repeat(8);
  const kept = keptContexts();
  const v1 = { a: { data: 'one', at: 1000 } };
  const first = await receive(kept, id, v1);
  const v2 = { a: v1.a, c: { data: 'sea', at: 1000 } };
  let secondIn = false;
  const second = receive(kept, id, v2).then((r) => {
    secondIn = true;
    return r;
  });
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(secondIn, false);
  first.release();
  const s = await second;
  // planned against the first build's index, held in memory while that build ran
  assert.deepEqual(s.need, ['c']);
  assert.equal(await contentOf(s.context, 'a'), 'one');
  assert.equal(await contentOf(s.context, 'c'), 'sea');
  await first.context.close();
  await s.context.close();
  s.release();
  assert.deepEqual((await kept.plan(id, manifestOf(v2))).need, []);
});

test('builder prune right after a build waits for the index write, and leaves nothing of the context', async () => {
  const id = 'c3'.repeat(8);
  const kept = keptContexts();
  const files: Record<string, { data: string; at: number }> = {};
  for (let i = 0; i < 2000; i++) files[`f${i}`] = { data: `file ${i}`, at: 1000 };
  const first = await receive(kept, id, files);
  await first.context.close();
  assert.ok(records.getDir('source.local', id));

  // a removal waits for a build that holds the context
  let removed = false;
  const removal = kept.remove(id).then(() => (removed = true));
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(removed, false);
  // the release starts the index write on a later turn; the removal comes after it
  first.release();
  await removal;
  await turn();
  assert.equal(existsSync(join(root, 'kept', id)), false, 'no index written into the removed directory');
  assert.equal(records.getDir('source.local', id), undefined);
  assert.equal((await kept.plan(id, manifestOf(files))).need.length, 2000);
  assert.deepEqual(
    (await readdir(join(root, 'kept'))).filter((n) => n === id),
    [],
  );
});

test('a plan waiting for its body keeps its context from builder prune; the build it announced finds what it left out', async () => {
  const id = 'd4'.repeat(8);
  const kept = keptContexts();
  const v1 = { a: { data: 'one', at: 1000 }, b: { data: 'bee', at: 1000 } };
  await build(kept, id, v1);
  const v2 = { ...v1, a: { data: 'two', at: 2000 } };
  const plan = await kept.plan(id, manifestOf(v2));
  assert.deepEqual(plan.need, ['a']);
  // builder prune between the plan and its build: the context is in use
  assert.equal(await kept.remove(id), false);
  assert.ok(records.getDir('source.local', id));
  const got = await kept.receive(id, body(v2, plan.need, plan.planned), await workDir());
  assert.equal(await contentOf(got.context, 'a'), 'two');
  assert.equal(await contentOf(got.context, 'b'), 'bee');
  await got.context.close();
  got.release();
  // the token is used: the next prune removes the context
  assert.equal(await kept.remove(id), true);
  assert.equal(existsSync(join(root, 'kept', id)), false);
});

test("a build received between another's plan and its body: that body may not leave out what changed", async () => {
  const id = 'e5'.repeat(8);
  const kept = keptContexts();
  const v1 = { a: { data: 'one', at: 1000 }, b: { data: 'bee', at: 1000 } };
  await build(kept, id, v1);
  // planned against v1: nothing to send
  const late = await kept.plan(id, manifestOf(v1));
  assert.deepEqual(late.need, []);
  // meanwhile another build of the directory sends a longer a
  assert.deepEqual(await build(kept, id, { ...v1, a: { data: 'twotwo', at: 2000 } }), ['a']);
  // the late body leaves a out: its kept bytes are not the ones its manifest describes (a record of them would
  // have read 3 of the 6 bytes kept)
  await assert.rejects(
    kept.receive(id, body(v1, late.need, late.planned), await workDir()),
    /context entry "a" was not sent and its kept copy is not the one described: send it again/,
  );
  // sent whole, it builds
  const again = await kept.plan(id, manifestOf(v1));
  assert.deepEqual(again.need, ['a']);
  const got = await kept.receive(id, body(v1, again.need, again.planned), await workDir());
  assert.equal(await contentOf(got.context, 'a'), 'one');
  await got.context.close();
  got.release();
});

test('a failed index write is logged, and the next build plans from the index on disk and works', async () => {
  const id = 'f6'.repeat(8);
  const warnings: string[] = [];
  const kept = keptContexts({ warn: (m) => warnings.push(m) });
  const v1 = { a: { data: 'one', at: 1000 }, b: { data: 'bee', at: 1000 } };
  await build(kept, id, v1);
  assert.deepEqual((await kept.plan(id, manifestOf(v1))).need, []);
  assert.deepEqual(warnings, []);

  const v2 = { ...v1, a: { data: 'two', at: 2000 } };
  const second = await receive(kept, id, v2);
  // the temporary file's name taken by a directory: the write fails
  const tmp = join(root, 'kept', id, 'index.json.tmp');
  await mkdir(tmp);
  await second.context.close();
  second.release();
  const plan = await kept.plan(id, manifestOf(v2));
  assert.equal(warnings.length, 1, 'one warning');
  assert.match(warnings[0]!, new RegExp(`kept build context .*${id}.*EISDIR`));
  // the index on disk is the first build's: a is sent again, b still comes from its segment
  assert.deepEqual(plan.need, ['a']);
  await rm(tmp, { recursive: true });
  const third = await kept.receive(id, body(v2, plan.need, plan.planned), await workDir());
  assert.equal(await contentOf(third.context, 'a'), 'two');
  assert.equal(await contentOf(third.context, 'b'), 'bee');
  await third.context.close();
  third.release();
  assert.deepEqual((await kept.plan(id, manifestOf(v2))).need, []);

  // no index at all (removed by hand): everything is sent again, and the build works
  await kept.plan(id, manifestOf(v2)); // (waits for the write the release started)
  await rm(join(root, 'kept', id, 'index.json'));
  const fresh = keptContexts();
  const fourth = await receive(fresh, id, v2);
  assert.deepEqual(fourth.need.sort(), ['a', 'b']);
  assert.equal(await contentOf(fourth.context, 'b'), 'bee');
  await fourth.context.close();
  fourth.release();
  assert.equal(warnings.length, 1);
});

test('a plan holds its context from builder prune until the build that claimed it ends; unclaimed, for the grace only', async () => {
  const id = 'a7'.repeat(8);
  const kept = keptContexts(undefined, { planGraceMs: 150 });
  const v1 = { a: { data: 'one', at: 1000 }, b: { data: 'bee', at: 1000 } };
  await build(kept, id, v1);
  const v2 = { ...v1, a: { data: 'two', at: 2000 } };

  // a plan whose client went away before its build request: the context is in use for the grace, then free
  await kept.plan(id, manifestOf(v2));
  assert.equal(await kept.remove(id), false, 'within the grace');
  await sleep(300);
  assert.equal(await kept.remove(id), true, 'past the grace');
  await build(kept, id, v1);

  // a build that claimed its plan waits for another build of the directory, and its client goes away before its
  // body came (abandoned mid-upload): the plan holds past the grace while that build runs, and no longer once its
  // body failed
  const holder = await receive(kept, id, v2);
  const plan = await kept.plan(id, manifestOf(v1));
  const endPlan = kept.claim(id, plan.planned);
  const abandoned = kept.receive(id, cutBody(), await workDir(), { endPlan });
  await sleep(300);
  // a prune now waits for the builds that hold the context, and removes it once the abandoned one ended
  const removal = kept.remove(id);
  await holder.context.close();
  holder.release();
  await assert.rejects(abandoned, /the client went away/);
  assert.equal(await removal, true, "the abandoned build's plan held the context no longer");
  assert.equal(existsSync(join(root, 'kept', id)), false);
  assert.equal(records.getDir('source.local', id), undefined);

  // claimed and ended without a body (the build failed before it read one): free at once, within the grace
  const late = await kept.plan(id, manifestOf(v1));
  const end = kept.claim(id, late.planned);
  assert.equal(await kept.remove(id), false);
  end();
  assert.equal(await kept.remove(id), true);
});

test('a claimed plan holds its context past the grace until its build ends, body or none; another context cannot claim it', async () => {
  const id = 'a8'.repeat(8);
  const kept = keptContexts(undefined, { planGraceMs: 100 });
  const v1 = { a: { data: 'one', at: 1000 } };
  await build(kept, id, v1);
  const plan = await kept.plan(id, manifestOf(v1));
  // a token named with another context's id is not claimed: it holds for the grace only
  kept.claim('b8'.repeat(8), plan.planned)();
  const end = kept.claim(id, plan.planned);
  // its build has not read the body yet (waiting for a slot, or for its client): no lock is held, only the plan
  await sleep(250);
  assert.equal(await kept.remove(id), false, 'the claimed plan holds past the grace');
  end();
  assert.equal(await kept.remove(id), true, 'and no longer once its build ended');
});

/** A body whose client went away before its first byte. */
async function* cutBody(): AsyncGenerator<Uint8Array> {
  yield* [];
  throw new Error('the client went away');
}
