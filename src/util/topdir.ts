/**
 * Directories whose children are made and removed again and again (snapshots, containers, the runtime's and conmon's
 * per-container state) are marked as tops of directory hierarchies (ext2/3/4's `T` attribute, EXT4_TOPDIR_FL, set
 * with `chattr +T`): ext4 then places each child directory as it places directories at the file system's root (its
 * Orlov allocator), in a block group with few directories and more free inodes than the average, rather than beside
 * its parent; the files made in a child go where the child went.
 *
 * Why: without a journal, ext4 does not reuse an inode freed in the last minute (five, while its inode table block
 * is not written back), and looks at every such inode of the group in turn, from the start of the group, for each
 * file it creates (`find_inode_bit`, `recently_deleted`). Where images and containers were just removed (as a pull or
 * load after a removal, or every round of a benchmark), each new file paid for all the files removed before it,
 * more the more were removed: 2,048 files of a layer took 115 to 850 ms of system time to create in one directory
 * tree, against 55 to 75 ms under a directory marked so (bench/README.md, "Data path"); a container's ~11 directories
 * and files ~3 ms against ~0.4 ms (bench/README.md, "Start path"). With a journal the check is not made, and the
 * mark only spreads the children over the disk's groups.
 *
 * On other file systems (tmpfs, as /run usually is; or without chattr) the mark is not set and nothing changes: it
 * is a placement hint only.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Waited for at most this long: chattr is one ioctl. */
const TIMEOUT_MS = 5_000;

/**
 * Makes each of `dirs` (and their parents) and marks them `T`, with one chattr; resolves whether every mark is set.
 * Never rejects: a file system without the attribute, a missing chattr and an error making a directory all leave it
 * as it was (making it again, as its children are made, reports the error there).
 */
export function markTopDir(...dirs: string[]): Promise<boolean> {
  const made = dirs.filter((dir) => {
    try {
      mkdirSync(dir, { recursive: true });
      return true;
    } catch {
      return false;
    }
  });
  if (made.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('chattr', ['+T', ...made], { timeout: TIMEOUT_MS }, (err) =>
      resolve(err === null && made.length === dirs.length),
    );
  });
}
