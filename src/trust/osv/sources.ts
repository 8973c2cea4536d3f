/**
 * Where OSV records come from for an import: a directory tree of `*.json` files, a ZIP (OSV's per-ecosystem
 * `all.zip`), or a tar stream (how `berth scan db import DIR` sends a directory to berthd). Each yields the JSON
 * files with their names; what is not a `.json` file is passed over.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type yauzl from 'yauzl';
import { InvalidArgumentError } from '../../util/errors.ts';
import { extract } from '../../util/tar/index.ts';
import type { OsvFile } from './db.ts';

/** The largest single record read (OSV records are a few KiB; a few very large ones reach hundreds). */
const MAX_RECORD = 16 << 20;

/** Files read at once: small records are bound by the per-file round trip, not by bandwidth. */
const READ_AHEAD = 64;

export async function* filesFromDir(dir: string): AsyncGenerator<OsvFile> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(e.parentPath, e.name));
  for (let i = 0; i < paths.length; i += READ_AHEAD) {
    const batch = paths.slice(i, i + READ_AHEAD);
    const bodies = await Promise.all(batch.map((p) => readFile(p)));
    for (let j = 0; j < batch.length; j++) yield { name: relative(dir, batch[j]!), bytes: bodies[j]! };
  }
}

/** Whether a file starts as a ZIP does (`PK\3\4`, or `PK\5\6` for an empty one). */
export async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.readUInt32LE(0) === 0x04034b50 || b.readUInt32LE(0) === 0x06054b50;
  } finally {
    await fh.close();
  }
}

export async function* filesFromZip(path: string): AsyncGenerator<OsvFile> {
  // Loaded here, for the one command that reads a ZIP, not by every berthd start that loads this module.
  const { default: zipReader } = await import('yauzl');
  let zip: yauzl.ZipFile;
  try {
    zip = await zipReader.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new InvalidArgumentError(`${path} is not a readable ZIP file: ${(err as Error).message}`);
  }
  try {
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.endsWith('.json')) continue;
      if (entry.uncompressedSize > MAX_RECORD) continue;
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      yield { name: entry.fileName, bytes: Buffer.concat(chunks) };
    }
  } finally {
    zip.close();
  }
}

export async function* filesFromTar(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<OsvFile> {
  for await (const entry of extract(source, signal ? { signal } : {})) {
    if (entry.header.type !== 'file' || !entry.header.name.endsWith('.json') || entry.header.size > MAX_RECORD)
      continue;
    const chunks: Buffer[] = [];
    for await (const c of entry.body) chunks.push(c);
    yield { name: entry.header.name.replace(/^\.\//, ''), bytes: Buffer.concat(chunks) };
  }
}
