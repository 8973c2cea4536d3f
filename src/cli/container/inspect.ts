import type { EngineClient } from '../../client/index.ts';
import { BerthError, NotFoundError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { IMAGE_SHAPE, inspectObjects, type InspectShape } from '../image/inspect.ts';

/**
 * `berth container inspect` and the generic `berth inspect` (docker/cli `system/inspect.go`): without
 * `--type`, each name is tried as a container, then an image, a network and a volume; objects that are
 * not found are skipped, and a name that is nothing is "Error: No such object: NAME".
 */

/** The parts of docker's `container.InspectResponse` that are not structs. */
export const CONTAINER_SHAPE: InspectShape = {
  typeName: 'container.InspectResponse',
  maps: [
    'Config.Labels',
    'Config.ExposedPorts',
    'Config.Volumes',
    'HostConfig.PortBindings',
    'HostConfig.LogConfig.Config',
    'HostConfig.StorageOpt',
    'HostConfig.Tmpfs',
    'HostConfig.Sysctls',
    'HostConfig.Annotations',
    'GraphDriver.Data',
    'NetworkSettings.Ports',
    'NetworkSettings.Networks',
  ],
  slices: [
    'Args',
    'Mounts',
    'Config.Env',
    'Config.Cmd',
    'Config.Entrypoint',
    'Config.OnBuild',
    'Config.Shell',
    'HostConfig.Binds',
    'HostConfig.CapAdd',
    'HostConfig.CapDrop',
    'HostConfig.Dns',
    'HostConfig.DnsOptions',
    'HostConfig.DnsSearch',
    'HostConfig.ExtraHosts',
    'HostConfig.GroupAdd',
    'HostConfig.Links',
    'HostConfig.SecurityOpt',
    'HostConfig.VolumesFrom',
    'HostConfig.Devices',
    'HostConfig.Ulimits',
    'HostConfig.Mounts',
    'HostConfig.MaskedPaths',
    'HostConfig.ReadonlyPaths',
    'HostConfig.ConsoleSize',
  ],
  times: [],
  omitted: ['SizeRw', 'SizeRootFs', 'Node', 'ImageManifestDescriptor', 'State.Health'],
  renames: {
    Id: 'ID',
    'HostConfig.CpuShares': 'CPUShares',
    'HostConfig.NanoCpus': 'NanoCPUs',
    'HostConfig.CpuPeriod': 'CPUPeriod',
    'HostConfig.CpuQuota': 'CPUQuota',
    'HostConfig.CpuRealtimePeriod': 'CPURealtimePeriod',
    'HostConfig.CpuRealtimeRuntime': 'CPURealtimeRuntime',
    'HostConfig.CpuCount': 'CPUCount',
    'HostConfig.CpuPercent': 'CPUPercent',
    'HostConfig.Dns': 'DNS',
    'HostConfig.DnsOptions': 'DNSOptions',
    'HostConfig.DnsSearch': 'DNSSearch',
  },
};

export const VOLUME_SHAPE: InspectShape = {
  typeName: 'volume.Volume',
  maps: ['Labels', 'Options', 'Status'],
  slices: [],
  times: [],
  omitted: ['Status', 'UsageData', 'ClusterVolume'],
};

export const NETWORK_SHAPE: InspectShape = {
  typeName: 'network.Inspect',
  maps: ['Options', 'Labels', 'Containers', 'Peers', 'Services'],
  slices: ['IPAM.Config'],
  times: ['Created'],
};

export interface InspectOptions {
  refs: string[];
  format: string;
  size: boolean;
}

export function inspectContainers(
  client: EngineClient,
  out: OutStream,
  opts: InspectOptions,
  signal?: AbortSignal,
): Promise<void> {
  return inspectObjects(
    out,
    opts,
    (ref) => client.containerInspectRaw(ref, { size: opts.size, signal }),
    CONTAINER_SHAPE,
  );
}

/** Errors that let the generic inspect try the next type, as docker's `isErrSkippable`. */
function skippable(err: unknown): boolean {
  if (err instanceof NotFoundError) return true;
  const text = err instanceof Error ? err.message : String(err);
  return text.includes('not supported') || text.includes('invalid reference format');
}

type ObjectType = 'container' | 'image' | 'network' | 'volume';

/** `berth inspect [--type T]`. */
export async function inspectAny(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: InspectOptions & { type: string },
  signal?: AbortSignal,
): Promise<void> {
  const all: { type: ObjectType; size: boolean; get: (ref: string) => Promise<string>; shape: InspectShape }[] = [
    {
      type: 'container',
      size: true,
      get: (ref) => client.containerInspectRaw(ref, { size: opts.size, signal }),
      shape: CONTAINER_SHAPE,
    },
    { type: 'image', size: false, get: (ref) => client.imageInspectRaw(ref, { signal }), shape: IMAGE_SHAPE },
    { type: 'network', size: false, get: (ref) => client.networkInspectRaw(ref, { signal }), shape: NETWORK_SHAPE },
    { type: 'volume', size: false, get: (ref) => client.volumeInspectRaw(ref, { signal }), shape: VOLUME_SHAPE },
  ];
  const known = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];
  if (opts.type !== '' && !known.includes(opts.type)) {
    throw new BerthError(
      `unknown type: ${JSON.stringify(opts.type)}: must be one of ${known.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  }
  await inspectObjects(out, opts, async (ref) => {
    for (const kind of all) {
      if (opts.type !== '' && kind.type !== opts.type) continue;
      try {
        const raw = await kind.get(ref);
        if (opts.size && !kind.size) err.write(`WARNING: --size ignored for ${kind.type}\n`);
        return { raw, shape: kind.shape };
      } catch (e) {
        if (opts.type === '' && skippable(e)) continue;
        throw e;
      }
    }
    throw new BerthError(`Error: No such object: ${ref}`);
  });
}
