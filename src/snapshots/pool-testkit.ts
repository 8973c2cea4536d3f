/**
 * What the unpack pool's tests share: a scratch directory per test file (made before its tests, removed after), fresh
 * roots in it, and tar archives built in memory.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { pack, type PackEntry } from '../util/tar/index.ts';

export interface Scratch {
  /** The directory (set once the file's `before` has run). */
  readonly dir: string;
  /** A new empty directory in it, numbered. */
  root(): Promise<string>;
  /** The number of the last root made (for names beside it). */
  readonly made: number;
}

/** A scratch directory for the calling test file, named `prefix…`, through node:test's before and after. */
export function scratch(prefix: string): Scratch {
  let dir = '';
  let made = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    get made() {
      return made;
    },
    async root() {
      const r = join(dir, `root-${++made}`);
      await mkdir(r);
      return r;
    },
  };
}

/** A tar archive of `entries`, whole. */
export async function tarOf(entries: PackEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of pack(entries)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
