/** Helpers shared by the tar tests: temp dirs, GNU tar, fixture trees, collecting streams. */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chmodSync,
  lutimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { extract } from './extract.ts';
import { BLOCK_SIZE, writeChecksum, writeOctal } from './format.ts';
import { pack } from './pack.ts';
import type { PackEntry, TarHeader } from './types.ts';

export const GNU_TAR = '/usr/bin/tar';

/** A temp dir removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs GNU tar; throws with its stderr when it fails. */
export function gnuTar(args: string[], cwd?: string): string {
  const r = spawnSync(GNU_TAR, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Yields `data` in chunks of the given sizes, cycling through them. */
export async function* chunked(data: Uint8Array, sizes: number[] = [data.length || 1]): AsyncGenerator<Uint8Array> {
  let i = 0;
  for (let off = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(off, off + n);
    off += n;
  }
}

export interface ReadEntry {
  header: TarHeader;
  data: Buffer;
}

/** Reads a whole archive, bodies included. */
export async function readAll(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for await (const e of extract(source, signal === undefined ? {} : { signal })) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(Buffer.from(c));
    out.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

export async function packToBuffer(entries: PackEntry[] | AsyncIterable<PackEntry>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of pack(entries)) parts.push(c);
  return Buffer.concat(parts);
}

export function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface FixtureOptions {
  /** fifo, char and block devices (not in v7). */
  devices: boolean;
  /** names over 100 and 255 bytes, link targets over 100 (gnu, pax). */
  longNames: boolean;
  /** a name of about 200 bytes that ustar splits into prefix and name. */
  splitName: boolean;
  /** uid/gid above 2097151 (gnu: base-256; pax: records). */
  bigIds: boolean;
  /** user.* and security.capability xattrs (pax with --xattrs). */
  xattrs: boolean;
}

export const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');
export const BINARY_XATTR = Buffer.from([0x01, 0x00, 0xff, 0x00, 0x80, 0x0a, 0x3d]);

/** Builds a tree with one of each kind of thing tar stores, as root. */
export function makeFixtureTree(root: string, o: FixtureOptions): void {
  mkdirSync(root);
  writeFileSync(join(root, 'plain.txt'), randomBytes(70001));
  utimesSync(join(root, 'plain.txt'), 1614834367, 1614834367.25);
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'exact512'), randomBytes(512));
  mkdirSync(join(root, 'dir/sub'), { recursive: true });
  writeFileSync(join(root, 'dir/sub/private'), 'secret\n', { mode: 0o600 });
  writeFileSync(join(root, 'setuid'), '#!/bin/sh\n');
  chmodSync(join(root, 'setuid'), 0o4755);
  writeFileSync(join(root, 'setgid'), '#!/bin/sh\n');
  chmodSync(join(root, 'setgid'), 0o2750);
  mkdirSync(join(root, 'sticky'));
  chmodSync(join(root, 'sticky'), 0o1777);
  writeFileSync(join(root, 'owned'), 'owned\n');
  chownSync(join(root, 'owned'), 1234, 5678);
  symlinkSync('plain.txt', join(root, 'sym'));
  symlinkSync('../nowhere', join(root, 'dangling'));
  lutimesSync(join(root, 'dangling'), 1000000000, 1000000000);
  linkSync(join(root, 'plain.txt'), join(root, 'hard'));
  if (o.devices) {
    sh('mkfifo', [join(root, 'fifo')]);
    sh('mknod', [join(root, 'null'), 'c', '1', '3']);
    sh('mknod', [join(root, 'loop'), 'b', '7', '300']);
  }
  if (o.longNames) {
    const deep = join(root, 'L'.repeat(60), 'M'.repeat(60), 'N'.repeat(60), 'O'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(root, 'n'.repeat(120)), 'name over 100\n');
    writeFileSync(join(deep, 'f'.repeat(80)), 'name over 255\n'); // ~330 bytes
    symlinkSync('t'.repeat(150), join(root, 'longlink'));
    linkSync(join(deep, 'f'.repeat(80)), join(root, 'hardlink-to-long'));
  }
  if (o.splitName) {
    const dir = join(root, 'p'.repeat(90), 'q'.repeat(60));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'r'.repeat(90)), 'split\n');
  }
  if (o.bigIds) {
    writeFileSync(join(root, 'bigid'), 'big\n');
    chownSync(join(root, 'bigid'), 3000000, 3000001);
  }
  if (o.xattrs) {
    sh('setfattr', ['-n', 'user.comment', '-v', 'hello world', join(root, 'plain.txt')]);
    sh('setfattr', ['-n', 'user.bin', '-v', `0x${BINARY_XATTR.toString('hex')}`, join(root, 'plain.txt')]);
    sh('setfattr', ['-n', 'security.capability', '-v', `0x${CAPABILITY.toString('hex')}`, join(root, 'setuid')]);
  }
}

/** Every path under root (relative, directories first), as GNU tar walks it with `-C root .`. */
export function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`;
    out.push(p);
    if (lstatSync(join(root, p)).isDirectory()) out.push(...walk(root, p));
  }
  return out;
}

/** xattrs of a path as getfattr reports them (all namespaces, raw bytes). */
export function readXattrs(path: string): Map<string, Buffer> {
  const r = spawnSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', path], { encoding: 'utf8' });
  const out = new Map<string, Buffer>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (m) out.set(m[1]!, Buffer.from(m[2]!, 'hex'));
  }
  return out;
}

export function major(rdev: number): number {
  return ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

export function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
}

/** One hand-made header block (for cases GNU tar and pack() never write). */
export function rawHeader(o: {
  name: string;
  flag: string;
  size?: number;
  mode?: number;
  uname?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  /** bytes to write over the block before the checksum is computed: offset → bytes */
  patch?: Array<[number, Uint8Array | string]>;
}): Buffer {
  const b = Buffer.alloc(BLOCK_SIZE);
  b.write(o.name, 0, 'utf8');
  writeOctal(b, 100, 8, o.mode ?? 0o644);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, o.size ?? 0);
  writeOctal(b, 136, 12, 0);
  b.write(o.flag, 156, 'latin1');
  const magic = o.magic ?? 'ustar';
  if (magic === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  if (magic === 'gnu') b.write('ustar  \x00', 257, 'latin1');
  if (magic !== 'v7' && o.uname !== undefined) b.write(o.uname, 265, 'utf8');
  for (const [off, bytes] of o.patch ?? []) {
    if (typeof bytes === 'string') b.write(bytes, off, 'latin1');
    else b.set(bytes, off);
  }
  writeChecksum(b, 0);
  return b;
}

/** A header plus its body padded to whole blocks. */
export function rawEntry(header: Parameters<typeof rawHeader>[0], body: Uint8Array = Buffer.alloc(0)): Buffer {
  const pad = (BLOCK_SIZE - (body.length % BLOCK_SIZE)) % BLOCK_SIZE;
  return Buffer.concat([rawHeader({ size: body.length, ...header }), body, Buffer.alloc(pad)]);
}

export const END = Buffer.alloc(2 * BLOCK_SIZE);
