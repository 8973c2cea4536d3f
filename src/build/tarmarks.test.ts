import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { pack, type PackEntry, TarPacker } from '../util/tar/index.ts';
import { entryId, MarkedHash, type TarMarks } from './tarmarks.ts';

/** A COPY-like list: directories, files of 300 KiB (several marks' worth) and small ones, a symbolic link. */
function tree(): { entries: PackEntry[]; records: Map<string, string>; bodies: Map<string, Buffer> } {
  const entries: PackEntry[] = [{ header: { name: 'app/', type: 'directory', mode: 0o755, mtime: 1000 } }];
  const records = new Map<string, string>();
  const bodies = new Map<string, Buffer>();
  for (let d = 0; d < 4; d++) {
    entries.push({ header: { name: `app/d${d}/`, type: 'directory', mode: 0o755, mtime: 1000 + d } });
    for (let f = 0; f < 10; f++) {
      const name = `app/d${d}/f${f}`;
      const body = randomFillSync(Buffer.alloc(f % 3 === 0 ? 700 : 300 << 10));
      bodies.set(name, body);
      records.set(name, `${createHash('sha256').update(body).digest('hex')} 420 0 0 2000 ${body.length}`);
      entries.push({ header: { name, type: 'file', mode: 0o644, mtime: 2000, size: body.length } });
    }
  }
  entries.push({ header: { name: 'app/link', type: 'symlink', linkname: 'd0/f0', mode: 0o777, mtime: 3000 } });
  return { entries, records, bodies };
}

function withBody(e: PackEntry, bodies: Map<string, Buffer>): PackEntry {
  const body = bodies.get(e.header.name);
  return body ? { header: e.header, body } : { header: e.header };
}

async function whole(entries: PackEntry[], bodies: Map<string, Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of pack(entries.map((e) => withBody(e, bodies)))) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

async function marked(
  entries: PackEntry[],
  records: Map<string, string>,
  bodies: Map<string, Buffer>,
  prev: TarMarks | undefined,
): Promise<{ digest: string; marks: TarMarks; start: number; size: number }> {
  const ids = entries.map((e) => entryId(e, records));
  const h = MarkedHash.resume(prev, ids);
  const rest = entries.slice(h.start).map((e) => withBody(e, bodies));
  for await (const c of pack(h.entries(rest))) h.update(c);
  const start = h.start;
  const size = h.size;
  return { ...h.digest(), start, size };
}

/** `marked`, packed one entry at a time as linked.ts does (`enter` before each head, bodies passed on). */
function markedInLoop(
  entries: PackEntry[],
  records: Map<string, string>,
  bodies: Map<string, Buffer>,
  prev: TarMarks | undefined,
): { digest: string; marks: TarMarks; start: number; size: number } {
  const h = MarkedHash.resume(
    prev,
    entries.map((e) => entryId(e, records)),
  );
  const packer = new TarPacker();
  for (const e of entries.slice(h.start)) {
    h.enter(e);
    const given = withBody(e, bodies);
    const { head, inline } = packer.head(given);
    h.update(head);
    if (!inline) h.update(given.body as Buffer);
  }
  h.update(packer.end());
  return { ...h.digest(), start: h.start, size: h.size };
}

describe('tar hash marks', () => {
  it('packed one entry at a time, the hash and its marks are those of pack(), and either resumes from the other', async () => {
    const t = tree();
    const a = await marked(t.entries, t.records, t.bodies, undefined);
    const b = markedInLoop(t.entries, t.records, t.bodies, undefined);
    assert.equal(b.digest, a.digest);
    assert.deepEqual(
      b.marks.marks.map((m) => [m.index, m.size]),
      a.marks.marks.map((m) => [m.index, m.size]),
    );
    const name = 'app/d3/f2';
    const body = Buffer.from('changed again\n');
    t.bodies.set(name, body);
    t.records.set(name, `${createHash('sha256').update(body).digest('hex')} 420 0 0 2002 ${body.length}`);
    const i = t.entries.findIndex((e) => e.header.name === name);
    t.entries[i] = { header: { ...t.entries[i]!.header, size: body.length, mtime: 2002 } };
    const fromPack = markedInLoop(t.entries, t.records, t.bodies, a.marks);
    const fromLoop = await marked(t.entries, t.records, t.bodies, b.marks);
    assert.ok(fromPack.start > 0 && fromLoop.start > 0, `resumed at ${fromPack.start} and ${fromLoop.start}`);
    assert.equal(fromPack.digest, await whole(t.entries, t.bodies));
    assert.equal(fromLoop.digest, fromPack.digest);
  });

  it('a fresh hash is the tar digest, and resuming after a change in the middle gives the whole hash', async () => {
    const t = tree();
    const first = await marked(t.entries, t.records, t.bodies, undefined);
    assert.equal(first.digest, await whole(t.entries, t.bodies));
    assert.equal(first.start, 0);
    assert.ok(first.marks.marks.length >= 3, `marks every 2 MiB: ${first.marks.marks.length}`);
    // one file changed (content and size) in the third directory
    const name = 'app/d2/f4';
    const body = Buffer.from('changed\n');
    t.bodies.set(name, body);
    t.records.set(name, `${createHash('sha256').update(body).digest('hex')} 420 0 0 2001 ${body.length}`);
    const i = t.entries.findIndex((e) => e.header.name === name);
    t.entries[i] = { header: { ...t.entries[i]!.header, size: body.length, mtime: 2001 } };
    const second = await marked(t.entries, t.records, t.bodies, first.marks);
    assert.ok(second.start > 0 && second.start <= i, `resumed at entry ${second.start}, the change is at ${i}`);
    assert.equal(second.digest, await whole(t.entries, t.bodies));
    // and again from the second's marks, with nothing changed: the same digest, resumed near the end
    const third = await marked(t.entries, t.records, t.bodies, second.marks);
    assert.equal(third.digest, second.digest);
    assert.ok(third.start > i, `resumed at ${third.start}`);
    assert.equal(third.size, second.size);
  });

  it('a changed first entry, a file without a record, or a longer list hash as a fresh tar', async () => {
    const t = tree();
    const first = await marked(t.entries, t.records, t.bodies, undefined);
    const moved = [{ header: { ...t.entries[0]!.header, mtime: 1001 } }, ...t.entries.slice(1)];
    const a = await marked(moved, t.records, t.bodies, first.marks);
    assert.equal(a.start, 0);
    assert.equal(a.digest, await whole(moved, t.bodies));
    const unknown = new Map(t.records);
    unknown.delete('app/d0/f1');
    const b = await marked(t.entries, unknown, t.bodies, first.marks);
    assert.ok(b.start <= 3, `resumed at ${b.start}`);
    assert.equal(b.digest, first.digest);
    const added: PackEntry[] = [...t.entries, { header: { name: 'app/z', type: 'file', size: 3, mtime: 5 } }];
    t.bodies.set('app/z', Buffer.from('zzz'));
    t.records.set('app/z', 'zsum 420 0 0 5 3');
    const c = await marked(added, t.records, t.bodies, first.marks);
    assert.equal(c.digest, await whole(added, t.bodies));
  });
});
