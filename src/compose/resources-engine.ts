import { NotFoundError } from '../util/errors.ts';
import { type ComposeContext, compareNames } from './context.ts';
import * as L from './labels.ts';
import type { Project } from './model.ts';

/**
 * The project's networks and named volumes on the engine: created when missing (labelled as Docker Compose
 * labels them), external ones checked, and removed by `down`.
 */

/** The networks and volumes the given services use. */
export function usedResources(
  project: Project,
  services: readonly string[],
): { networks: string[]; volumes: string[] } {
  const networks = new Set<string>();
  const volumes = new Set<string>();
  for (const n of services) {
    const s = project.services[n];
    if (s === undefined) continue;
    for (const key of Object.keys(s.networks)) networks.add(key);
    for (const v of s.volumes) if (v.type === 'volume' && v.source !== undefined) volumes.add(v.source);
  }
  return { networks: [...networks].sort(), volumes: [...volumes].sort() };
}

export async function ensureNetworks(ctx: ComposeContext, project: Project, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const net = project.networks[key];
    if (net === undefined) continue;
    const existing = (await ctx.client.networkList({ filters: { name: [net.name] }, signal: ctx.signal })).filter(
      (n) => n.Name === net.name,
    );
    if (net.external) {
      if (existing.length === 0)
        throw new NotFoundError(`network ${net.name} declared as external, but could not be found`);
      continue;
    }
    const found = existing[0];
    if (found !== undefined) {
      const labels = found.Labels ?? {};
      if (labels[L.PROJECT] === undefined) {
        ctx.reporter.warn(
          `a network with name ${net.name} exists but was not created by compose.\nSet \`external: true\` to use an existing network`,
        );
      } else if (labels[L.PROJECT] !== project.name) {
        ctx.reporter.warn(
          `a network with name ${net.name} exists but was not created for project "${project.name}".\nSet \`external: true\` to use an existing network`,
        );
      }
      continue;
    }
    ctx.reporter.event('Network', net.name, 'Creating');
    await ctx.client.networkCreate(
      {
        Name: net.name,
        Driver: net.driver ?? 'bridge',
        Options: net.driver_opts,
        Internal: net.internal ?? false,
        Attachable: net.attachable ?? false,
        EnableIPv6: net.enable_ipv6 ?? false,
        Labels: { ...net.labels, [L.PROJECT]: project.name, [L.NETWORK]: key, [L.VERSION]: L.COMPOSE_VERSION },
        ...(net.ipam !== undefined
          ? {
              IPAM: {
                Driver: net.ipam.driver ?? 'default',
                Config: net.ipam.config.map((c) => ({
                  ...(c.subnet !== undefined ? { Subnet: c.subnet } : {}),
                  ...(c.ip_range !== undefined ? { IPRange: c.ip_range } : {}),
                  ...(c.gateway !== undefined ? { Gateway: c.gateway } : {}),
                  ...(c.aux_addresses !== undefined ? { AuxiliaryAddresses: c.aux_addresses } : {}),
                })),
                Options: net.ipam.options ?? {},
              },
            }
          : {}),
      },
      { signal: ctx.signal },
    );
    ctx.reporter.event('Network', net.name, 'Created');
  }
}

export async function ensureVolumes(ctx: ComposeContext, project: Project, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const vol = project.volumes[key];
    if (vol === undefined) continue;
    let exists = true;
    try {
      const v = await ctx.client.volumeInspect(vol.name, { signal: ctx.signal });
      const owner = v.Labels?.[L.PROJECT];
      if (!vol.external && owner !== undefined && owner !== project.name) {
        ctx.reporter.warn(
          `volume "${vol.name}" already exists but was created for project "${owner}" (expected "${project.name}")`,
        );
      } else if (!vol.external && owner === undefined) {
        ctx.reporter.warn(
          `volume "${vol.name}" already exists but was not created by Docker Compose. Use \`external: true\` to use an existing volume`,
        );
      }
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      exists = false;
    }
    if (exists) continue;
    if (vol.external) throw new NotFoundError(`external volume "${vol.name}" not found`);
    ctx.reporter.event('Volume', vol.name, 'Creating');
    await ctx.client.volumeCreate(
      {
        Name: vol.name,
        Driver: vol.driver ?? 'local',
        DriverOpts: vol.driver_opts,
        Labels: { ...vol.labels, [L.PROJECT]: project.name, [L.VOLUME]: key, [L.VERSION]: L.COMPOSE_VERSION },
      },
      { signal: ctx.signal },
    );
    ctx.reporter.event('Volume', vol.name, 'Created');
  }
}

/** The project's networks (those it created: labelled with the project). */
export async function listNetworks(ctx: ComposeContext, project: string): Promise<{ Id: string; Name: string }[]> {
  return ctx.client.networkList({ filters: { label: [L.projectFilter(project)] }, signal: ctx.signal });
}

/** Removes networks (from `listNetworks`), all at once; one already gone is fine. */
export async function removeNetworks(ctx: ComposeContext, nets: { Id: string; Name: string }[]): Promise<void> {
  await removeEach(
    ctx,
    'Network',
    nets.map((n) => [n.Name, () => ctx.client.networkRemove(n.Id, { signal: ctx.signal })]),
  );
}

/** The project's named volumes (labelled with the project; external ones never are). */
export async function listVolumes(ctx: ComposeContext, project: string): Promise<{ Name: string }[]> {
  const { Volumes } = await ctx.client.volumeList({
    filters: { label: [L.projectFilter(project)] },
    signal: ctx.signal,
  });
  return Volumes ?? [];
}

/** Removes volumes (from `listVolumes`), all at once; one already gone is fine. */
export async function removeVolumes(ctx: ComposeContext, volumes: { Name: string }[]): Promise<void> {
  await removeEach(
    ctx,
    'Volume',
    volumes.map((v) => [v.Name, () => ctx.client.volumeRemove(v.Name, { signal: ctx.signal })]),
  );
}

/** Removes objects of one kind (name, removal) at once, reported in name order; one already gone is fine. */
async function removeEach(
  ctx: ComposeContext,
  kind: string,
  items: [name: string, remove: () => Promise<unknown>][],
): Promise<void> {
  items.sort(([a], [b]) => compareNames(a, b));
  for (const [name] of items) ctx.reporter.event(kind, name, 'Removing');
  await Promise.all(
    items.map(async ([name, remove]) => {
      try {
        await remove();
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      ctx.reporter.event(kind, name, 'Removed');
    }),
  );
}
