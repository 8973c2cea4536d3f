/**
 * A container's run: what start acquires, in order — its root filesystem mounted, its volumes, its network
 * sandbox, the runtime's container — each undone in reverse if a later step fails, and released in the same
 * reverse order when the container has stopped (`releaseRun`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sandbox, Sandboxes } from '../network/index.ts';
import {
  buildSpec,
  type DeviceInput,
  type HostFacts,
  OciRuntimeError,
  ProcessStartError,
  type RuntimeDriver,
  serializeSpec,
} from '../runtime/index.ts';
import { type Mount, mountAll, type Snapshotter, unmountAll } from '../snapshots/index.ts';
import { ConflictError, isErrno } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import { deviceInput } from './devices.ts';
import type { Row } from './model.ts';
import { acquireVolumes, type MountVolumes, releaseVolumes } from './mounts.ts';
import { runtimeOptions, specInput } from './spec.ts';
import { UndoStack } from './undo.ts';
import { resolveUser } from './users.ts';
import { type LinkInput, linkedChildren, linkInput } from './links.ts';
import { joinedNamespaces, mountShareableShm, unmountShareableShm } from './namespaces.ts';

/** What a run needs. */
export interface RunDeps {
  snapshotter: Snapshotter;
  volumes: MountVolumes;
  networks: Sandboxes;
  host: HostFacts;
  /** A small init for --init (catatonit or tini), if installed. */
  initPath?: string | undefined;
  /** The container's directory (bundle, /etc files, log). */
  dir(id: string): string;
  logPath(id: string): string;
  /** Another container's record, for `--network container:X`. */
  record(id: string): Row | undefined;
  log?: { warn(m: string): void } | undefined;
}

/**
 * Starts the container's process: mounts its root, acquires its volumes, sets up its network while the runtime
 * creates the container, writes its spec, and starts it once the network is ready and `beforeStart` (the attach
 * hand-over) is done. On failure everything acquired is undone before the error is thrown. Returns the process's
 * host PID.
 */
