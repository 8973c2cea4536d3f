/**
 * Creating a container: everything is checked before anything is made (the request, then with the image its
 * command and spec options); then its endpoints, mounts, directory and snapshot are made through one undo stack,
 * so a create that fails at any step leaves nothing behind.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerCreateRequest } from '../engine-api/containers.ts';
import type { ImageService } from '../images/index.ts';
import type { ContainerRecords } from '../metadata/index.ts';
import type { Sandboxes } from '../network/index.ts';
import type { HostFacts, RuntimeDriver } from '../runtime/index.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { ConflictError, isErrno } from '../util/errors.ts';
import { phase, phaseSync } from '../util/trace.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import {
  checkCreateRequest,
  commandLine,
  generateName,
  mergeImageConfig,
  newContainerId,
  validateName,
} from './config.ts';
import type { Row, StoredConfig } from './model.ts';
import { type MountVolumes, resolveMounts } from './mounts.ts';
import { validateSpec } from './spec.ts';
import { resolveLinks } from './links.ts';
import { resolveJoinedModes, validateNamespaceModes } from './namespaces.ts';
import { hostConfigWarnings } from './resources.ts';
import { type ContainerState, initialState } from './state.ts';
import { UndoStack } from './undo.ts';

export interface CreateDeps {
  records: ContainerRecords<StoredConfig, HostConfig, ContainerState>;
  images: ImageService;
  snapshotter: Snapshotter;
  volumes: MountVolumes;
  networks: Sandboxes;
  runtimes: Map<string, RuntimeDriver>;
  defaultRuntime: string;
  host: HostFacts;
  initPath?: string | undefined;
  log?: { warn(m: string): void } | undefined;
  /** A container by ID, name or prefix (NotFound otherwise): `--network container:X`. */
  get(ref: string): Row;
  dir(id: string): string;
  /**
   * Makes the directory that holds every container's `dir`, marked as a top of directory hierarchies so that each
   * container's directory and files are placed away from those just removed (util/topdir.ts); once per process.
   */
  topDir(): Promise<unknown>;
  /** Names of containers being created, held from the name check to the insert. */
  creating: Set<string>;
}

/** Makes a container; returns its record, inserted, and dockerd's warnings about its options. */
export async function createContainer(
  d: CreateDeps,
  req: ContainerCreateRequest,
  name?: string,
): Promise<{ row: Row; warnings: string[] }> {
  const hc = checkCreateRequest(req, {
    runtimes: d.runtimes,
    defaultRuntime: d.defaultRuntime,
    init: Boolean(d.initPath),
  });
  validateNamespaceModes(hc, req.Hostname);
  const net = hc.NetworkMode || 'default';
  if (net.startsWith('container:')) hc.NetworkMode = `container:${d.get(net.slice('container:'.length)).id}`;
  const find = (ref: string) => {
    try {
      return d.get(ref);
    } catch {
      return undefined;
    }
  };
  resolveJoinedModes(hc, find);
  hc.Links = resolveLinks(hc, find);
  const warnings = hostConfigWarnings(hc, d.host);
  const image = d.images.resolve(req.Image!);
  const img = await phase('image', '', () => d.images.load(image));
  const config = mergeImageConfig(req, img.config.config ?? {});
  config.Image = req.Image!;
  const argv = commandLine(config);
  const cname = name ? validateName(name) : generateName((n) => d.records.byName(n) !== undefined || d.creating.has(n));
  const taken = (other?: Row) =>
    new ConflictError(
      `Conflict. The container name "/${cname}" is already in use${other ? ` by container "${other.id}"` : ''}. You have to remove (or rename) that container to be able to reuse that name.`,
    );
  const other = d.records.byName(cname);
  if (other || d.creating.has(cname)) throw taken(other);
  const id = newContainerId();
  const row: Row = {
    id,
    name: cname,
    imageId: image.configDigest,
    imageRef: req.Image!,
    created: Date.now(),
    config: { Config: config, Path: argv[0]!, Args: argv.slice(1), Mounts: [] },
    hostConfig: hc,
    state: initialState(),
    runtime: hc.Runtime!,
    snapshot: id,
  };
  phaseSync('spec', id, () => validateSpec(row, d.host));
  // The name is held from here to the insert: creates running at once must not pick the same one.
  d.creating.add(cname);
  try {
    await UndoStack.run(
      async (undo) => {
        // Validates the network mode and endpoints (400 "network X not found") and records the endpoints.
        if (!net.startsWith('container:')) {
          const endpoints = req.NetworkingConfig?.EndpointsConfig;
          const mode = await undo.acquire(
            'network endpoints',
            () => phase('network', id, async () => d.networks.prepare(id, net, endpoints, req.MacAddress)),
            () => d.networks.release(id),
          );
          hc.NetworkMode = net === 'default' ? 'default' : mode;
        }
        if (!config.Hostname)
          config.Hostname =
            net === 'host'
              ? (await readFile('/etc/hostname', 'utf8').catch(() => 'localhost')).trim()
              : id.slice(0, 12);
        row.config.Mounts = await resolveMounts(d.volumes, hc, config, undo);
        await d.topDir();
        undo.push('container directory', () => rm(d.dir(id), { recursive: true, force: true }));
        makeBundleDirs(d.dir(id));
        etcFiles(d.dir(id), config.Hostname, !net.startsWith('container:'));
        await undo.acquire(
          'snapshot',
          () => phase('snapshot', id, () => d.snapshotter.prepare(id, image.chainId ?? undefined)),
          () => d.snapshotter.remove(id),
        );
        if (!d.records.insert(row)) throw taken();
      },
      (m) => d.log?.warn(`create ${cname}: ${m}`),
    );
  } finally {
    d.creating.delete(cname);
  }
  return { row, warnings };
}

/**
 * The container's directory, its bundle and the bundle's rootfs: three mkdirs from the top. A recursive mkdir starts
 * from the deepest and walks up on ENOENT, two failed calls more per create; it stays the fallback for a directory
 * left by an earlier attempt or a containers' directory made afresh.
 */
function makeBundleDirs(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o711 });
    mkdirSync(join(dir, 'bundle'), { mode: 0o711 });
    mkdirSync(join(dir, 'bundle', 'rootfs'), { mode: 0o711 });
  } catch (e) {
    if (!isErrno(e, 'EEXIST') && !isErrno(e, 'ENOENT')) throw e;
    mkdirSync(join(dir, 'bundle', 'rootfs'), { recursive: true, mode: 0o711 });
  }
}

/**
 * The container's /etc/hostname, and its empty /etc/hosts and /etc/resolv.conf until its network is set up at start,
 * made at create as dockerd makes them, so that `docker cp` reads (and writes) them before the container starts.
 * A container on another's network (`container:X`) has X's.
 */
function etcFiles(dir: string, hostname: string, ownNetwork: boolean): void {
  // Three small files: synchronous calls, one step of the event loop (see ConmonRuntime.create).
  writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
  if (!ownNetwork) return;
  for (const f of ['hosts', 'resolv.conf']) appendFileSync(join(dir, f), '');
}
