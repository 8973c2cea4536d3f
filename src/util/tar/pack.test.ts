import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CanceledError, InvalidArgumentError } from '../errors.ts';
import { extract } from './extract.ts';
import { pack, TarPacker } from './pack.ts';
import {
  BINARY_XATTR,
  CAPABILITY,
  chunked,
  gnuTar,
  major,
  makeFixtureTree,
  minor,
  packToBuffer,
  readAll,
  readXattrs,
  sha256hex,
  tempDir,
  walk,
} from './testkit.ts';
import type { PackEntry, TarEntryType } from './types.ts';

const BIG = randomBytes(3 * 1024 * 1024 + 17);
const LONG_DIR = 'x'.repeat(150);
const LONG_NAME = `${LONG_DIR}/${'y'.repeat(150)}`;
const UNICODE = 'ünïcødé-名前.txt';

function entries(): PackEntry[] {
  return [
    { header: { name: 'dir/', mode: 0o750, uid: 1000, gid: 1001, mtime: 1600000000 } },
    {
      header: { name: 'dir/file.txt', mode: 0o640, uid: 1000, gid: 1001, mtime: 1600000000.5 },
      body: Buffer.from('hello\n'),
    },
    { header: { name: 'setuid-bin', mode: 0o4755, mtime: 1234567890 }, body: new Uint8Array([0x7f, 0x45, 0x4c, 0x46]) },
    { header: { name: 'setgid-dir/', mode: 0o2775 } },
    { header: { name: 'sticky/', mode: 0o1777 } },
    { header: { name: `${LONG_DIR}/`, type: 'directory' } },
    { header: { name: LONG_NAME }, body: Buffer.from('long name\n') },
    { header: { name: UNICODE }, body: Buffer.from('unicode\n') },
    { header: { name: 'symlink', type: 'symlink', linkname: 'dir/file.txt' } },
    { header: { name: 'longsym', type: 'symlink', linkname: 'z'.repeat(200) } },
    { header: { name: 'hardlink', type: 'link', linkname: 'dir/file.txt' } },
    { header: { name: 'fifo', type: 'fifo', mode: 0o600 } },
    { header: { name: 'null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } },
    { header: { name: 'loop', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 300 } },
    { header: { name: 'bigids', uid: 3000000, gid: 4000000 }, body: Buffer.from('big ids\n') },
    { header: { name: 'ancient', mtime: -86400 }, body: Buffer.from('old\n') },
    {
      header: {
        name: 'xattrs',
        xattrs: new Map([
          ['user.bin', BINARY_XATTR],
          ['user.text', Buffer.from('value')],
          ['security.capability', CAPABILITY],
        ]),
      },
      body: Buffer.from('#!/bin/true\n'),
    },
    { header: { name: 'big.bin', size: BIG.length, mtime: 1700000000 }, body: chunked(BIG, [65536, 1, 4095, 100000]) },
    { header: { name: 'empty' } },
  ];
}

const TYPE_CHAR: Record<TarEntryType, string> = {
  file: '-',
  link: 'h',
  symlink: 'l',
  'character-device': 'c',
  'block-device': 'b',
  directory: 'd',
  fifo: 'p',
};

test('GNU tar lists what pack() writes', async (t) => {
  const dir = tempDir(t);
  const archive = join(dir, 'ours.tar');
  writeFileSync(archive, await packToBuffer(entries()));
  assert.equal(readFileSync(archive).length % 512, 0);

  assert.deepEqual(
    gnuTar(['-tf', archive]).trimEnd().split('\n'),
    entries().map((e) => e.header.name),
  );
  const listing = gnuTar(['--numeric-owner', '-tvf', archive]).trimEnd().split('\n');
  const expected = entries();
  assert.equal(listing.length, expected.length);
  for (const [i, line] of listing.entries()) {
    const h = expected[i]!.header;
    const type = h.type ?? (h.name.endsWith('/') ? 'directory' : 'file');
    assert.equal(line[0], TYPE_CHAR[type], line);
    const owner = line.split(/\s+/)[1];
    assert.equal(owner, `${h.uid ?? 0}/${h.gid ?? 0}`, line);
  }
  assert.match(listing[0]!, /^drwxr-x--- /);
  assert.match(listing[2]!, /^-rwsr-xr-x /);
  assert.match(listing[3]!, /^drwxrwsr-x /);
  assert.match(listing[4]!, /^drwxrwxrwt /);
  assert.match(listing[9]!, new RegExp(`longsym -> ${'z'.repeat(200)}$`));
  assert.match(listing[10]!, /hardlink link to dir\/file\.txt$/);
  assert.match(listing[12]!, /^crw-rw-rw- 0\/0 +1,3 /);
  assert.match(listing[13]!, /^brw-rw---- 0\/0 +7,300 /);
  assert.match(listing[17]!, new RegExp(` ${BIG.length} `));
});

test('GNU tar --xattrs extracts what pack() writes, exactly', async (t) => {
  const dir = tempDir(t);
  const archive = join(dir, 'ours.tar');
  writeFileSync(archive, await packToBuffer(entries()));
  const out = join(dir, 'out');
  mkdirSync(out);
  gnuTar(['--xattrs', '--xattrs-include=*', '--same-owner', '-xpf', archive, '-C', out]);

  for (const e of entries()) {
    const h = e.header;
    const path = join(out, h.name);
    const st = lstatSync(path, { bigint: true });
    const type = h.type ?? (h.name.endsWith('/') ? 'directory' : 'file');
    const what = h.name;
    if (type !== 'symlink' && type !== 'link') {
      assert.equal(Number(st.mode) & 0o7777, h.mode ?? (type === 'directory' ? 0o755 : 0o644), what);
      assert.equal(Number(st.mtimeNs) / 1e9, h.mtime ?? 0, what);
    }
    if (type !== 'link') assert.deepEqual([Number(st.uid), Number(st.gid)], [h.uid ?? 0, h.gid ?? 0], what);
    switch (type) {
      case 'file':
        assert.ok(st.isFile(), what);
        if (e.body instanceof Uint8Array) assert.deepEqual(readFileSync(path), Buffer.from(e.body), what);
        break;
      case 'directory':
        assert.ok(st.isDirectory(), what);
        break;
      case 'symlink':
        assert.equal(readlinkSync(path), h.linkname, what);
        break;
      case 'link':
        assert.equal(st.ino, lstatSync(join(out, h.linkname!), { bigint: true }).ino, what);
        break;
      case 'fifo':
        assert.ok(st.isFIFO(), what);
        break;
      case 'character-device':
      case 'block-device':
        assert.ok(type === 'character-device' ? st.isCharacterDevice() : st.isBlockDevice(), what);
        assert.deepEqual([major(Number(st.rdev)), minor(Number(st.rdev))], [h.devmajor, h.devminor], what);
        break;
    }
  }
  assert.equal(sha256hex(readFileSync(join(out, 'big.bin'))), sha256hex(BIG));
  assert.equal(readFileSync(join(out, UNICODE), 'utf8'), 'unicode\n');
  assert.deepEqual(
    readXattrs(join(out, 'xattrs')),
    new Map([
      ['security.capability', CAPABILITY],
      ['user.bin', BINARY_XATTR],
      ['user.text', Buffer.from('value')],
    ]),
  );
});

test('extract() reads back what pack() writes, field for field', async () => {
  const archive = await packToBuffer(entries());
  const read = await readAll(chunked(archive, [700, 512, 1, 9000]));
  const written = entries();
  assert.equal(read.length, written.length);
  for (const [i, { header: h, data }] of read.entries()) {
    const w = written[i]!;
    const type = w.header.type ?? (w.header.name.endsWith('/') ? 'directory' : 'file');
    assert.deepEqual(
      { name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname },
      {
        name: w.header.name,
        type,
        mode: w.header.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: w.header.uid ?? 0,
        gid: w.header.gid ?? 0,
        mtime: w.header.mtime ?? 0,
        linkname: w.header.linkname ?? '',
      },
    );
    assert.deepEqual([h.devmajor, h.devminor], [w.header.devmajor ?? 0, w.header.devminor ?? 0]);
    assert.deepEqual(h.xattrs, w.header.xattrs ?? new Map());
    if (w.body instanceof Uint8Array) assert.deepEqual(data, Buffer.from(w.body));
  }
  assert.equal(sha256hex(read.find((e) => e.header.name === 'big.bin')!.data), sha256hex(BIG));
});

test('a GNU tar archive read by extract() and written by pack() lists identically in GNU tar', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  makeFixtureTree(root, { devices: true, longNames: true, splitName: true, bigIds: true, xattrs: true });
  const theirs = join(dir, 'theirs.tar');
  gnuTar(['--format=pax', '--xattrs', '-C', root, '-cf', theirs, '.']);
  const ours = join(dir, 'ours.tar');
  async function* copy(): AsyncGenerator<PackEntry> {
    for await (const e of extract(createReadStream(theirs))) yield { header: e.header, body: e.body };
  }
  const parts: Buffer[] = [];
  for await (const c of pack(copy())) parts.push(c);
  writeFileSync(ours, Buffer.concat(parts));
  const list = (f: string): string =>
    gnuTar(['--xattrs', '--xattrs-include=*', '--numeric-owner', '--full-time', '-tvvf', f]);
  assert.equal(list(ours), list(theirs));
  assert.ok(list(ours).includes('security.capability'));
});

test('pack() of a tree on disk matches the tree under tar --diff', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  makeFixtureTree(root, { devices: true, longNames: true, splitName: true, bigIds: true, xattrs: false });
  // tar --diff compares nanoseconds, more than a number of seconds holds: use whole seconds
  for (const [i, rel] of walk(root).reverse().entries()) lutimesSync(join(root, rel), 1500000000, 1500000000 + i);
  const seen = new Map<bigint, string>();
  function* fromDisk(): Generator<PackEntry> {
    for (const rel of walk(root)) {
      const path = join(root, rel);
      const st = lstatSync(path, { bigint: true });
      const base = {
        mode: Number(st.mode),
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime: Number(st.mtimeNs) / 1e9,
      };
      if (st.isDirectory()) yield { header: { name: `${rel}/`, ...base } };
      else if (st.isSymbolicLink())
        yield { header: { name: rel, type: 'symlink', linkname: readlinkSync(path), ...base } };
      else if (st.isFIFO()) yield { header: { name: rel, type: 'fifo', ...base } };
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const type = st.isCharacterDevice() ? 'character-device' : 'block-device';
        const rdev = Number(st.rdev);
        yield { header: { name: rel, type, devmajor: major(rdev), devminor: minor(rdev), ...base } };
      } else if (seen.has(st.ino)) yield { header: { name: rel, type: 'link', linkname: seen.get(st.ino)!, ...base } };
      else {
        seen.set(st.ino, rel);
        yield {
          header: { name: rel, size: Number(st.size), ...base },
          body: createReadStream(path, { highWaterMark: 8192 }),
        };
      }
    }
  }
  const archive = join(dir, 'ours.tar');
  writeFileSync(archive, await packToBuffer(fromDisk() as unknown as PackEntry[]));
  // tar --diff compares type, mode, owner, mtime, size, contents and link targets with the tree
  gnuTar(['--diff', '-f', archive, '-C', root]);
});

