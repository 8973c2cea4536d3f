import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ImageDeleteItem } from '../engine-api/images.ts';
import { parseReference } from '../oci/reference.ts';
import { InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { Tags } from './tags.ts';
import { makeImage, type TestEngine, testEngine } from './testkit.ts';

let e: TestEngine;
let tags: Tags;
const events: string[] = [];
before(async () => {
  e = await testEngine();
  tags = new Tags({ records: e.images.records, events: e.events });
  e.events.subscribe((ev) => events.push(`${ev.Action} ${ev.Actor.Attributes.name}`));
});
after(() => e.cleanup());

const file = (name: string, text: string) => ({ header: { name }, body: Buffer.from(text) });

test('tag, untag and the history they leave, with whether each version is still stored', async () => {
  const v1 = await makeImage(e.content, [[file('v', '1')]]);
  const v2 = await makeImage(e.content, [[file('v', '2')]]);
  const r1 = (await e.images.register(v1.desc)).record;
  const r2 = (await e.images.register(v2.desc)).record;
  events.length = 0;
  tags.tag(r1, 'app');
  tags.tag(r1, 'app:latest');
  tags.tag(r2, 'docker.io/library/app:latest');
  assert.deepEqual(events, ['tag app:latest', 'tag app:latest'], 'a tag already there is no event');
  assert.throws(() => tags.tag(r1, `app@${v1.desc.digest}`), InvalidArgumentError);
  const out: ImageDeleteItem[] = [];
  tags.untag('docker.io/library/app:latest', r2, out);
  tags.untag('docker.io/library/app:latest', r2, out);
  assert.deepEqual(out, [{ Untagged: 'app:latest' }], 'untagging twice reports once');
  await e.images.remove(v1.configDigest, { force: true });
  const h = tags.history('app');
  assert.deepEqual(
    h.map((x) => [x.action, x.manifestDigest, x.exists]),
    [
      ['untag', null, false],
      ['tag', v2.desc.digest, true],
      ['tag', v1.desc.digest, false],
    ],
  );
  assert.throws(
    () => tags.history('never:tagged'),
    (err: Error) => err instanceof NotFoundError && /never:tagged/.test(err.message),
  );
});

test('rollback walks back through tagged versions, skips deleted ones, and refuses a digest reference', async () => {
  const vs: Awaited<ReturnType<typeof makeImage>>[] = [];
  for (const n of ['a', 'b', 'c']) {
    const v = await makeImage(e.content, [[file('w', n)]]);
    await e.images.register(v.desc, { tags: [parseReference('web:1')] });
    vs.push(v);
  }
  // The middle version, untagged and kept only by history: removing it by ID deletes it.
  await e.images.remove(vs[1]!.configDigest);
  assert.equal(e.images.records.get(vs[1]!.desc.digest), undefined);
  const r = tags.rollback('web:1');
  assert.deepEqual(r, { name: 'web:1', from: vs[2]!.desc.digest, to: vs[0]!.desc.digest });
  assert.equal(e.images.resolve('web:1').manifestDigest, vs[0]!.desc.digest);
  assert.deepEqual(tags.rollback('web:1', vs[0]!.configDigest), {
    name: 'web:1',
    from: vs[0]!.desc.digest,
    to: vs[0]!.desc.digest,
  });
  assert.throws(() => tags.rollback(`web@${vs[0]!.desc.digest}`), InvalidArgumentError);
  assert.throws(() => tags.rollback('web:1', vs[1]!.configDigest), /has been deleted/);
});
