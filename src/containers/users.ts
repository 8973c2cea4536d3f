import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, isErrno } from '../util/errors.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** A colon-separated file of the image (a few KB): read synchronously, one call instead of four pool round trips. */
function readLines(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/**
 * Docker's `-u` rules against the container's own /etc/passwd and /etc/group: `name`, `uid`, `name:group`,
 * `uid:gid`; a name that is not in the file is an error, a number need not be; the user's supplementary groups
 * from /etc/group are added, then `--group-add` entries (names or numbers).
 */
export async function resolveUser(
  rootfs: string,
  spec: string,
  groupAdd: readonly string[] = [],
): Promise<ResolvedUser> {
  const passwd = readLines(join(rootfs, 'etc/passwd'));
  const groups = readLines(join(rootfs, 'etc/group'));
  const [userPart = '', groupPart] = spec === '' ? ['0'] : spec.split(':');
  let uid: number;
  let gid: number;
  let home = '/';
  let name: string | undefined;
  const byName = passwd.find((p) => p[0] === userPart);
  const byId = /^\d+$/.test(userPart) ? passwd.find((p) => p[2] === userPart) : undefined;
  const entry = byName ?? byId;
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
    name = entry[0];
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    gid = 0;
  } else {
    throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== '') {
    gid = groupId(groups, groupPart);
  }
  // As dockerd: the primary group first, then the groups that list the user (only when no group was given), then
  // --group-add (`id` shows `groups=<gid>(…)`, even for a user in no group).
  const additional = [gid];
  const explicitGroup = groupPart !== undefined && groupPart !== '';
  if (name !== undefined && !explicitGroup)
    for (const g of groups) if ((g[3] ?? '').split(',').includes(name)) additional.push(Number(g[2]));
  for (const g of groupAdd) additional.push(groupId(groups, g));
  return { uid, gid, additionalGids: additional, home };
}

function groupId(groups: string[][], g: string): number {
  const e = groups.find((x) => x[0] === g);
  if (e) return Number(e[2]);
  if (/^\d+$/.test(g)) return Number(g);
  throw new InvalidArgumentError(`unable to find group ${g}: no matching entries in group file`);
}
