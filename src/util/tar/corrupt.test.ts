import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync, truncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CanceledError, DataLossError, InvalidArgumentError } from '../errors.ts';
import { extract } from './extract.ts';
import { encodePaxRecords } from './format.ts';
import { END, chunked, gnuTar, packToBuffer, rawEntry, rawHeader, readAll, sh, tempDir } from './testkit.ts';

/** Offsets at which the input may end cleanly: where a header chain starts, and from the end marker on. */
function cleanCutOffsets(archive: Buffer): { clean: Set<number>; end: number } {
  const clean = new Set<number>();
  let pending = false;
  let off = 0;
  while (off + 512 <= archive.length) {
    const block = archive.subarray(off, off + 512);
    if (block.every((b) => b === 0)) return { clean, end: off };
    if (!pending) clean.add(off);
    const flag = String.fromCharCode(block[156]!);
    const size = parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    const hasBody = flag === '0' || flag === '\0' || flag === '7' || 'xgLK'.includes(flag);
    pending = 'xLK'.includes(flag) ? true : flag === 'g' ? pending : false;
    off += 512 + (hasBody ? Math.ceil(size / 512) * 512 : 0);
  }
  return { clean, end: off };
}

async function archiveForCuts(t: Parameters<typeof tempDir>[0], format: string): Promise<Buffer> {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'a'), 'x'.repeat(1500)); // three blocks, the last one padded
  writeFileSync(join(root, 'n'.repeat(130)), 'long\n'); // PAX path or GNU 'L'
  writeFileSync(join(root, 'exact'), Buffer.alloc(1024, 7));
  sh('setfattr', ['-n', 'user.k', '-v', 'v', join(root, 'a')]);
  const archive = join(dir, 'a.tar');
  gnuTar([`--format=${format}`, '--xattrs', '-C', root, '-cf', archive, 'a', 'n'.repeat(130), 'exact']);
  return readFileSync(archive);
}

for (const format of ['pax', 'gnu']) {
  test(`input cut at every offset of a --format=${format} archive: DataLossError unless at a clean boundary`, async (t) => {
    const archive = await archiveForCuts(t, format);
    const full = await readAll(chunked(archive));
    const names = full.map((e) => e.header.name);
    assert.equal(names.length, 3);
    const { clean, end } = cleanCutOffsets(archive);
    assert.ok(clean.size >= 3 && end < archive.length);
    let errors = 0;
    for (let cut = 0; cut < end + 700; cut++) {
      const input = chunked(archive.subarray(0, cut), [cut % 2 === 0 ? 511 : 97, 1024]);
      if (clean.has(cut) || cut >= end) {
        const got = await readAll(input);
        assert.deepEqual(
          got.map((e) => e.header.name),
          names.slice(0, got.length),
          `cut at ${cut}`,
        );
        assert.equal(got.length, cut >= end ? 3 : [...clean].filter((o) => o < cut).length, `cut at ${cut}`);
      } else {
        await assert.rejects(
          readAll(input),
          (err: unknown) =>
            err instanceof DataLossError && /^unexpected end of tar archive at offset \d+: /.test(err.message),
          `cut at ${cut}`,
        );
        errors++;
      }
    }
    assert.ok(errors > end - 4 * 512);
  });
}

test('a flipped header byte is a checksum error naming the header offset', async (t) => {
  const archive = await archiveForCuts(t, 'pax');
  const { clean } = cleanCutOffsets(archive);
  for (const header of [...clean].slice(0, 2)) {
    for (const at of [0, 50, 100, 124, 148, 150, 156, 257, 300, 500, 511]) {
      const bad = Buffer.from(archive);
      bad[header + at] = bad[header + at]! ^ 0x04;
      await assert.rejects(
        readAll(chunked(bad, [4096])),
        (err: unknown) =>
          err instanceof DataLossError && err.message.startsWith(`tar header checksum mismatch at offset ${header}:`),
        `byte ${at} of the header at ${header}`,
      );
    }
  }
});

