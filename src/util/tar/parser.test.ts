import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataLossError } from '../errors.ts';
import { encodePaxRecords } from './format.ts';
import { TarParser } from './parser.ts';
import {
  END,
  chunked,
  gnuTar,
  makeFixtureTree,
  rawEntry,
  rawHeader,
  readAll,
  sh,
  tempDir,
  type ReadEntry,
} from './testkit.ts';

/** Everything the push parser emits for `data` pushed in chunks of `sizes`, or the error it threw. */
function parseAll(data: Buffer, sizes: number[]): { entries: ReadEntry[]; error?: unknown } {
  const entries: ReadEntry[] = [];
  let parts: Buffer[] = [];
  let ended = true;
  const p = new TarParser({
    entry(header) {
      assert.ok(ended, 'entryEnd came before the next entry');
      ended = false;
      parts = [];
      entries.push({ header, data: Buffer.alloc(0) });
    },
    data(piece) {
      parts.push(Buffer.from(piece)); // a copy: the piece is valid only during the call
    },
    entryEnd() {
      ended = true;
      entries.at(-1)!.data = Buffer.concat(parts);
    },
  });
  try {
    let i = 0;
    for (let off = 0; off < data.length; i++) {
      const n = sizes[i % sizes.length]!;
      p.push(data.subarray(off, off + n));
      off += n;
    }
    p.end();
    assert.equal(p.offset, data.length);
    return { entries };
  } catch (error) {
    return { entries, error };
  }
}

/** `extract()`'s outcome for the same input: entries read in full, or the error. */
async function extractAll(data: Buffer): Promise<{ entries: ReadEntry[]; error?: unknown }> {
  try {
    return { entries: await readAll(chunked(data, [data.length || 1])) };
  } catch (error) {
    return { entries: [], error };
  }
}

/** The push parser and extract() agree: the same entries, or the same error class and message. */
async function agree(data: Buffer, sizes: number[], what: string): Promise<void> {
  const want = await extractAll(data);
  const got = parseAll(data, sizes);
  if (want.error !== undefined) {
    assert.ok(got.error !== undefined, `${what}: extract() failed with ${String(want.error)}, the parser did not`);
    assert.equal((got.error as Error).constructor, (want.error as Error).constructor, what);
    assert.equal((got.error as Error).message, (want.error as Error).message, what);
    return;
  }
  assert.equal(got.error, undefined, `${what}: ${String(got.error)}`);
  assert.deepEqual(
    got.entries.map((e) => e.header),
    want.entries.map((e) => e.header),
    what,
  );
  assert.deepEqual(
    got.entries.map((e) => e.data),
    want.entries.map((e) => e.data),
    what,
  );
}

test('the push parser reads what extract() reads from GNU tar archives of every format, in any chunking', async (t) => {
  const dir = tempDir(t);
  for (const format of ['pax', 'gnu', 'ustar', 'v7']) {
    const root = join(dir, `root-${format}`);
    makeFixtureTree(root, {
      devices: format !== 'v7',
      longNames: format === 'pax' || format === 'gnu',
      splitName: format !== 'v7',
      bigIds: format === 'pax' || format === 'gnu',
      xattrs: format === 'pax',
    });
    const archive = join(dir, `${format}.tar`);
    gnuTar([`--format=${format}`, ...(format === 'pax' ? ['--xattrs'] : []), '-C', root, '-cf', archive, '.']);
    const data = readFileSync(archive);
    for (const sizes of [[data.length], [1], [511, 513], [4099], [100, 7, 2048]])
      await agree(data, sizes, `${format} in chunks of ${sizes.join(',')}`);
  }
});

test('cut at every offset, the push parser fails or succeeds as extract() does, with the same message', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'a'), 'x'.repeat(1500));
  writeFileSync(join(root, 'n'.repeat(130)), 'long\n');
  writeFileSync(join(root, 'exact'), Buffer.alloc(1024, 7));
  sh('setfattr', ['-n', 'user.k', '-v', 'v', join(root, 'a')]);
  for (const format of ['pax', 'gnu']) {
    const archive = join(dir, `${format}.tar`);
    gnuTar([`--format=${format}`, '--xattrs', '-C', root, '-cf', archive, 'a', 'n'.repeat(130), 'exact']);
    const data = readFileSync(archive);
    let failures = 0;
    for (let cut = 0; cut <= Math.min(data.length, 6000); cut++) {
      const input = data.subarray(0, cut);
      await agree(input, [cut % 2 === 0 ? 511 : 97, 1024], `${format} cut at ${cut}`);
      if (parseAll(input, [cut || 1]).error instanceof DataLossError) failures++;
    }
    assert.ok(failures > 1000, `${format}: ${failures} cuts failed`);
  }
});

test('malformed input: checksums, extended headers, unknown types, end markers and trailing bytes', async () => {
  const one = rawEntry({ name: 'f', flag: '0' }, Buffer.from('data'));
  const flipped = Buffer.from(one);
  flipped[3] = flipped[3]! ^ 1;
  const pax = (records: Array<[string, string]>, then: Buffer) => {
    const body = encodePaxRecords(records);
    return Buffer.concat([rawEntry({ name: 'PaxHeaders/x', flag: 'x' }, body), then]);
  };
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one zero block', Buffer.alloc(512)],
    ['no end marker', one],
    ['bytes after the marker', Buffer.concat([one, END, Buffer.from('garbage'.repeat(300))])],
    ['an entry after the first zero block', Buffer.concat([one, Buffer.alloc(512), one, END])],
    ['a flipped header byte', Buffer.concat([one, flipped, END])],
    ['an unknown type', Buffer.concat([rawEntry({ name: 'v', flag: 'V' }), END])],
    ['a GNU sparse file', Buffer.concat([rawEntry({ name: 's', flag: 'S', magic: 'gnu' }), END])],
    [
      'PAX path and size',
      pax(
        [
          ['path', 'long/name'],
          ['size', '3'],
        ],
        Buffer.concat([rawHeader({ name: 'x', flag: '0' }), Buffer.from('abc'), Buffer.alloc(509), END]),
      ),
    ],
    ['a PAX record without =', pax([['path', 'x']], END).fill(0x20, 512, 520)],
    ['an extended header then the end marker', pax([['path', 'x']], END)],
    ['an extended header then nothing', pax([['path', 'x']], Buffer.alloc(0))],
    ['a v7 directory', Buffer.concat([rawEntry({ name: 'd/', flag: '\0', magic: 'v7' }), END])],
    ['an oversized extended header', rawHeader({ name: 'big', flag: 'x', size: 2 << 20 })],
  ];
  for (const [what, data] of cases)
    for (const sizes of [[data.length || 1], [1], [300]]) await agree(data, sizes, what);
});