export async function launch(
  d: RunDeps,
  r: Row,
  driver: RuntimeDriver,
  beforeStart: () => Promise<void>,
): Promise<{ pid: number }> {
  const dir = d.dir(r.id);
  const bundle = join(dir, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  return UndoStack.run(
    async (undo) => {
      await phase('start.leftovers', r.id, async () => {
        // A container that ran before still has its runtime record until cleaned up.
        await driver.delete(r.id, { force: true }).catch(() => {});
        mkdirSync(rootfs, { recursive: true });
        await unmountAll(rootfs, { detach: true });
      });
      await undo.acquire(
        'root filesystem',
        async () => mountAll(ephemeral(r, await d.snapshotter.mounts(r.snapshot)), rootfs),
        () => unmountAll(rootfs, { detach: true }),
      );
      const user = await phase('user', r.id, () =>
        resolveUser(rootfs, r.config.Config.User ?? '', r.hostConfig.GroupAdd ?? []),
      );
      const volumes = await phase('volumes', r.id, () => acquireVolumes(d.volumes, r, rootfs, undo));
      const joined = joinedNamespaces(r, d.record, d.dir);
      await undo.acquire(
        'shareable /dev/shm',
        () => mountShareableShm(r, dir),
        () => unmountShareableShm(r, dir),
      );
      const links = linksOf(d, r);
      // Torn down whatever part of the set-up failed (tearing down nothing is fine).
      undo.push('network', () => d.networks.tearDown(r.id));
      const net = await phase('network', r.id, () => setUpNetwork(d, r, dir, links.hosts));
      const devices = await statDevices(r);
      const spec = await phase('spec', r.id, async () => {
        const spec = buildSpec(
          specInput(r, {
            rootfs,
            user,
            volumes,
            etc: { hosts: net.hosts, hostname: join(dir, 'hostname'), resolvConf: net.resolvConf },
            network: net.netns,
            devices,
            init: d.initPath,
            host: d.host,
            dir,
            joined,
            linkEnv: links.env,
          }),
        );
        // Synchronous, as the runtime driver's own small files: one step of the event loop, not three round trips
        // through libuv's pool (see ConmonRuntime.create).
        writeFileSync(join(bundle, 'config.json'), serializeSpec(spec));
        return spec;
      });
      const { pid } = await undo.acquire(
        'runtime container',
        () => driver.create(r.id, { ...runtimeOptions(r, d.logPath(r.id)), bundle, name: r.name, spec }),
        () => driver.delete(r.id, { force: true }),
      );
      // The network was set up while the runtime created the container; the process must not start before it.
      await phase('network.ready', r.id, () => net.ready);
      await beforeStart();
      await driver.start(r.id);
      return { pid };
    },
    (m) => d.log?.warn(`container ${r.id.slice(0, 12)}: ${m}`),
  );
}

/**
 * After the container stopped: the network torn down in the background (or, when the container is being removed,
 * released: its endpoints forgotten too), the runtime's container deleted, volumes released, the root unmounted.
 */
export async function releaseRun(
  d: RunDeps,
  r: Row,
  driver: RuntimeDriver | undefined,
  opts: { removing?: boolean } = {},
): Promise<void> {
  // The network goes first, in the background: the container's processes are gone, so its namespace is free, and
  // the teardown (then the bridge's, when it was the last endpoint) runs while the runtime deletes its container.
  await phase('network', r.id, () =>
    opts.removing ? d.networks.release(r.id, { background: true }) : d.networks.tearDown(r.id, { background: true }),
  );
  await driver?.delete(r.id, { force: true }).catch(() => {});
  await phase('volumes', r.id, () => releaseVolumes(d.volumes, r));
  await unmountShareableShm(r, d.dir(r.id));
  await unmountAll(join(d.dir(r.id), 'bundle', 'rootfs'), { detach: true }).catch(() => {});
}

/**
 * A `--rm` container's writable layer is thrown away when it stops, so its overlay is mounted `volatile`: overlay then
 * skips the sync of the whole upper filesystem when it is unmounted (measured here at 24–190 ms on a busy disk, on
 * the exit path of every container) and the container's own syncs, which no crash could make matter: after one, the
 * container is removed at start-up like any other `--rm` container that stopped.
 */
export function ephemeral(r: Row, mounts: Mount[]): Mount[] {
  if (!r.hostConfig.AutoRemove) return mounts;
  return mounts.map((m) =>
    m.type === 'overlay' && m.options.some((o) => o.startsWith('upperdir='))
      ? { ...m, options: [...m.options, 'volatile'] }
      : m,
  );
}

/** `--device` nodes stat'ed on the host. */
async function statDevices(r: Row): Promise<DeviceInput[]> {
  const out: DeviceInput[] = [];
  for (const dev of r.hostConfig.Devices ?? [])
    out.push(deviceInput(dev, await stat(dev.PathOnHost).catch(() => undefined)));
  return out;
}

/**
 * The container's network, before the runtime creates it: its hostname file here, then its sandbox (namespace,
 * interfaces, published ports, /etc/hosts and /etc/resolv.conf) from the network side. `container:X` joins X's
 * namespace and shares X's files, as Docker (X's own peer when X joined another).
 */
async function setUpNetwork(d: RunDeps, r: Row, dir: string, linkHosts: readonly string[]): Promise<Sandbox> {
  const c = r.config.Config;
  const hc = r.hostConfig;
  const mode = hc.NetworkMode || 'default';
  const hostname = c.Hostname ?? r.id.slice(0, 12);
  // Made at create with this text: rewritten only when changed or gone (a `docker cp` over it), as dockerd writes it
  // at each start, so that a start reads it instead of writing it a second time.
  const hostnameFile = join(dir, 'hostname');
  let current: string | undefined;
  try {
    current = readFileSync(hostnameFile, 'utf8');
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  if (current !== `${hostname}\n`) writeFileSync(hostnameFile, `${hostname}\n`);
  const peer = networkPeer(r, d.record);
  if (mode.startsWith('container:') && (!peer || (peer.state.Status !== 'running' && peer.state.Status !== 'paused')))
    throw new ConflictError(
      `cannot join network of a non running container: ${peer?.id ?? mode.slice('container:'.length)}`,
    );
  return d.networks.setUp({
    id: r.id,
    name: r.name,
    hostname,
    ...(c.Domainname ? { domainname: c.Domainname } : {}),
    networkMode: mode === 'default' ? 'bridge' : mode,
    portBindings: hc.PortBindings ?? null,
    publishAll: hc.PublishAllPorts ?? false,
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
    dns: hc.Dns ?? null,
    dnsSearch: hc.DnsSearch ?? null,
    dnsOptions: hc.DnsOptions ?? null,
    extraHosts: linkHosts.length ? [...(hc.ExtraHosts ?? []), ...linkHosts] : (hc.ExtraHosts ?? null),
    dir,
    ...(peer
      ? {
          peer: {
            id: peer.id,
            pid: peer.state.Pid,
            networkMode: peer.hostConfig.NetworkMode || 'default',
            dir: d.dir(peer.id),
          },
        }
      : {}),
    early: true,
  });
}

/** What the container's legacy links give it at start (see links.ts): variables, and hosts lines. */
function linksOf(d: RunDeps, r: Row): LinkInput {
  if (!r.hostConfig.Links?.length) return { env: [], hosts: [] };
  const mode = r.hostConfig.NetworkMode || 'default';
  const bridge = mode === 'default' || mode === 'bridge';
  const networks = d.networks.attachments(r.id, mode).map((n) => n.name);
  const children = linkedChildren(r, d.record, networks, (child) => {
    const s = d.networks.settings(child.id, child.hostConfig.NetworkMode || 'default');
    return Object.fromEntries(Object.entries(s.Networks).map(([n, e]) => [n, e.IPAddress ?? '']));
  });
  return linkInput(r.name, children, bridge);
}

/**
 * The container whose network a `--network container:X` container joins: X, or the one X joined in turn;
 * undefined for a container with a network of its own, or when X is gone.
 */
export function networkPeer(r: Row, record: (id: string) => Row | undefined): Row | undefined {
  let peer: Row | undefined = r;
  for (let hops = 0; peer?.hostConfig.NetworkMode?.startsWith('container:') && hops < 8; hops++)
    peer = record(peer.hostConfig.NetworkMode.slice('container:'.length));
  return peer === r ? undefined : peer;
}

/**
 * A failed start as the client sees it: the runtime's errors say they come from creating the container's task (as
 * dockerd's do), keeping their kind; every other error is passed on as it is.
 */
export function startError(err: unknown): unknown {
  const prefix = 'failed to create task for container';
  if (err instanceof ProcessStartError)
    return new ProcessStartError(`${prefix}: ${err.message}`, err.exitCode, { cause: err });
  if (err instanceof OciRuntimeError) return new OciRuntimeError(`${prefix}: ${err.message}`, { cause: err });
  return err;
}