test('headers summed as signed bytes (old Sun tar) are accepted', async () => {
  const block = rawHeader({ name: 'caf\xe9', flag: '0', size: 3, patch: [[0, 'caf\xe9']] });
  const signed = [...block].reduce((s, c, i) => s + (i >= 148 && i < 156 ? 0x20 : c > 127 ? c - 256 : c), 0);
  block.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const [entry] = await readAll(chunked(Buffer.concat([block, Buffer.from('abc'), Buffer.alloc(509), END])));
  assert.equal(entry!.data.toString(), 'abc');
});

test('empty input, zero blocks, no end marker, and bytes after the marker', async () => {
  assert.deepEqual(await readAll(chunked(Buffer.alloc(0))), []);
  assert.deepEqual(await readAll((async function* () {})()), []);
  assert.deepEqual(await readAll(chunked(Buffer.alloc(512))), []);
  assert.deepEqual(await readAll(chunked(Buffer.alloc(10240))), []);
  const one = rawEntry({ name: 'f', flag: '0' }, Buffer.from('data'));
  const names = async (b: Buffer): Promise<string[]> => (await readAll(chunked(b, [100]))).map((e) => e.header.name);
  assert.deepEqual(await names(one), ['f']); // no marker at all
  assert.deepEqual(await names(Buffer.concat([one, Buffer.alloc(512)])), ['f']); // one zero block
  // GNU tar stops at the first zero block, so what follows it is not read as entries
  assert.deepEqual(await names(Buffer.concat([one, Buffer.alloc(512), one, END])), ['f']);

  let pulled = 0;
  const trailing = Buffer.concat([one, END, Buffer.from('garbage that is not a tar header'.repeat(100))]);
  async function* counting(): AsyncGenerator<Uint8Array> {
    for await (const c of chunked(trailing, [700])) {
      pulled += c.length;
      yield c;
    }
  }
  assert.deepEqual(
    (await readAll(counting())).map((e) => e.header.name),
    ['f'],
  );
  assert.equal(pulled, trailing.length, 'the source is read to its end');
});

test('GNU sparse files are refused, in old GNU and in PAX form', async (t) => {
  const dir = tempDir(t);
  const sparse = join(dir, 'sparse');
  writeFileSync(sparse, 'head');
  truncateSync(sparse, 1 << 20);
  for (const format of ['gnu', 'pax']) {
    const archive = join(dir, `${format}.tar`);
    gnuTar([`--format=${format}`, '--sparse', '-C', dir, '-cf', archive, 'sparse']);
    await assert.rejects(readAll(createReadStream(archive)), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(
        err.message,
        /^unsupported tar entry type "S" for "[^"]*sparse": GNU sparse files are not supported/,
      );
      return true;
    });
  }
});

test('unknown entry types are refused with their flag and name', async () => {
  for (const flag of ['Z', 'V', 'D', '8']) {
    await assert.rejects(
      readAll(chunked(Buffer.concat([rawEntry({ name: 'thing', flag }), END]))),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.message.startsWith(`unsupported tar entry type "${flag}" for "thing"`),
    );
  }
});

test('old-style headers: v7 "\\0" type with a trailing slash is a directory; non-files have no body', async () => {
  const archive = Buffer.concat([
    rawEntry({ name: 'dir/', flag: '\0', magic: 'v7', mode: 0o40755 }),
    rawEntry({ name: 'file', flag: '\0', magic: 'v7' }, Buffer.from('v7 body')),
    rawEntry({ name: 'gnu', flag: '0', magic: 'gnu', uname: 'someone' }, Buffer.from('g')),
    // a symlink whose size field is not zero: header only, as in Go's archive/tar
    rawHeader({ name: 'sym', flag: '2', size: 5, patch: [[157, 'target']] }),
    rawEntry({ name: 'after', flag: '0' }, Buffer.from('z')),
    END,
  ]);
  const entries = await readAll(chunked(archive, [333]));
  assert.deepEqual(
    entries.map((e) => [e.header.name, e.header.type, e.header.mode, e.header.size, e.header.uname, e.data.toString()]),
    [
      ['dir/', 'directory', 0o755, 0, '', ''],
      ['file', 'file', 0o644, 7, '', 'v7 body'],
      ['gnu', 'file', 0o644, 1, 'someone', 'g'],
      ['sym', 'symlink', 0o644, 0, '', ''],
      ['after', 'file', 0o644, 1, '', 'z'],
    ],
  );
  assert.equal(entries[3]!.header.linkname, 'target');
});

