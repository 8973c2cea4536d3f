import { findCycle } from './graph.ts';
import type { FileObjectConfig, NetworkConfig, Project, VolumeConfig } from './model.ts';
import { absPath, listOrDict, type NormalizeContext, toBool } from './normalize.ts';
import type { Positions } from './source.ts';

/**
 * The top-level networks, volumes, secrets and configs in their long form (names resolved: `<project>_<key>`
 * unless `name:` is set or the resource is external, whose name is its key), and the checks that make a project
 * runnable: every service, network, volume, secret and config a service refers to exists, and there is no
 * dependency cycle. Errors name the file and line of the reference, with Docker Compose's wording.
 */

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(listOrDict(v))) out[k] = x ?? '';
  return out;
}

/** `external: true`, or the legacy `external: {name: x}`. */
function external(def: Dict, path: (string | number)[], ctx: NormalizeContext): { ext?: boolean; name?: string } {
  if (isDict(def.external))
    return { ext: true, ...(def.external.name !== undefined ? { name: String(def.external.name) } : {}) };
  const ext = toBool(def.external, [...path, 'external'], ctx);
  return ext === undefined ? {} : { ext };
}

export function normalizeNetworks(raw: unknown, project: string, ctx: NormalizeContext): Record<string, NetworkConfig> {
  const out: Record<string, NetworkConfig> = {};
  for (const [key, value] of Object.entries(isDict(raw) ? raw : {})) {
    const def = isDict(value) ? value : {};
    const path = ['networks', key];
    const { ext, name: extName } = external(def, path, ctx);
    const name = def.name !== undefined ? String(def.name) : (extName ?? (ext ? key : `${project}_${key}`));
    const n: NetworkConfig = { name, driver_opts: stringMap(def.driver_opts), labels: stringMap(def.labels) };
    if (ext !== undefined) n.external = ext;
    if (def.driver !== undefined) n.driver = String(def.driver);
    for (const k of ['internal', 'attachable', 'enable_ipv6'] as const) {
      const b = toBool(def[k], [...path, k], ctx);
      if (b !== undefined) n[k] = b;
    }
    if (isDict(def.ipam)) {
      const ipam = def.ipam;
      n.ipam = {
        config: (Array.isArray(ipam.config) ? ipam.config : []).filter(isDict).map((c) => {
          const cfg: NonNullable<NetworkConfig['ipam']>['config'][number] = {};
          if (c.subnet !== undefined) cfg.subnet = String(c.subnet);
          if (c.ip_range !== undefined) cfg.ip_range = String(c.ip_range);
          if (c.gateway !== undefined) cfg.gateway = String(c.gateway);
          if (c.aux_addresses !== undefined) cfg.aux_addresses = stringMap(c.aux_addresses);
          return cfg;
        }),
      };
      if (ipam.driver !== undefined) n.ipam.driver = String(ipam.driver);
      if (ipam.options !== undefined) n.ipam.options = stringMap(ipam.options);
    }
    out[key] = n;
  }
  return out;
}

export function normalizeVolumes(raw: unknown, project: string, ctx: NormalizeContext): Record<string, VolumeConfig> {
  const out: Record<string, VolumeConfig> = {};
  for (const [key, value] of Object.entries(isDict(raw) ? raw : {})) {
    const def = isDict(value) ? value : {};
    const { ext, name: extName } = external(def, ['volumes', key], ctx);
    const name = def.name !== undefined ? String(def.name) : (extName ?? (ext ? key : `${project}_${key}`));
    const v: VolumeConfig = { name, driver_opts: stringMap(def.driver_opts), labels: stringMap(def.labels) };
    if (ext !== undefined) v.external = ext;
    if (def.driver !== undefined) v.driver = String(def.driver);
    out[key] = v;
  }
  return out;
}

