/**
 * The directory that holds every snapshot's directory is marked as the top of directory hierarchies (ext2/3/4's
 * `T` attribute, EXT4_TOPDIR_FL, set with `chattr +T`): ext4 then places each snapshot's directory as it places
 * directories at the file system's root (its Orlov allocator), in a block group with few directories and more free
 * inodes than the average, rather than beside its parent; a layer's files go where their snapshot's directory went.
 *
 * Why: without a journal, ext4 does not reuse an inode freed in the last minute (five, while its inode table block
 * is not written back), and looks at every such inode of the group in turn, from the start of the group, for each
 * file it creates (`find_inode_bit`, `recently_deleted`). Where images and containers were just removed (as a pull or
 * load after a removal, or every round of a benchmark), each new file of a layer paid for all the files removed
 * before it, more the more were removed: 2,048 files took 115 to 850 ms of system time to create in one directory
 * tree, against 55 to 75 ms under a directory marked so (bench/README.md, "Data path"). With a journal the check is
 * not made, and the mark only spreads snapshots over the disk's groups.
 *
 * On other file systems (or without chattr) the mark is not set and nothing changes: it is a placement hint only.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Waited for at most this long: chattr is one ioctl. */
const TIMEOUT_MS = 5_000;

/**
 * Makes `dir` (and its parents) and marks it `T`; resolves whether the mark is set. Never rejects: a file system
 * without the attribute, a missing chattr and an error making the directory all leave it as it was (making it
 * again, as snapshots are created, reports the error there).
 */
export function markTopDir(dir: string): Promise<boolean> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    execFile('chattr', ['+T', dir], { timeout: TIMEOUT_MS }, (err) => resolve(err === null));
  });
}
