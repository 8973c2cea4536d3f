/**
 * The snapshot records' part of the conformance suite (snapshotter.suite.ts runs it for every snapshotter): stat,
 * walk, commit, remove and their errors, and commitAll's all-or-none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import type { SuiteContext } from './snapshotter.suite.ts';

export function recordTests(ctx: () => SuiteContext): void {
  test('stat, walk, commit, remove and their errors', async () => {
    const s = ctx().snapshotter;
    await assert.rejects(
      s.stat('nope'),
      (err: Error) => err instanceof NotFoundError && err.message === 'snapshot "nope" not found',
    );
    await s.prepare('sem-a', undefined, { labels: { l: 'v' } });
    const before = Date.now();
    const info = await s.stat('sem-a');
    assert.deepEqual(
      { ...info, created: 0 },
      { key: 'sem-a', parent: null, kind: 'active', created: 0, labels: { l: 'v' } },
    );
    assert.ok(info.created <= before && info.created > before - 60_000);
    await assert.rejects(s.prepare('sem-a'), AlreadyExistsError);
    await assert.rejects(s.prepare('sem-b', 'missing'), NotFoundError);
    await assert.rejects(s.prepare('sem-b', 'sem-a'), InvalidArgumentError, 'an active parent');
    await assert.rejects(s.commit('sem-c', 'missing'), NotFoundError);
    await s.commit('sem-c', 'sem-a');
    await assert.rejects(s.stat('sem-a'), NotFoundError);
    assert.equal((await s.stat('sem-c')).kind, 'committed');
    await assert.rejects(s.commit('sem-d', 'sem-c'), FailedPreconditionError, 'committing a committed one');
    await assert.rejects(s.mounts('sem-c'), FailedPreconditionError);
    await s.prepare('sem-e', 'sem-c');
    await assert.rejects(s.commit('sem-c', 'sem-e'), AlreadyExistsError);
    await s.view('sem-v', 'sem-c');
    assert.equal((await s.stat('sem-v')).kind, 'view');
    await assert.rejects(s.commit('sem-vc', 'sem-v'), FailedPreconditionError, 'views are never committed');
    await assert.rejects(s.applyLayer('sem-v', extract(pack([]))), FailedPreconditionError);

    const walked = new Map<string, { parent: string | null; kind: string }>();
    for await (const i of s.walk()) walked.set(i.key, { parent: i.parent, kind: i.kind });
    assert.deepEqual(walked.get('sem-c'), { parent: null, kind: 'committed' });
    assert.deepEqual(walked.get('sem-e'), { parent: 'sem-c', kind: 'active' });
    assert.deepEqual(walked.get('sem-v'), { parent: 'sem-c', kind: 'view' });

    await assert.rejects(
      s.remove('sem-c'),
      (err: Error) => err instanceof FailedPreconditionError && /sem-e/.test(err.message),
    );
    await s.remove('sem-e');
    await s.remove('sem-v');
    await s.remove('sem-c');
    await assert.rejects(s.remove('sem-c'), NotFoundError);
    await assert.rejects(s.usage('sem-c'), NotFoundError);
    for await (const i of s.walk()) assert.ok(!i.key.startsWith('sem-'), `${i.key} was removed`);
  });

  test('commitAll commits several in order as one change: a failure in any leaves none committed', async () => {
    const s = ctx().snapshotter;
    await s.prepare('all-a');
    await s.prepare('all-b');
    // The second fails (its parent is the first's new name, but the third's key is missing): none is committed.
    const independent = s.layersIndependent;
    const seen: number[] = [];
    await assert.rejects(
      s.commitAll(
        [
          { name: 'all-1', key: 'all-a' },
          { name: 'all-2', key: 'all-b', ...(independent ? { parent: 'all-1' } : {}) },
          { name: 'all-3', key: 'all-missing' },
        ],
        (i) => seen.push(i),
      ),
      NotFoundError,
    );
    assert.deepEqual(seen, [0, 1]);
    assert.equal((await s.stat('all-a')).kind, 'active');
    assert.equal((await s.stat('all-b')).kind, 'active');
    await assert.rejects(s.stat('all-1'), NotFoundError);
    // A failure of `each` undoes the commits too.
    await assert.rejects(
      s.commitAll([{ name: 'all-1', key: 'all-a' }], () => {
        throw new Error('each failed');
      }),
      /each failed/,
    );
    assert.equal((await s.stat('all-a')).kind, 'active');
    await s.commitAll([
      { name: 'all-1', key: 'all-a' },
      { name: 'all-2', key: 'all-b', ...(independent ? { parent: 'all-1' } : {}) },
    ]);
    assert.equal((await s.stat('all-1')).kind, 'committed');
    assert.deepEqual(await s.stat('all-2').then((i) => [i.kind, i.parent]), [
      'committed',
      independent ? 'all-1' : null,
    ]);
    await s.remove('all-2');
    await s.remove('all-1');
  });
}
