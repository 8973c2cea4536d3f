/** `--device`: a host device node as the spec builder takes it. Pure: the caller stats the node. */
import type { DeviceInput } from '../runtime/index.ts';
import { deviceNumbers } from '../util/devnum.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import type { HostConfig } from '../engine-api/containers.ts';

/** One `HostConfig.Devices` entry. */
export type DeviceRequest = NonNullable<HostConfig['Devices']>[number];

/** What the spec needs of the host's node (`fs.Stats` fits). */
export interface DeviceStat {
  rdev: number;
  mode: number;
  uid: number;
  gid: number;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}

/** The device in the container: at `PathInContainer` (default the host path), numbers and owner of the host's node. */
export function deviceInput(d: DeviceRequest, st: DeviceStat | undefined): DeviceInput {
  const fail = (why: string) =>
    new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": ${why}`);
  if (!st) throw fail('no such file or directory');
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) throw fail('not a device node');
  return {
    path: d.PathInContainer || d.PathOnHost,
    type,
    ...deviceNumbers(st.rdev),
    permissions: d.CgroupPermissions || 'rwm',
    fileMode: st.mode & 0o777,
    uid: st.uid,
    gid: st.gid,
  };
}
