/**
 * RPM packages from rpm's SQLite database (`/var/lib/rpm/rpmdb.sqlite`, `/usr/lib/sysimage/rpm/rpmdb.sqlite`):
 * table `Packages (hnum, blob)`, each blob an RPM header as rpm stores it — `il` and `dl` (big-endian uint32
 * index entry count and data length), `il` index entries of 16 bytes (tag, type, offset, count), then the data.
 * The database is opened read-only and immutable; nothing is written next to it.
 */
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { distroEcosystem } from './distro.ts';
import { purl } from './purl.ts';
import type { Distro, Package } from './types.ts';

const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  license: 1014,
  arch: 1022,
  sourcerpm: 1044,
} as const;
const INT32 = 4;
const STRING = 6;
const STRING_ARRAY = 8;
const I18NSTRING = 9;

/** The tags Berth reads from one header blob; throws on a blob whose index runs past its end. */
export function parseRpmHeader(blob: Uint8Array): Map<number, string | number> {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 8) throw new Error('rpm header: too short');
  const il = b.readUInt32BE(0);
  const dl = b.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > 0xffff || dataStart + dl > b.length) throw new Error('rpm header: index or data runs past the blob');
  const wanted = new Set<number>(Object.values(TAG));
  const out = new Map<number, string | number>();
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = b.readInt32BE(e);
    if (!wanted.has(tag)) continue;
    const type = b.readUInt32BE(e + 4);
    const off = b.readInt32BE(e + 8);
    if (off < 0 || off >= dl) throw new Error(`rpm header: tag ${tag} points outside the data`);
    const at = dataStart + off;
    if (type === INT32) out.set(tag, b.readInt32BE(at));
    else if (type === STRING || type === STRING_ARRAY || type === I18NSTRING) {
      const end = b.indexOf(0, at);
      out.set(tag, b.toString('utf8', at, end < 0 ? dataStart + dl : end));
    }
  }
  return out;
}

/** `openssl-3.0.7-24.el9.src.rpm` → `openssl`. */
export function sourceRpmName(srpm: string): string | undefined {
  const base = srpm.replace(/\.(?:no)?src\.rpm$/, '');
  const parts = base.split('-');
  return parts.length >= 3 ? parts.slice(0, -2).join('-') : undefined;
}

export function rpmPackages(dbPath: string, location: string, distro: Distro | undefined): Package[] {
  // immutable: the image's tree is read-only (no -shm or -wal file may be made) and nothing else writes it now.
  const url = pathToFileURL(dbPath);
  url.searchParams.set('immutable', '1');
  const db = new DatabaseSync(url, { readOnly: true });
  try {
    const rows = db.prepare('SELECT blob FROM Packages').all() as { blob: Uint8Array }[];
    const ecosystem = distroEcosystem('rpm', distro);
    const distroQ = distro?.versionId ? `${distro.id}-${distro.versionId}` : undefined;
    const out: Package[] = [];
    for (const row of rows) {
      let h: Map<number, string | number>;
      try {
        h = parseRpmHeader(row.blob);
      } catch {
        continue;
      }
      const name = h.get(TAG.name);
      const ver = h.get(TAG.version);
      const rel = h.get(TAG.release);
      if (typeof name !== 'string' || typeof ver !== 'string' || name === 'gpg-pubkey') continue;
      const epoch = h.get(TAG.epoch);
      const vr = typeof rel === 'string' ? `${ver}-${rel}` : ver;
      const version = typeof epoch === 'number' && epoch > 0 ? `${epoch}:${vr}` : vr;
      const arch = h.get(TAG.arch);
      const srpm = h.get(TAG.sourcerpm);
      const sourceName = typeof srpm === 'string' ? sourceRpmName(srpm) : undefined;
      const license = h.get(TAG.license);
      out.push({
        type: 'rpm',
        name,
        version,
        ecosystem,
        purl: purl('rpm', distro?.id ?? 'redhat', name, vr, {
          arch: typeof arch === 'string' ? arch : undefined,
          epoch: typeof epoch === 'number' && epoch > 0 ? String(epoch) : undefined,
          distro: distroQ,
        }),
        ...(sourceName ? { sourceName } : {}),
        ...(typeof arch === 'string' ? { arch } : {}),
        ...(typeof license === 'string' ? { license } : {}),
        locations: [location],
      });
    }
    return out;
  } finally {
    db.close();
  }
}
