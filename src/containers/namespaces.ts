/**
 * A container's namespace options as dockerd takes them: `--ipc`, `--pid`, `--uts`, `--cgroupns`, `--userns`,
 * `--isolation`, checked at create (dockerd's words), the `container:X` ones resolved to X's ID, and at start turned
 * into the spec's namespaces (joining X's by its process).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig } from '../engine-api/containers.ts';
import { DEFAULT_SHM_SIZE, type MountInput, type NamespacesInput } from '../runtime/index.ts';
import { mountAll, unmountAll } from '../snapshots/index.ts';
import { ConflictError, InvalidArgumentError } from '../util/errors.ts';
import type { Row } from './model.ts';

const IPC_MODES = /^(host|private|shareable|none|container:.+)?$/;
const PID_MODES = /^(host|container:.+)?$/;

/** dockerd's checks of the namespace options (verifyPlatformContainerSettings, runconfig's validators). */
export function validateNamespaceModes(hc: HostConfig, hostname: string | undefined): void {
  if (hc.IpcMode && !IPC_MODES.test(hc.IpcMode)) throw new InvalidArgumentError(`invalid IPC mode: ${hc.IpcMode}`);
  if (hc.PidMode && !PID_MODES.test(hc.PidMode)) throw new InvalidArgumentError(`invalid PID mode: ${hc.PidMode}`);
  if (hc.UTSMode && hc.UTSMode !== 'host') throw new InvalidArgumentError(`invalid UTS mode: ${hc.UTSMode}`);
  if (hc.CgroupnsMode && hc.CgroupnsMode !== 'host' && hc.CgroupnsMode !== 'private')
    throw new InvalidArgumentError(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
  if (hc.UsernsMode && hc.UsernsMode !== 'host')
    throw new InvalidArgumentError(
      `invalid user namespace mode: ${hc.UsernsMode} (containers share the host's user namespace: only "host" is accepted)`,
    );
  if (hc.Isolation && hc.Isolation !== 'default')
    throw new InvalidArgumentError(`invalid isolation (${hc.Isolation}): linux only supports 'default'`);
  if (hc.UTSMode === 'host' && hostname)
    throw new InvalidArgumentError('conflicting options: hostname and the UTS mode');
}

/**
 * `--ipc container:X` and `--pid container:X` with X's full ID, so that a rename of X changes nothing (X may not exist
 * yet: start says so then, as dockerd).
 */
export function resolveJoinedModes(hc: HostConfig, get: (ref: string) => Row | undefined): void {
  for (const key of ['IpcMode', 'PidMode'] as const) {
    const mode = hc[key];
    if (!mode?.startsWith('container:')) continue;
    const other = get(mode.slice('container:'.length));
    if (other) hc[key] = `container:${other.id}`;
  }
}

/** What a container joins of others': their processes (for the namespaces) and the donor's /dev/shm on the host. */
export interface JoinedNamespaces {
  ipc?: { pid: number; shm: string };
  pid?: number;
}

/** The host directory a shareable container's /dev/shm is mounted on (dockerd's ShmPath), so others can join it. */
export function shmDir(containerDir: string): string {
  return join(containerDir, 'shm');
}

/**
 * At start, for `--ipc shareable`: a tmpfs for /dev/shm mounted on the host side, which the container and those that
 * join its IPC namespace bind (a mount inside the container's own mount namespace could not be bound by others).
 */
export async function mountShareableShm(r: Row, containerDir: string): Promise<void> {
  if (r.hostConfig.IpcMode !== 'shareable') return;
  const dir = shmDir(containerDir);
  await mkdir(dir, { recursive: true });
  await unmountAll(dir, { detach: true });
  const size = r.hostConfig.ShmSize || DEFAULT_SHM_SIZE;
  mountAll(
    [{ type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${size}`] }],
    dir,
  );
}

/** After the run: the shareable /dev/shm unmounted (its content goes, as with dockerd). */
export async function unmountShareableShm(r: Row, containerDir: string): Promise<void> {
  if (r.hostConfig.IpcMode === 'shareable') await unmountAll(shmDir(containerDir), { detach: true }).catch(() => {});
}

/** Finds the containers `--ipc container:X` and `--pid container:X` name; each must be running, X shareable. */
export function joinedNamespaces(
  r: Row,
  record: (ref: string) => Row | undefined,
  dir: (id: string) => string,
): JoinedNamespaces {
  const out: JoinedNamespaces = {};
  const ipc = r.hostConfig.IpcMode;
  if (ipc?.startsWith('container:')) {
    const ref = ipc.slice('container:'.length);
    const x = record(ref);
    if (x?.state.Status !== 'running') throw new ConflictError(`cannot join IPC of a non running container: ${ref}`);
    const mode = x.hostConfig.IpcMode ?? '';
    if (mode !== 'shareable' && mode !== 'host')
      throw new InvalidArgumentError(`non-shareable IPC (hint: use IpcMode:shareable for the donor container): ${ref}`);
    out.ipc = { pid: x.state.Pid, shm: mode === 'host' ? '/dev/shm' : shmDir(dir(x.id)) };
  }
  const pid = r.hostConfig.PidMode;
  if (pid?.startsWith('container:')) {
    const ref = pid.slice('container:'.length);
    const x = record(ref);
    if (x?.state.Status !== 'running') throw new ConflictError(`cannot join PID of a non running container: ${ref}`);
    out.pid = x.state.Pid;
  }
  return out;
}

/** The spec's namespaces besides the network's, and the /dev/shm a shared or joined IPC namespace binds. */
export function namespaceInput(
  hc: HostConfig,
  joined: JoinedNamespaces,
  containerDir: string,
): { namespaces: Omit<NamespacesInput, 'network'>; mounts: MountInput[]; noShm: boolean } {
  const ns: Omit<NamespacesInput, 'network'> = {};
  const mounts: MountInput[] = [];
  if (hc.PidMode === 'host') ns.pid = 'host';
  else if (joined.pid) ns.pid = { path: `/proc/${joined.pid}/ns/pid` };
  if (hc.IpcMode === 'host') ns.ipc = 'host';
  else if (joined.ipc) {
    ns.ipc = { path: `/proc/${joined.ipc.pid}/ns/ipc` };
    mounts.push({ type: 'bind', source: joined.ipc.shm, destination: '/dev/shm' });
  } else if (hc.IpcMode === 'shareable')
    mounts.push({ type: 'bind', source: shmDir(containerDir), destination: '/dev/shm' });
  if (hc.UTSMode === 'host') ns.uts = 'host';
  if (hc.CgroupnsMode === 'host' || hc.CgroupnsMode === 'private') ns.cgroup = hc.CgroupnsMode;
  return { namespaces: ns, mounts, noShm: hc.IpcMode === 'none' };
}