test('pack() refuses bodies that do not match their size, and bad headers', async () => {
  const run = (e: PackEntry): Promise<Buffer> => packToBuffer([e]);
  await assert.rejects(
    run({ header: { name: 'a', size: 10 }, body: chunked(Buffer.alloc(11), [4]) }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /"a" is longer than its header size 10/);
      return true;
    },
  );
  await assert.rejects(
    run({ header: { name: 'a', size: 10 }, body: chunked(Buffer.alloc(9), [4]) }),
    /"a" ended after 9 bytes, but its header size is 10/,
  );
  await assert.rejects(
    run({ header: { name: 'a' }, body: chunked(Buffer.alloc(9)) }),
    /streamed body but no header size/,
  );
  await assert.rejects(
    run({ header: { name: 'a', size: 3 }, body: Buffer.alloc(4) }),
    /header size 3 but a body of 4 bytes/,
  );
  await assert.rejects(
    run({ header: { name: 'd/', size: 0 }, body: Buffer.alloc(1) }),
    /of type directory cannot have a body/,
  );
  await assert.rejects(run({ header: { name: '' } }), InvalidArgumentError);
  await assert.rejects(run({ header: { name: 'a\0b' } }), /invalid tar entry name "a\\u0000b"/);
  await assert.rejects(run({ header: { name: 's', type: 'symlink' } }), /has no linkname/);
  await assert.rejects(run({ header: { name: 'a', uid: -1 } }), /invalid uid -1 for tar entry "a"/);
  await assert.rejects(run({ header: { name: 'a', mtime: Number.NaN } }), /invalid mtime NaN/);
  await assert.rejects(
    run({ header: { name: 'a', xattrs: new Map([['user.a=b', Buffer.alloc(1)]]) } }),
    /invalid xattr "user.a=b"/,
  );
});

