/** `docker ps`: which containers `GET /containers/json` lists, by its `all`, `limit` and filters. Pure. */
import { InvalidArgumentError } from '../util/errors.ts';
import { matchLabel } from '../util/labels.ts';
import type { Row } from './model.ts';

/** The filters `GET /containers/json` takes (moby `daemon/list.go`). */
export const PS_FILTERS = [
  'status',
  'name',
  'label',
  'ancestor',
  'exited',
  'health',
  'id',
  'before',
  'since',
  'volume',
  'network',
  'is-task',
  'publish',
  'expose',
] as const;

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** `GET /containers/json`'s query, parsed. */
export interface ListOptions {
  /** Stopped containers too (`ps -a`). */
  all?: boolean;
  /** The newest `limit` containers, whatever their state (`ps -n`); 0 or less: no limit. */
  limit?: number;
  filters?: ReadonlyMap<string, readonly string[]>;
}

/** What the filters look up beyond the record. */
export interface FilterContext {
  /** A container by ID, name or prefix (NotFound when there is none): `before` and `since`. */
  container(ref: string): Row;
  /** The config digest an image reference resolves to, undefined when there is no such image: `ancestor`. */
  imageId(ref: string): string | undefined;
  /** The networks a container is attached to, by name and ID: `network`. */
  networks(r: Row): readonly { name: string; id: string }[];
  /** The container's ports as `ps` lists them (published ones with their host port): `publish` and `expose`. */
  ports(r: Row): readonly PsPort[];
}

/**
 * A `publish` or `expose` filter value (`80`, `80/udp`, `8000-8010/tcp`) as the set of `port/proto` keys it names,
 * as dockerd's portOp.
 */
export function portFilterKeys(key: string, value: string): string[] {
  if (value.includes(':')) throw new InvalidArgumentError(`filter for '${key}' should not contain ':': ${value}`);
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-z]+))?$/.exec(value);
  const lo = Number(m?.[1]);
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo > 65535 || hi > 65535 || hi < lo)
    throw new InvalidArgumentError(`error while looking up for ${key} ${value}: invalid port range`);
  const proto = m[3] ?? 'tcp';
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${proto}`);
}

/** One of `ps`'s `Ports` (Docker's `types.Port`): published ones carry their host side. */
export interface PsPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** ps's `Ports` from a container's `NetworkSettings.Ports`: published ports with their host side, exposed ones without. */
export function psPorts(settings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> }): PsPort[] {
  const out: PsPort[] = [];
  for (const [key, list] of Object.entries(settings.Ports)) {
    const [port, type = 'tcp'] = key.split('/');
    if (!list) out.push({ PrivatePort: Number(port), Type: type });
    else
      for (const b of list)
        out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}

/** The `name` filter: a regular expression matched against the name with and without its '/' (an invalid one matches nothing). */
export function nameMatches(pattern: string, name: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return false;
  }
  return re.test(`/${name}`) || re.test(name);
}

/** The rows `ps` shows, in the order given (newest first), as dockerd selects them. */
export function selectContainers(rows: readonly Row[], o: ListOptions, ctx: FilterContext): Row[] {
  const f = o.filters ?? new Map<string, readonly string[]>();
  const limit = o.limit ?? -1;
  const statuses = f.get('status');
  for (const s of statuses ?? [])
    if (!STATUSES.includes(s)) throw new InvalidArgumentError(`Invalid filter 'status=${s}'`);
  const before = f.get('before')?.map((x) => ctx.container(x).created);
  const since = f.get('since')?.map((x) => ctx.container(x).created);
  const ancestorRefs = f.get('ancestor');
  const ancestors = ancestorRefs?.map((a) => ctx.imageId(a) ?? `unknown:${a}`);
  // Without -a only running containers, unless a filter or a limit asks about others.
  const liveOnly = !o.all && !statuses && limit <= 0 && !before && !since;
  const names = f.get('name');
  const ids = f.get('id');
  const labels = f.get('label');
  const exited = f.get('exited');
  const health = f.get('health');
  const vol = f.get('volume');
  const nets = f.get('network');
  const publish = new Set(f.get('publish')?.flatMap((v) => portFilterKeys('publish', v)));
  const expose = new Set(f.get('expose')?.flatMap((v) => portFilterKeys('expose', v)));
  const out = rows.filter((r) => {
    const st = r.state.Status;
    if (liveOnly && st !== 'running' && st !== 'paused' && st !== 'restarting') return false;
    if (statuses && !statuses.includes(st)) return false;
    if (names && !names.some((n) => nameMatches(n, r.name))) return false;
    if (ids && !ids.some((i) => r.id.startsWith(i))) return false;
    if (labels && !labels.every((l) => matchLabel(r.config.Config.Labels ?? {}, l))) return false;
    if (ancestors && !ancestors.includes(r.imageId) && !ancestorRefs!.includes(r.imageRef)) return false;
    if (exited && !(st === 'exited' && exited.includes(String(r.state.ExitCode)))) return false;
    if (health && !health.includes(r.state.Health?.Status ?? 'none')) return false;
    if (before && !before.every((t) => r.created < t)) return false;
    if (since && !since.every((t) => r.created > t)) return false;
    if (vol && !r.config.Mounts.some((m) => vol.includes(m.Name ?? '') || vol.includes(m.Destination))) return false;
    if (
      nets &&
      !ctx.networks(r).some((n) => nets.includes(n.name) || nets.some((x) => x.length > 0 && n.id.startsWith(x)))
    )
      return false;
    if (
      (publish.size > 0 || expose.size > 0) &&
      !ctx
        .ports(r)
        .some((p) => publish.has(`${p.PublicPort ?? 0}/${p.Type}`) || expose.has(`${p.PrivatePort}/${p.Type}`))
    )
      return false;
    return true;
  });
  return limit > 0 ? out.slice(0, limit) : out;
}
