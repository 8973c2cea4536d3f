/**
 * Go build information in ELF executables (Go 1.18+): the `.go.buildinfo` section starts with the 14-byte magic
 * `\xff Go buildinf:`, a pointer size and a flags byte; with flag 2 the Go version and the module information
 * follow at offset 32 as varint-length-prefixed strings. The module information, between two 16-byte sentinels,
 * has `path`, `mod` (the main module), `dep` and `=>` (a replacement of the previous dep) lines, tab-separated.
 * Only the ELF header, the section headers and that section are read, never the whole binary.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { golangPurl } from './purl.ts';
import type { Package } from './types.ts';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

/** The `.go.buildinfo` section's first bytes, or undefined when the file is not an ELF with one. */
async function buildInfoSection(fh: FileHandle, size: number): Promise<Buffer | undefined> {
  const h = await readAt(fh, 0, 64);
  if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uptr = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
  const shoff = uptr(h, is64 ? 0x28 : 0x20);
  const shentsize = u16(h, is64 ? 0x3a : 0x2e);
  const shnum = u16(h, is64 ? 0x3c : 0x30);
  const shstrndx = u16(h, is64 ? 0x3e : 0x32);
  if (!shoff || shnum === 0 || shnum > 4096 || shoff + shnum * shentsize > size || shstrndx >= shnum) return undefined;
  const sh = await readAt(fh, shoff, shnum * shentsize);
  const section = (i: number) => {
    const o = i * shentsize;
    return { name: u32(sh, o), offset: uptr(sh, o + (is64 ? 0x18 : 0x10)), size: uptr(sh, o + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = section(shstrndx);
  if (strtab.offset + strtab.size > size || strtab.size > 1 << 20) return undefined;
  const names = await readAt(fh, strtab.offset, strtab.size);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = names.indexOf(0, s.name);
    if (names.toString('latin1', s.name, end < 0 ? undefined : end) !== '.go.buildinfo') continue;
    if (s.offset + 32 > size) return undefined;
    return readAt(fh, s.offset, Math.min(s.size, 1 << 20));
  }
  return undefined;
}

function varintString(b: Buffer, at: number): [string, number] | undefined {
  let n = 0;
  let shift = 0;
  let i = at;
  for (; i < b.length; i++) {
    n += (b[i]! & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b[i]! & 0x80) === 0) break;
    if (shift > 35) return undefined;
  }
  i++;
  if (i + n > b.length) return undefined;
  return [b.toString('utf8', i, i + n), i + n];
}

/** Go version and module info from a `.go.buildinfo` section (the inline-string format of Go 1.18+). */
export function parseBuildInfo(sec: Buffer): { goVersion: string; modinfo: string } | undefined {
  if (sec.length < 32 || !sec.subarray(0, 14).equals(MAGIC)) return undefined;
  if ((sec[15]! & 2) === 0) return undefined; // pointer format of Go < 1.18: not read
  const v = varintString(sec, 32);
  if (!v) return undefined;
  const m = varintString(sec, v[1]);
  if (!m) return undefined;
  let modinfo = m[0];
  if (modinfo.length >= 33 && modinfo[modinfo.length - 17] === '\n') modinfo = modinfo.slice(16, -16);
  return { goVersion: v[0], modinfo };
}

/** Packages of a Go binary: the standard library (as OSV's `stdlib`), the main module and its dependencies. */
export function goModules(info: { goVersion: string; modinfo: string }, location: string): Package[] {
  const out: Package[] = [];
  const add = (name: string, version: string) => {
    if (!version || version === '(devel)') return;
    out.push({
      type: 'golang',
      name,
      version,
      ecosystem: 'Go',
      purl: golangPurl(name, version),
      locations: [location],
    });
  };
  const std = /^go(\d+\.\d+(?:\.\d+)?)/.exec(info.goVersion);
  if (std) add('stdlib', std[1]!.split('.').length === 2 ? `${std[1]}.0` : std[1]!);
  for (const line of info.modinfo.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'mod' || f[0] === 'dep') add(f[1]!, f[2] ?? '');
    else if (f[0] === '=>' && out.length > 0 && f[2]) {
      // The replacement's path and version are what was built.
      const last = out.pop()!;
      add(f[1]!.startsWith('.') || f[1]!.startsWith('/') ? last.name : f[1]!, f[2]);
    }
  }
  return out;
}

/** Go modules built into the executable at `path` (read through `fh`), or [] when it is not a Go binary. */
export async function goBinaryPackages(path: string, location: string, size: number): Promise<Package[]> {
  const fh = await open(path, 'r');
  try {
    const sec = await buildInfoSection(fh, size);
    const info = sec ? parseBuildInfo(sec) : undefined;
    return info ? goModules(info, location) : [];
  } finally {
    await fh.close();
  }
}
