/**
 * The pure parts of a layer's rules, shared by the thread that reads a layer (naming, routing, sizes) and the ones
 * that write it (unpacker.ts): no file system calls here, and nothing that loads sys/.
 */
import { posix } from 'node:path';
import type { TarHeader } from '../util/tar/index.ts';

/**
 * How a layer's whiteouts are written:
 * - 'overlay': into an empty directory that becomes an overlayfs layer. `.wh.NAME` becomes a 0/0 character
 *   device NAME, `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory; neither marker is written.
 * - 'delete': onto a copy of the parent's tree. `.wh.NAME` removes NAME, `.wh..wh..opq` removes everything in
 *   its directory that this layer did not write.
 */
export type WhiteoutMode = 'overlay' | 'delete';

/** A header as it arrives through a worker's message port: its xattr values are plain Uint8Arrays. */
export type PortableHeader = Omit<TarHeader, 'xattrs'> & { xattrs: Map<string, Uint8Array> };

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** An absolute entry name, other than the root directory itself ('/'). */
export function isAbsoluteEntry(name: string): boolean {
  return name.startsWith('/') && name.replace(/\/+$/, '') !== '';
}

/**
 * The entry's path relative to the root, without './', '//', '..' steps or a trailing '/'; '' for the root
 * itself; null if it leaves the root. A leading '/' is dropped, as Docker does.
 */
export function normalise(name: string): string | null {
  let p = posix.normalize(name.replace(/^\/+/, ''));
  if (p === '..' || p.startsWith('../')) return null;
  if (p.endsWith('/')) p = p.slice(0, -1);
  if (p === '.' || p === '') return '';
  return p;
}

/** The entry's path relative to the root, or the InvalidArgument message for a name that is absolute or escapes. */
export function entryPath(name: string): { rel: string } | { refused: string } {
  if (isAbsoluteEntry(name)) return { refused: `layer entry "${name}" has an absolute path` };
  const rel = normalise(name);
  if (rel === null) return { refused: `layer entry "${name}" escapes the root` };
  return { rel };
}

/** The bytes `h` took in the archive: header, PAX extended header if any, padded body. */
export function archivedSize(h: PortableHeader): number {
  let pax = 0;
  for (const [key, value] of Object.entries(h.pax)) {
    const raw = key.startsWith('SCHILY.xattr.') ? h.xattrs.get(key.slice('SCHILY.xattr.'.length)) : undefined;
    pax += paxRecordLength(key, raw ? raw.length : Buffer.byteLength(value));
  }
  return 512 + (pax > 0 ? 512 + blocks(pax) : 0) + blocks(h.size);
}

/** The length of the PAX record "<len> <key>=<value>\n", which counts its own length's digits. */
function paxRecordLength(key: string, valueBytes: number): number {
  const rest = 1 + Buffer.byteLength(key) + 1 + valueBytes + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return len;
}

function blocks(n: number): number {
  return Math.ceil(n / 512) * 512;
}

/** An entry's [atime, mtime] in seconds: the PAX atime when there is one, else the mtime. */
export function times(h: PortableHeader): [number, number] {
  const atime = Number(h.pax.atime);
  return [Number.isFinite(atime) ? atime : h.mtime, h.mtime];
}