export function normalizeFileObjects(
  kind: 'secrets' | 'configs',
  raw: unknown,
  project: string,
  ctx: NormalizeContext,
): Record<string, FileObjectConfig> {
  const out: Record<string, FileObjectConfig> = {};
  for (const [key, value] of Object.entries(isDict(raw) ? raw : {})) {
    const def = isDict(value) ? value : {};
    const { ext, name: extName } = external(def, [kind, key], ctx);
    const name = def.name !== undefined ? String(def.name) : (extName ?? (ext ? key : `${project}_${key}`));
    const o: FileObjectConfig = { name, labels: stringMap(def.labels) };
    if (ext !== undefined) o.external = ext;
    if (def.file !== undefined) o.file = absPath(String(def.file), ctx);
    if (def.environment !== undefined) o.environment = String(def.environment);
    if (def.content !== undefined) o.content = String(def.content);
    out[key] = o;
  }
  return out;
}

/**
 * Checks that everything a service refers to exists (Docker Compose's checkConsistency), with the position of
 * the reference. `disabled` are services left out by profiles: depending on one is an error too.
 */
export function checkConsistency(project: Project, positions: Positions, warn: (msg: string) => void): void {
  const all = { ...project.disabledServices, ...project.services };
  for (const [name, s] of Object.entries(project.services)) {
    const at = (...rest: (string | number)[]) => ['services', name, ...rest];
    for (const [dep, d] of Object.entries(s.depends_on)) {
      if (project.services[dep] !== undefined) continue;
      if (!d.required) {
        warn(`service "${name}" depends on undefined service "${dep}": ignored as the dependency is not required`);
        continue;
      }
      if (project.disabledServices[dep] !== undefined) {
        const profiles = project.disabledServices[dep].profiles.join(', ');
        throw positions.error(
          at('depends_on', dep),
          `service "${dep}" is required by "${name}" but is disabled; it can be enabled by the profiles [${profiles}]`,
        );
      }
      throw positions.error(at('depends_on', dep), `service "${name}" depends on undefined service "${dep}"`);
    }
    for (const [key, mode] of [
      ['network_mode', s.network_mode],
      ['ipc', s.ipc],
      ['pid', s.pid],
    ] as const) {
      if (mode?.startsWith('service:') && all[mode.slice(8)] === undefined) {
        throw positions.error(at(key), `service "${mode.slice(8)}" not found for ${key} "${mode}"`);
      }
    }
    for (const [i, v] of s.volumes_from.entries()) {
      const src = v.split(':')[0]!;
      if (src !== 'container' && all[src] === undefined) {
        throw positions.error(at('volumes_from', i), `service "${name}" depends on undefined service "${src}"`);
      }
    }
    for (const net of Object.keys(s.networks)) {
      if (project.networks[net] === undefined) {
        throw positions.error(at('networks', net), `service "${name}" refers to undefined network ${net}`);
      }
    }
    for (const [i, v] of s.volumes.entries()) {
      if (v.type === 'volume' && v.source !== undefined && project.volumes[v.source] === undefined) {
        throw positions.error(at('volumes', i), `service "${name}" refers to undefined volume ${v.source}`);
      }
    }
    for (const kind of ['secrets', 'configs'] as const) {
      for (const [i, ref] of s[kind].entries()) {
        if (project[kind][ref.source] === undefined) {
          throw positions.error(
            at(kind, i),
            `service "${name}" refers to undefined ${kind === 'secrets' ? 'secret' : 'config'} ${ref.source}`,
          );
        }
      }
    }
    for (const [i, ref] of (s.build?.secrets ?? []).entries()) {
      if (project.secrets[ref.source] === undefined) {
        throw positions.error(at('build', 'secrets', i), `service "${name}" refers to undefined secret ${ref.source}`);
      }
    }
    if (s.image === undefined && s.build === undefined) {
      throw positions.error(at(), `service "${name}" has neither an image nor a build context specified`);
    }
  }
  const cycle = findCycle(project.services);
  if (cycle !== undefined) {
    throw positions.error(['services', cycle[0]!, 'depends_on'], `dependency cycle detected: ${cycle.join(' -> ')}`);
  }
}
