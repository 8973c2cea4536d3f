/**
 * A container's mounts: resolved at create (binds checked or made, named volumes created on first use, anonymous
 * ones for `-v /path` and the image's VOLUMEs, tmpfs), and at each start the volumes acquired (a volume with
 * driver options is mounted on first use) and filled from the image the first time, as Docker.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageRunConfig } from '../oci/types.ts';
import type { VolumeService } from '../volumes/index.ts';
import { InvalidArgumentError, isErrno } from '../util/errors.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import { parseBind } from './config.ts';
import type { MountPoint, Row } from './model.ts';
import type { UndoStack } from './undo.ts';

const exec = promisify(execFile);

/** Volumes as mounts need them. */
export type MountVolumes = Pick<VolumeService, 'create' | 'remove' | 'acquire' | 'release'>;

/**
 * Binds, volumes and tmpfs of a new container, in Docker's order: `-v`, `--mount`, `--tmpfs`, then an anonymous
 * volume for each of the image's VOLUMEs not mounted otherwise. A volume made here for this container alone
 * (anonymous) is removed by `undo` if the create fails later.
 */
export async function resolveMounts(
  volumes: MountVolumes,
  hc: HostConfig,
  config: ImageRunConfig,
  undo: UndoStack,
): Promise<MountPoint[]> {
  const out: MountPoint[] = [];
  const taken = new Set<string>();
  const add = (m: MountPoint) => {
    if (taken.has(m.Destination)) throw new InvalidArgumentError(`Duplicate mount point: ${m.Destination}`);
    taken.add(m.Destination);
    out.push(m);
  };
  const volume = async (opts: Parameters<MountVolumes['create']>[0]) => {
    const v = await volumes.create(opts);
    if (!opts?.Name) undo.push(`volume ${v.Name}`, () => volumes.remove(v.Name));
    return v;
  };
  for (const spec of hc.Binds ?? []) {
    const b = parseBind(spec);
    const mode = [b.readOnly ? 'ro' : '', ...b.modes].filter(Boolean).join(',');
    const propagation =
      b.modes.find((m) => /^r?(private|shared|slave)$/.test(m)) ?? (b.kind === 'bind' ? 'rprivate' : '');
    if (b.kind === 'bind') {
      // docker -v creates a missing host directory (unlike --mount type=bind); an existing file is bound as it is.
      await mkdir(b.source, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      add({
        Type: 'bind',
        Source: b.source,
        Destination: b.target,
        Mode: mode,
        RW: !b.readOnly,
        Propagation: propagation,
      });
    } else {
      const v = await volume(b.source ? { Name: b.source } : {});
      add({
        Type: 'volume',
        Name: v.Name,
        Source: v.Mountpoint,
        Destination: b.target,
        Driver: 'local',
        Mode: mode || 'z',
        RW: !b.readOnly,
        Propagation: '',
        ...(b.source ? {} : { Anonymous: true }),
      });
    }
  }
  for (const m of hc.Mounts ?? []) {
    if (m.Type === 'bind') {
      try {
        await stat(m.Source!);
      } catch {
        throw new InvalidArgumentError(
          `invalid mount config for type "bind": bind source path does not exist: ${m.Source}`,
        );
      }
      add({
        Type: 'bind',
        Source: m.Source!,
        Destination: m.Target,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: m.BindOptions?.Propagation ?? 'rprivate',
      });
    } else if (m.Type === 'volume') {
      const v = await volume({
        ...(m.Source ? { Name: m.Source } : {}),
        ...(m.VolumeOptions?.Labels ? { Labels: m.VolumeOptions.Labels } : {}),
        ...(m.VolumeOptions?.DriverConfig?.Options ? { DriverOpts: m.VolumeOptions.DriverConfig.Options } : {}),
      });
      add({
        Type: 'volume',
        Name: v.Name,
        Source: v.Mountpoint,
        Destination: m.Target,
        Driver: 'local',
        Mode: 'z',
        RW: !m.ReadOnly,
        Propagation: '',
        ...(m.Source ? {} : { Anonymous: true }),
      });
    } else if (m.Type === 'tmpfs') {
      const opts: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      add({
        Type: 'tmpfs',
        Source: '',
        Destination: m.Target,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        TmpfsOptions: opts,
      });
    }
  }
  for (const [dest, o] of Object.entries(hc.Tmpfs ?? {})) {
    add({
      Type: 'tmpfs',
      Source: '',
      Destination: dest,
      Mode: o,
      RW: !o.split(',').includes('ro'),
      Propagation: '',
      TmpfsOptions: o ? o.split(',') : [],
    });
  }
  for (const dest of Object.keys(config.Volumes ?? {})) {
    if (taken.has(dest)) continue;
    const v = await volume({});
    add({
      Type: 'volume',
      Name: v.Name,
      Source: v.Mountpoint,
      Destination: dest,
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
      Anonymous: true,
    });
  }
  return out;
}

/**
 * Start: acquires each named volume of the container (released by `undo` if the start fails) and fills an empty
 * one from the image's content at its mount point. Returns each volume's host directory by name.
 */
export async function acquireVolumes(
  volumes: MountVolumes,
  r: Row,
  rootfs: string,
  undo: UndoStack,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of r.config.Mounts) {
    if (m.Type !== 'volume') continue;
    const source = await undo.acquire(
      `volume ${m.Name}`,
      () => volumes.acquire(m.Name!),
      () => volumes.release(m.Name!),
    );
    out.set(m.Name!, source);
    await copyUp(join(rootfs, m.Destination), source);
  }
  return out;
}

/** After the container stopped: what `acquireVolumes` acquired is released. */
export async function releaseVolumes(volumes: MountVolumes, r: Row): Promise<void> {
  for (const m of r.config.Mounts) if (m.Type === 'volume') await volumes.release(m.Name!).catch(() => {});
}

/** Copies the image's content at a volume's mount point into the volume the first time (empty volume), as Docker. */
async function copyUp(from: string, to: string): Promise<void> {
  let src: string[];
  try {
    if (!(await stat(from)).isDirectory()) return;
    src = await readdir(from);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
    throw err;
  }
  if (src.length === 0 || (await readdir(to)).length > 0) return;
  await exec('cp', ['-a', `${from}/.`, `${to}/`]);
}
