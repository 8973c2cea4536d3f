/**
 * What a running container's sandbox keeps on disk under `<execRoot>/network`: its namespace file
 * (`netns/<id>`) and its state file (`sandboxes/<id>.json`: the backend input and where its /etc/hosts is), written
 * before the backend runs so a teardown works after a crash; and the in-place edits of its hosts file.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { errorMessage, isErrno } from '../util/errors.ts';
import type { ContainerNetworks } from './backend.ts';

/** The state file of a running container's networking. */
export interface SandboxFile {
  netns: string;
  input: ContainerNetworks;
  /** The container's hosts file and the names on its own lines (kept for connect/disconnect). */
  hosts?: { file: string; names: string };
}

export class SandboxFiles {
  /** `<execRoot>/network`. */
  readonly root: string;
  readonly #log: { warn(msg: string): void } | undefined;

  constructor(root: string, log?: { warn(msg: string): void }) {
    this.root = root;
    this.#log = log;
  }

  statePath(id: string): string {
    return join(this.root, 'sandboxes', `${id}.json`);
  }

  netnsPath(id: string): string {
    return join(this.root, 'netns', id);
  }

  /** Written atomically (temp file and rename). */
  async write(id: string, s: SandboxFile): Promise<void> {
    const p = this.statePath(id);
    await mkdir(join(this.root, 'sandboxes'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(p, JSON.stringify(s));
  }

  /** Undefined when there is none (or a crash left it unreadable). */
  async read(id: string): Promise<SandboxFile | undefined> {
    try {
      // A small file read at once: through libuv's pool it would wait behind the directory removals of other
      // containers going at the same time (a down's), delaying the teardown that reaches the network's bridge.
      return JSON.parse(readFileSync(this.statePath(id), 'utf8')) as SandboxFile;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.statePath(id), { force: true });
  }

  /**
   * Rewrites a running container's hosts file in place (same inode: the bind mount pins it, so no rename) with
   * `edit`. A file that is gone (the container is stopping) is fine; a failure is logged, not the caller's error.
   */
  async editHosts(
    containerId: string,
    hosts: SandboxFile['hosts'],
    edit: (text: string, names: string) => string,
  ): Promise<void> {
    if (!hosts) return;
    try {
      const fh = await open(hosts.file, 'r+');
      try {
        const text = await fh.readFile('utf8');
        const next = edit(text, hosts.names);
        if (next === text) return;
        await fh.truncate(0);
        await fh.write(next, 0, 'utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT'))
        this.#log?.warn(`container ${containerId.slice(0, 12)}: updating /etc/hosts: ${errorMessage(err)}`);
    }
  }
}
