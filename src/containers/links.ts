/**
 * Legacy links (`--link NAME:ALIAS`), as dockerd keeps them: checked at create (the container must exist, and not be
 * on the host's network), stored as `<child id>:<alias>` so that renames change nothing, shown by inspect as
 * `/child:/parent/alias`; at start, on the default bridge, the child's address and ports as `ALIAS_*` variables and a
 * hosts line `IP alias hostname name` (on a user network, only the hosts line: dockerd resolves the alias by its DNS
 * for the linking container alone, which a line of its own /etc/hosts does too).
 */
import type { HostConfig } from '../engine-api/containers.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { Row } from './model.ts';

/** `NAME:ALIAS`, `NAME` (the alias is the name) or inspect's `/child:/parent/alias`, as dockerd's ParseLink. */
export function parseLink(spec: string): { name: string; alias: string } {
  if (spec === '') throw new InvalidArgumentError('empty string specified for links');
  const parts = spec.split(':');
  if (parts.length > 2) throw new InvalidArgumentError(`bad format for links: ${spec}`);
  if (parts.length === 1) return { name: spec.replace(/^\//, ''), alias: spec.replace(/^\//, '') };
  const [name, alias] = parts as [string, string];
  if (name.startsWith('/')) return { name: name.slice(1), alias: alias.slice(alias.lastIndexOf('/') + 1) };
  return { name, alias };
}

/** A stored link: the child's ID and the alias. */
export function storedLinks(hc: HostConfig): { id: string; alias: string }[] {
  return (hc.Links ?? []).map((l) => {
    const i = l.indexOf(':');
    return { id: l.slice(0, i), alias: l.slice(i + 1) };
  });
}

/**
 * Create's check of `Links`, returning them as stored: each child must exist (dockerd's "could not get container
 * for X", a 400 so that the CLI does not take it for a missing image) and must not use the host's network.
 */
export function resolveLinks(hc: HostConfig, get: (ref: string) => Row | undefined): string[] | null {
  if (!hc.Links?.length) return null;
  const mode = hc.NetworkMode || 'default';
  if (mode === 'host')
    throw new InvalidArgumentError(
      "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
    );
  if (mode.startsWith('container:'))
    throw new InvalidArgumentError(
      "conflicting options: container type network can't be used with links. This would result in undefined behavior",
    );
  const out: string[] = [];
  for (const l of hc.Links) {
    const { name, alias } = parseLink(l);
    let child = get(name);
    if (!child) throw new InvalidArgumentError(`could not get container for ${name}: No such container: ${name}`);
    for (let hops = 0; child.hostConfig.NetworkMode?.startsWith('container:') && hops < 8; hops++) {
      const peer = child.hostConfig.NetworkMode.slice('container:'.length);
      const next = get(peer);
      if (!next) throw new InvalidArgumentError(`Could not get container for ${peer}`);
      child = next;
    }
    if (child.hostConfig.NetworkMode === 'host')
      throw new InvalidArgumentError(
        "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
      );
    out.push(`${child.id}:${alias}`);
  }
  return out;
}

/** Inspect's `HostConfig.Links`: `/child:/parent/alias` with today's names (links to removed containers left out). */
export function inspectLinks(r: Row, get: (id: string) => Row | undefined): string[] | null {
  const out = storedLinks(r.hostConfig).flatMap(({ id, alias }) => {
    const child = get(id);
    return child ? [`/${child.name}:/${r.name}/${alias}`] : [];
  });
  return out.length ? out : null;
}

/** The names `/parent/alias` other containers' links give each container, for `ps`'s `Names`. */
export function linkNames(rows: readonly Row[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows)
    for (const { id, alias } of storedLinks(r.hostConfig)) out.set(id, [...(out.get(id) ?? []), `/${r.name}/${alias}`]);
  return out;
}

/**
 * `DELETE /containers/PARENT/ALIAS?link=1`: the link named `/parent/alias` removed from the parent's host config
 * (returned); NotFound as dockerd's for a name that is no link.
 */
export function withoutLink(
  linkName: string,
  byName: (name: string) => Row | undefined,
): { parent: Row; hostConfig: HostConfig } {
  const name = linkName.startsWith('/') ? linkName : `/${linkName}`;
  const cut = name.lastIndexOf('/');
  const alias = name.slice(cut + 1);
  const parentName = name.slice(1, cut);
  if (parentName === '') {
    if (byName(alias)) throw new ConflictError('Conflict, cannot remove the default link name of the container');
    throw new NotFoundError(`No such container: ${linkName}`);
  }
  const parent = byName(parentName);
  const links = parent ? storedLinks(parent.hostConfig) : [];
  if (!parent || !links.some((l) => l.alias === alias)) throw new NotFoundError(`No such container: ${linkName}`);
  const kept = links.filter((l) => l.alias !== alias).map((l) => `${l.id}:${l.alias}`);
  return { parent, hostConfig: { ...parent.hostConfig, Links: kept.length ? kept : null } };
}

/** What a started container's links give it: environment variables and /etc/hosts lines (`names:ip`). */
export interface LinkInput {
  env: string[];
  hosts: string[];
}

/** A linked container as start finds it: its record and its address on the network the two share. */
export interface LinkedChild {
  alias: string;
  child: Row;
  /** Its address on the default bridge (or the first network both are on), undefined when they share none. */
  ip: string | undefined;
}

/**
 * The environment and hosts lines of a container's links at start (dockerd's setupLinkedContainers and the sandbox's
 * extra hosts). A linked container must be running, as dockerd asks; `bridge` tells whether the linking container is
 * on the default bridge, where links also give variables.
 */
export function linkInput(parentName: string, children: readonly LinkedChild[], bridge: boolean): LinkInput {
  const out: LinkInput = { env: [], hosts: [] };
  for (const { alias, child, ip } of children) {
    if (child.state.Status !== 'running' && child.state.Status !== 'paused')
      throw new ConflictError(`Cannot link to a non running container: /${child.name} AS /${parentName}/${alias}`);
    if (ip === undefined) {
      if (bridge) throw new ConflictError(`container ${child.id} not attached to default bridge network`);
      continue;
    }
    const names = [alias, child.config.Config.Hostname ?? '', ...(alias !== child.name ? [child.name] : [])];
    out.hosts.push(`${names.filter(Boolean).join(' ')}:${ip}`);
    if (bridge)
      out.env.push(
        ...linkEnv(
          `/${parentName}/${alias}`,
          ip,
          child.config.Config.Env ?? [],
          Object.keys(child.config.Config.ExposedPorts ?? {}),
        ),
      );
  }
  return out;
}

/**
 * The variables one link gives, as dockerd names them: `ALIAS_PORT` (the lowest port, tcp first), per port
 * `ALIAS_PORT_<n>_<PROTO>` with `_ADDR`, `_PORT`, `_PROTO`, runs of consecutive ports as `_START`/`_END`, then
 * `ALIAS_NAME=/parent/alias` and the child's environment as `ALIAS_ENV_*` (less HOME and PATH).
 */
export function linkEnv(name: string, ip: string, childEnv: readonly string[], exposed: readonly string[]): string[] {
  const alias = name
    .slice(name.lastIndexOf('/') + 1)
    .toUpperCase()
    .replaceAll('-', '_');
  const ports = exposed
    .map((k) => {
      const [n, proto = 'tcp'] = k.split('/');
      return { n: Number(n), proto };
    })
    .filter((p) => Number.isInteger(p.n))
    .sort((a, b) =>
      a.proto === b.proto ? a.n - b.n : a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.proto < b.proto ? -1 : 1,
    );
  const env: string[] = [];
  const url = (p: { n: number; proto: string }) => `${p.proto}://${ip}:${p.n}`;
  const prefix = (p: { n: number; proto: string }) => `${alias}_PORT_${p.n}_${p.proto.toUpperCase()}`;
  let start = ports[0];
  let end = ports[0];
  for (const [i, p] of ports.entries()) {
    if (i === 0) env.push(`${alias}_PORT=${url(p)}`);
    env.push(
      `${prefix(p)}=${url(p)}`,
      `${prefix(p)}_ADDR=${ip}`,
      `${prefix(p)}_PORT=${p.n}`,
      `${prefix(p)}_PROTO=${p.proto}`,
    );
    if (end && p !== end && p.n === end.n + 1 && p.proto === end.proto) {
      end = p;
      if (i < ports.length - 1) continue;
    }
    if (start && end && end !== start)
      env.push(
        `${prefix(start)}_START=${url(start)}`,
        `${prefix(start)}_PORT_START=${start.n}`,
        `${prefix(start)}_END=${url(end)}`,
        `${prefix(start)}_PORT_END=${end.n}`,
      );
    start = p;
    end = p;
  }
  env.push(`${alias}_NAME=${name}`);
  for (const kv of childEnv) {
    const eq = kv.indexOf('=');
    if (eq < 0) continue;
    const key = kv.slice(0, eq);
    if (key === 'HOME' || key === 'PATH') continue;
    env.push(`${alias}_ENV_${key}=${kv.slice(eq + 1)}`);
  }
  return env;
}

/**
 * A container's links as start needs them: each child that still exists, with its address on the first network of
 * the linking container's that it is on too (`networks`, in order: the default bridge first where it is one).
 */
export function linkedChildren(
  r: Row,
  record: (id: string) => Row | undefined,
  networks: readonly string[],
  addresses: (child: Row) => Record<string, string>,
): LinkedChild[] {
  const out: LinkedChild[] = [];
  for (const { id, alias } of storedLinks(r.hostConfig)) {
    const child = record(id);
    if (!child) continue;
    const by = addresses(child);
    out.push({ alias, child, ip: networks.map((n) => by[n]).find(Boolean) });
  }
  return out;
}
