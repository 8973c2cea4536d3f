/**
 * A step's upper directory as layer tar entries, quickly: a directory's entries are stat'ed together, and the
 * contents of small files are read ahead a few at a time while the entries before them are packed, so a COPY of
 * thousands of small files is not a chain of one-at-a-time reads. Overlay's forms become the tar's: a 0/0
 * character device is a `.wh.<name>` whiteout, an opaque directory gets `.wh..wh..opq`. Hard links within the layer
 * stay links; the writer takes the tar in chunks of about 1 MiB (`coalesce` of util/chunks.ts).
 */
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { deviceNumbers } from '../util/devnum.ts';
import type { PackEntry } from '../util/tar/index.ts';

const SMALL = 256 * 1024;
const AHEAD = 16;

/**
 * `bodyOf`, where given, may supply a file's content from elsewhere (a COPY's linked file, read from the context it
 * was proven equal to): the header still comes from the directory, so the tar is the directory's either way.
 */
export async function* diffEntries(
  upper: string,
  isOpaque: (path: string) => boolean,
  bodyOf?: (rel: string) => PackEntry['body'] | undefined,
): AsyncGenerator<PackEntry> {
  const links = new Map<string, string>();
  yield* walk(upper, '', isOpaque, links, bodyOf);
}

async function* walk(
  upper: string,
  rel: string,
  isOpaque: (path: string) => boolean,
  links: Map<string, string>,
  bodyOf: ((rel: string) => PackEntry['body'] | undefined) | undefined,
): AsyncGenerator<PackEntry> {
  const names = (await readdir(join(upper, rel))).sort();
  const paths = names.map((n) => (rel === '' ? n : `${rel}/${n}`));
  const stats = await Promise.all(paths.map((p) => lstat(join(upper, p))));
  // contents supplied from elsewhere, then those of small files read AHEAD entries in advance
  const elsewhere = new Map<number, NonNullable<PackEntry['body']>>();
  if (bodyOf)
    for (let i = 0; i < paths.length; i++) {
      const b = stats[i]!.isFile() ? bodyOf(paths[i]!) : undefined;
      if (b !== undefined) elsewhere.set(i, b);
    }
  const reads = new Map<number, Promise<Buffer>>();
  const readAhead = (from: number) => {
    for (let i = from; i < Math.min(paths.length, from + AHEAD); i++) {
      const st = stats[i]!;
      if (
        !reads.has(i) &&
        st.isFile() &&
        st.size <= SMALL &&
        !(st.nlink > 1 && links.has(key(st))) &&
        !elsewhere.has(i)
      )
        reads.set(i, readFile(join(upper, paths[i]!)));
    }
  };
  for (let i = 0; i < paths.length; i++) {
    readAhead(i);
    const r = paths[i]!;
    const st = stats[i]!;
    const path = join(upper, r);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 };
    if (st.isCharacterDevice() && st.rdev === 0) {
      const dir = r.includes('/') ? r.slice(0, r.lastIndexOf('/') + 1) : '';
      yield { header: { name: `${dir}.wh.${names[i]}`, type: 'file', size: 0, mode: 0o644 } };
      continue;
    }
    if (st.isDirectory()) {
      yield { header: { ...base, name: `${r}/`, type: 'directory' } };
      if (isOpaque(path)) yield { header: { name: `${r}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o644 } };
      yield* walk(upper, r, isOpaque, links, bodyOf);
      continue;
    }
    if (st.isSymbolicLink()) {
      yield { header: { ...base, name: r, type: 'symlink', linkname: await readlink(path) } };
    } else if (st.isFile()) {
      const first = st.nlink > 1 ? links.get(key(st)) : undefined;
      if (first !== undefined) {
        reads.delete(i);
        yield { header: { ...base, name: r, type: 'link', linkname: first } };
        continue;
      }
      if (st.nlink > 1) links.set(key(st), r);
      const other = elsewhere.get(i);
      if (other !== undefined) {
        yield { header: { ...base, name: r, type: 'file', size: st.size }, body: other };
        continue;
      }
      const small = reads.get(i);
      reads.delete(i);
      if (small) {
        const data = await small;
        // a file that changed size since its stat is packed as it is now
        yield { header: { ...base, name: r, type: 'file', size: data.length }, body: data };
      } else {
        yield {
          header: { ...base, name: r, type: 'file', size: st.size },
          body: createReadStream(path, { highWaterMark: 1 << 20 }),
        };
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      yield {
        header: {
          ...base,
          name: r,
          type: st.isCharacterDevice() ? 'character-device' : 'block-device',
          devmajor: deviceNumbers(st.rdev).major,
          devminor: deviceNumbers(st.rdev).minor,
        },
      };
    } else if (st.isFIFO()) yield { header: { ...base, name: r, type: 'fifo' } };
  }
}

function key(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}
