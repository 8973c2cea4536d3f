import { lstat, readdir } from 'node:fs/promises';
import type { Usage } from './types.ts';

/** Disk use under `dir` (itself included), as du counts it: allocated blocks, each inode once. */
export async function diskUsage(dir: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += st.blocks * 512;
    }
    if (st.isDirectory()) {
      for (const name of await readdir(path)) await visit(`${path}/${name}`);
    }
  };
  await visit(dir);
  return { size, inodes: seen.size };
}