test('PAX: global records apply until changed; an empty local value removes a record', async () => {
  const pax = (flag: string, records: Array<[string, string]>): Buffer => {
    const data = encodePaxRecords(records);
    return rawEntry({ name: 'PaxHeaders/x', flag }, data);
  };
  const archive = Buffer.concat([
    pax('g', [
      ['comment', 'global'],
      ['uname', 'everyone'],
      ['mtime', '1.5'],
    ]),
    rawEntry({ name: 'one', flag: '0', uname: 'own' }),
    pax('x', [
      ['uname', ''],
      ['path', 'renamed'],
      ['LIBARCHIVE.xattr.user.a%3Db', Buffer.from([0, 255]).toString('base64')],
    ]),
    rawEntry({ name: 'two', flag: '0', uname: 'own' }),
    pax('g', [['comment', '']]),
    rawEntry({ name: 'three', flag: '0' }),
    END,
  ]);
  const [one, two, three] = (await readAll(chunked(archive))).map((e) => e.header);
  assert.deepEqual(
    [one!.name, one!.uname, one!.mtime, one!.pax],
    ['one', 'everyone', 1.5, { comment: 'global', uname: 'everyone', mtime: '1.5' }],
  );
  assert.deepEqual([two!.name, two!.uname, two!.mtime], ['renamed', 'own', 1.5]);
  assert.equal(two!.pax.uname, undefined);
  assert.deepEqual(two!.xattrs, new Map([['user.a=b', Buffer.from([0, 255])]]));
  assert.deepEqual(three!.pax, { uname: 'everyone', mtime: '1.5' });
});

test('malformed or oversized extended headers are refused', async () => {
  const bad = Buffer.concat([
    rawEntry({ name: 'x', flag: 'x' }, Buffer.from('13 path=abc\n')),
    rawEntry({ name: 'f', flag: '0' }),
    END,
  ]);
  await assert.rejects(
    readAll(chunked(bad)),
    (err: unknown) => err instanceof DataLossError && /invalid PAX extended header at offset 0/.test(err.message),
  );
  const huge = Buffer.concat([rawHeader({ name: 'x', flag: 'x', size: 2 << 20 }), Buffer.alloc(1024)]);
  await assert.rejects(
    readAll(chunked(huge)),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /2097152 bytes, more than the 1048576-byte limit/.test(err.message),
  );
  const dangling = Buffer.concat([rawEntry({ name: 'x', flag: 'x' }, Buffer.from('9 path=a\n')), END]);
  await assert.rejects(readAll(chunked(dangling)), DataLossError);
  const badNumber = rawHeader({ name: 'f', flag: '0', patch: [[124, '0000000009z\0']] });
  await assert.rejects(
    readAll(chunked(Buffer.concat([badNumber, END]))),
    /invalid size field "0000000009z\\u0000" in the tar header at offset 0/,
  );
});

