/**
 * Throughput of pack() and extract() on one big file entry, beside GNU tar on the same archive.
 * A script, not a test: `node src/util/tar/tar.bench.ts [MiB=256] [runs=3]`. Prints MiB/s, best of the runs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from './extract.ts';
import { pack } from './pack.ts';

const mib = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'berth-tar-bench-'));

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  async function* data(): AsyncGenerator<Buffer> {
    for (let left = bytes; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
  }
  await pipeline(Readable.from(data()), createWriteStream(path));
}

async function best(what: string, bytes: number, fn: () => Promise<void> | void): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / 1e9);
  }
  const rate = bytes / (1 << 20) / fastest;
  console.log(`${what.padEnd(52)} ${rate.toFixed(0).padStart(6)} MiB/s  (${(fastest * 1000).toFixed(0)} ms)`);
  return rate;
}

function gnuTar(args: string[], shell?: string): void {
  const r =
    shell === undefined
      ? spawnSync('/usr/bin/tar', args, { stdio: 'inherit' })
      : spawnSync('sh', ['-c', shell], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed`);
}

try {
  const src = join(dir, 'src');
  mkdirSync(src);
  const file = join(src, 'big.bin');
  await writeRandomFile(file, mib << 20);
  const size = statSync(file).size;
  const ours = join(dir, 'ours.tar');
  const theirs = join(dir, 'theirs.tar');
  console.log(`one ${mib} MiB file entry, best of ${runs} (page cache warm)`);

  await best('pack:    pack() file → archive file', size, () =>
    pipeline(
      Readable.from(
        pack([{ header: { name: 'big.bin', size }, body: createReadStream(file, { highWaterMark: 1 << 20 }) }]),
      ),
      createWriteStream(ours),
    ),
  );
  await best('pack:    GNU tar -cf archive file', size, () => gnuTar(['-C', src, '-cf', theirs, 'big.bin']));

  for (const [label, hwm] of [
    ['64 KiB', 64 << 10],
    ['1 MiB', 1 << 20],
  ] as const) {
    await best(`read:    the archive file alone, no tar (${label} reads)`, size, async () => {
      for await (const _ of createReadStream(ours, { highWaterMark: hwm }));
    });
  }
  // the codec alone: the same bytes from memory, in 64 KiB chunks, so no I/O is measured
  const head = (await readFile(ours)).subarray(0, 512);
  const chunk = Buffer.alloc(64 << 10);
  await best('extract: extract() from memory, 64 KiB chunks', size, async () => {
    async function* fromMemory(): AsyncGenerator<Buffer> {
      yield head;
      for (let left = size; left > 0; left -= chunk.length)
        yield left >= chunk.length ? chunk : chunk.subarray(0, left);
      yield Buffer.alloc(1024 + ((512 - (size % 512)) % 512));
    }
    let n = 0;
    for await (const e of extract(fromMemory())) for await (const c of e.body) n += c.length;
    if (n !== size) throw new Error(`read ${n} of ${size} bytes`);
  });
  const discard = async (hwm: number): Promise<void> => {
    let n = 0;
    for await (const e of extract(createReadStream(ours, { highWaterMark: hwm })))
      for await (const c of e.body) n += c.length;
    if (n !== size) throw new Error(`read ${n} of ${size} bytes`);
  };
  await best('extract: extract() bodies discarded (64 KiB reads)', size, () => discard(64 << 10));
  await best('extract: extract() bodies discarded (1 MiB reads)', size, () => discard(1 << 20));
  await best('extract: GNU tar -xOf archive > /dev/null', size, () =>
    gnuTar([], `/usr/bin/tar -xOf ${ours} > /dev/null`),
  );

  const out = join(dir, 'out');
  await best('unpack:  extract() → FileHandle.write (1 MiB reads)', size, async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    for await (const e of extract(createReadStream(ours, { highWaterMark: 1 << 20 }))) {
      const fh = await open(join(out, e.header.name), 'w', e.header.mode);
      try {
        for await (const chunk of e.body) {
          for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off)).bytesWritten;
        }
      } finally {
        await fh.close();
      }
    }
  });
  await best('unpack:  extract() → pipeline(createWriteStream)', size, async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    for await (const e of extract(createReadStream(ours, { highWaterMark: 1 << 20 }))) {
      await pipeline(Readable.from(e.body), createWriteStream(join(out, e.header.name)));
    }
  });
  await best('unpack:  GNU tar -xf archive -C dir', size, () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    gnuTar(['-xf', ours, '-C', out]);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
