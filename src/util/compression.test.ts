import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { type SyncDecompressor, syncDecompressor } from './compression.ts';

/** Feeds `input` in pieces of `piece` bytes; the digest and length of what came out, or the error. */
function inflate(
  c: 'gzip' | 'zstd',
  input: Buffer,
  piece: number,
  outSize?: number,
): { digest: string; length: number; ended: boolean; pieces: number } | { error: Error & { code?: string } } {
  const z = syncDecompressor(c, outSize);
  assert.ok(z, `this Node's zlib drives ${c} synchronously`);
  const h = createHash('sha256');
  let length = 0;
  let pieces = 0;
  const out = (p: Buffer): void => {
    assert.ok(p.length > 0 && p.length <= (outSize ?? 1 << 18), `a piece of ${p.length} bytes`);
    h.update(p);
    length += p.length;
    pieces++;
  };
  try {
    for (let i = 0; i < input.length; i += piece) z.write(input.subarray(i, i + piece), out);
    z.end(out);
    return { digest: h.digest('hex'), length, ended: z.ended, pieces };
  } catch (err) {
    return { error: err as Error & { code?: string } };
  } finally {
    z.close();
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const raw = Buffer.concat([randomBytes(700_000), Buffer.alloc(900_000, 7)]);

test('gzip and zstd decompress in any piece sizes, output in pieces of at most the buffer size', () => {
  for (const [c, packed] of [
    ['gzip', gzipSync(raw)],
    ['zstd', zstdCompressSync(raw)],
  ] as const) {
    for (const piece of [1, 511, 65_536, packed.length]) {
      if (piece === 1 && c === 'zstd') continue; // byte by byte is slow and says nothing more
      const r = inflate(c, piece === 1 ? packed.subarray(0, 4096) : packed, piece, 1 << 16);
      if (piece === 1) {
        assert.ok('error' in r && /unexpected end/.test(r.error.message), `${c} cut short: ${JSON.stringify(r)}`);
        continue;
      }
      assert.ok(!('error' in r), `${c} in pieces of ${piece}`);
      assert.equal(r.digest, sha(raw));
      assert.equal(r.length, raw.length);
      assert.ok(r.pieces >= Math.ceil(raw.length / (1 << 16)));
    }
  }
});

test('gzip members and zstd frames one after another are one stream', () => {
  const a = raw.subarray(0, 500_000);
  const b = raw.subarray(500_000);
  for (const [c, packed] of [
    ['gzip', Buffer.concat([gzipSync(a), gzipSync(b)])],
    ['zstd', Buffer.concat([zstdCompressSync(a), zstdCompressSync(b)])],
  ] as const) {
    const r = inflate(c, packed, 100_000);
    assert.ok(!('error' in r), c);
    assert.equal(r.digest, sha(raw), c);
  }
});

test("cut short, corrupt, or followed by something else: node:zlib's own errors and rules", () => {
  const gz = gzipSync(raw);
  const cut = inflate('gzip', gz.subarray(0, gz.length - 10), 100_000);
  assert.ok('error' in cut);
  assert.equal(cut.error.code, 'Z_BUF_ERROR');
  assert.match(cut.error.message, /unexpected end of file/);

  const bad = Buffer.from(gz);
  bad[gz.length - 6]! ^= 0xff; // the CRC-32 of the data
  const corrupt = inflate('gzip', bad, 100_000);
  assert.ok('error' in corrupt);
  assert.equal(corrupt.error.code, 'Z_DATA_ERROR');

  // Zeros after a gzip stream are padding, ignored; anything else there is a bad second member.
  const padded = inflate('gzip', Buffer.concat([gz, Buffer.alloc(4096)]), 100_000);
  assert.ok(!('error' in padded));
  assert.equal(padded.digest, sha(raw));
  assert.equal(padded.ended, true);
  const trailing = inflate('gzip', Buffer.concat([gz, Buffer.from('not gzip')]), 100_000);
  assert.ok('error' in trailing);
  assert.equal(trailing.error.code, 'Z_DATA_ERROR');

  const zst = zstdCompressSync(raw);
  const zcut = inflate('zstd', zst.subarray(0, zst.length - 10), 100_000);
  assert.ok('error' in zcut);
  assert.match(zcut.error.message, /unexpected end of file/);
  const zjunk = inflate('zstd', Buffer.concat([zst, Buffer.from('not zstd')]), 100_000);
  assert.ok('error' in zjunk);
});

test('a consumer may close the decompressor from its output callback: the write stops there', () => {
  const z = syncDecompressor('gzip', 1 << 16)!;
  let calls = 0;
  z.write(gzipSync(raw), () => {
    calls++;
    z.close();
  });
  assert.equal(calls, 1);
  assert.throws(() => z.write(Buffer.alloc(1), () => {}), /closed/);
});

test('one decompressor, reset, reads stream after stream; after an error it is not reused', () => {
  for (const c of ['gzip', 'zstd'] as const) {
    const pack = c === 'gzip' ? gzipSync : zstdCompressSync;
    const read = (z: SyncDecompressor, input: Buffer, piece = 50_000): string | Error => {
      const h = createHash('sha256');
      try {
        for (let i = 0; i < input.length; i += piece) z.write(input.subarray(i, i + piece), (p) => h.update(p));
        z.end((p) => h.update(p));
        return h.digest('hex');
      } catch (err) {
        return err as Error;
      }
    };
    const other = randomBytes(300_000);
    const z = syncDecompressor(c, 1 << 16)!;
    assert.equal(read(z, pack(raw)), sha(raw), `${c}: the first stream`);
    assert.equal(z.reset(), true);
    assert.equal(read(z, pack(other)), sha(other), `${c}: a second stream after a reset`);
    assert.equal(z.reset(), true);
    let calls = 0;
    z.write(pack(raw), () => {
      calls++;
      z.halt();
    });
    assert.equal(calls, 1, `${c}: halted from the output callback`);
    assert.throws(() => z.write(Buffer.alloc(1), () => {}), /halted/);
    assert.equal(z.reset(), true);
    assert.equal(read(z, pack(raw), 7_000), sha(raw), `${c}: after a halt and a reset`);
    // gzip: its CRC-32 of the data wrong; zstd (no checksum by default): something not zstd after the frame
    const bad = c === 'gzip' ? Buffer.from(pack(raw)) : Buffer.concat([pack(raw), Buffer.from('not zstd')]);
    if (c === 'gzip') bad[bad.length - 6]! ^= 0xff;
    for (const broken of [bad, pack(other).subarray(0, 1000)]) {
      const y = syncDecompressor(c, 1 << 16)!;
      assert.equal(read(y, pack(other)), sha(other));
      assert.equal(y.reset(), true);
      assert.ok(read(y, broken) instanceof Error, `${c}: corrupt or cut short`);
      assert.equal(y.reset(), false, `${c}: not reused after an error`);
      assert.throws(() => y.write(pack(raw), () => {}), /closed/);
    }
    z.close();
    assert.throws(() => z.reset(), /closed/);
  }
});