test('bodies: skipped, half read, read out of turn, and next() called without waiting', async () => {
  const archive = await packToBuffer([
    { header: { name: 'a' }, body: Buffer.alloc(100_000, 1) },
    { header: { name: 'b' }, body: Buffer.alloc(3000, 2) },
    { header: { name: 'c' }, body: Buffer.from('ccc') },
  ]);
  const it = extract(chunked(archive, [4096]));
  const a = (await it.next()).value!;
  const first = await a.body[Symbol.asyncIterator]().next();
  assert.equal(first.value?.length, 4096 - 512); // the rest of the first chunk after the header
  const b = (await it.next()).value!; // the rest of a is skipped
  const reader = b.body[Symbol.asyncIterator]();
  const [r1, r2, r3] = await Promise.all([reader.next(), reader.next(), reader.next()]);
  assert.deepEqual(Buffer.concat([r1.value ?? Buffer.alloc(0), r2.value ?? Buffer.alloc(0)]), Buffer.alloc(3000, 2));
  assert.equal(r3.done, true);
  const c = (await it.next()).value!;
  await assert.rejects(
    a.body[Symbol.asyncIterator]().next(),
    /the body of tar entry "a" was read after moving to the next entry/,
  );
  let text = '';
  for await (const chunk of c.body) text += chunk.toString();
  assert.equal(text, 'ccc');
  assert.equal((await it.next()).done, true);
});

test('a 1 MiB body arrives as subarrays of the source chunks, not copies', async () => {
  const body = Buffer.alloc(1 << 20, 9);
  const archive = await packToBuffer([{ header: { name: 'big' }, body }]);
  const chunks = [archive.subarray(0, 512 + 65536), archive.subarray(512 + 65536)];
  for await (const e of extract(
    (async function* () {
      yield* chunks;
    })(),
  )) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.buffer, chunks[0]!.buffer);
    assert.equal(parts[0]!.byteOffset, chunks[0]!.byteOffset + 512);
    assert.equal(parts[1]!.buffer, chunks[1]!.buffer);
  }
});

test('leaving the loop early closes the source', async () => {
  let closed = false;
  const archive = await packToBuffer([{ header: { name: 'a' }, body: Buffer.alloc(10) }, { header: { name: 'b' } }]);
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      yield* chunked(archive, [512]);
    } finally {
      closed = true;
    }
  }
  for await (const e of extract(source())) if (e.header.name === 'a') break;
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(closed);
});

test('abort: CanceledError mid-body, and at once while the source is stuck', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.tar');
  writeFileSync(file, await packToBuffer([{ header: { name: 'a' }, body: Buffer.alloc(1 << 20) }]));
  const ac = new AbortController();
  const stream = createReadStream(file, { highWaterMark: 4096 });
  let chunks = 0;
  await assert.rejects(
    (async () => {
      for await (const e of extract(stream, { signal: ac.signal })) {
        for await (const _ of e.body) if (++chunks === 5) ac.abort();
      }
    })(),
    CanceledError,
  );
  assert.equal(chunks, 5);
  for (let i = 0; i < 100 && !stream.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(stream.destroyed, 'the source stream is stopped');

  const stuck = new AbortController();
  async function* never(): AsyncGenerator<Uint8Array> {
    yield rawHeader({ name: 'f', flag: '0', size: 10 });
    await new Promise(() => {});
  }
  const started = Date.now();
  setTimeout(() => stuck.abort(), 20);
  await assert.rejects(readAll(never(), stuck.signal), CanceledError);
  assert.ok(Date.now() - started < 2000);
  const already = AbortSignal.abort();
  await assert.rejects(readAll(chunked(END), already), CanceledError);
});

test('endInPadding: input ending in the padding after a whole body ends the archive; a cut body still fails', async () => {
  const whole = Buffer.concat([
    rawEntry({ name: 'a', flag: '0' }, Buffer.from('one')),
    rawEntry({ name: 'b', flag: '0' }, Buffer.from('two')),
  ]);
  const cut = whole.subarray(0, whole.length - 509);
  await assert.rejects(readAll(chunked(cut)), DataLossError);
  const names: string[] = [];
  for await (const e of extract(chunked(cut), { endInPadding: true })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    names.push(`${e.header.name}=${Buffer.concat(parts).toString()}`);
  }
  assert.deepEqual(names, ['a=one', 'b=two']);
  const inBody = whole.subarray(0, whole.length - 511);
  await assert.rejects(async () => {
    for await (const e of extract(chunked(inBody), { endInPadding: true })) for await (const _ of e.body);
  }, DataLossError);
});