test('pack() sizes over 8 GiB go in a PAX size record and base-256', async () => {
  const size = 2 ** 33 + 5;
  const gen = pack([{ header: { name: 'huge', size }, body: chunked(Buffer.alloc(1)) }]);
  const first = await gen.next();
  await gen.return(undefined);
  assert.ok(!first.done);
  const head = first.value;
  // the PAX header, its records, then the ustar header with base-256 size
  const ustar = head.subarray(head.length - 512);
  assert.equal(ustar[124]! & 0x80, 0x80);
  const entries = extract(chunked(head));
  const e = await entries.next();
  assert.ok(!e.done);
  assert.equal(e.value.header.size, size);
  assert.equal(e.value.header.pax.size, String(size));
  await entries.return(undefined);
});

test('pack() stops with CanceledError when its signal aborts, and stops the body it was reading', {
  timeout: 10_000,
}, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'big');
  writeFileSync(file, randomBytes(1 << 20));
  const body = createReadStream(file, { highWaterMark: 4096 });
  const ac = new AbortController();
  let chunks = 0;
  const done = (async () => {
    for await (const _ of pack([{ header: { name: 'a', size: 1 << 20 }, body }], { signal: ac.signal })) {
      if (++chunks === 3) ac.abort();
    }
  })();
  await assert.rejects(done, CanceledError);
  assert.equal(chunks, 3);
  // the stream is told to stop (not awaited: a stuck source would hang us); it closes soon after
  for (let i = 0; i < 100 && !body.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(body.destroyed);
});

test('pack() rejects at once when aborted while a body never yields', async () => {
  const ac = new AbortController();
  async function* stuck(): AsyncGenerator<Uint8Array> {
    yield Buffer.alloc(10);
    await new Promise(() => {});
  }
  const done = (async () => {
    for await (const c of pack([{ header: { name: 'a', size: 20 }, body: stuck() }], { signal: ac.signal })) {
      if (c.length === 10) setImmediate(() => ac.abort(new Error('user gave up')));
    }
  })();
  await assert.rejects(done, (err: unknown) => {
    assert.ok(err instanceof CanceledError);
    assert.equal((err.cause as Error).message, 'user gave up');
    return true;
  });
});

test('TarPacker writes the bytes pack() writes for the same entries, bodies passed on by the caller', async () => {
  await packerMatches(() => entries());
  // ending with a body the caller passes on: its padding comes with `end`
  await packerMatches(() => entries().filter((e) => e.header.name !== 'empty'));
});

async function packerMatches(entries: () => PackEntry[]): Promise<void> {
  const list = entries();
  const want = await packToBuffer(list);
  // whole 512-byte blocks: the last body's padding is there (pack() writes through a TarPacker)
  assert.equal(want.length % 512, 0);
  const packer = new TarPacker();
  const out: Buffer[] = [];
  // the same entries again, each streamed body gathered first (TarPacker takes what a caller has in memory) or
  // left streamed for the caller to pass on
  for (const e of entries()) {
    const body = e.body;
    const given =
      body !== undefined && !(body instanceof Uint8Array) && e.header.name !== 'big.bin'
        ? { header: e.header, body: Buffer.concat(await gather(body)) }
        : e;
    const { head, inline, size } = packer.head(given);
    out.push(head);
    if (inline) continue;
    if (given.body instanceof Uint8Array) out.push(Buffer.from(given.body));
    else {
      const chunks = await gather(given.body as AsyncIterable<Uint8Array>);
      assert.equal(
        chunks.reduce((n, c) => n + c.length, 0),
        size,
      );
      out.push(...chunks);
    }
  }
  out.push(packer.end());
  assert.equal(sha256hex(Buffer.concat(out)), sha256hex(want));
}

async function gather(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of body) out.push(Buffer.from(c));
  return out;
}
