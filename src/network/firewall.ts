/**
 * Berth's own firewall rules, as `iptables-restore --noflush` text (pure functions, unit-tested) and a runner that
 * applies them with one `iptables-restore` (and `ip6tables-restore`) execution per change, merging changes that
 * queue up while one runs.
 *
 * Every rule lives in Berth's chains. The built-in chains get one hook each (FORWARD → BERTH-FORWARD,
 * POSTROUTING → BERTH-POSTROUTING, PREROUTING and OUTPUT for local destinations → BERTH-DNAT). Each network has a
 * filter chain `BERTH-F-<id12>` (jumped to from BERTH-FORWARD) and a nat chain `BERTH-N-<id12>` (from
 * BERTH-POSTROUTING), and its bridge a DROP rule in BERTH-ISOLATION; each container with published ports a nat
 * chain `BERTH-D-<id12>` (from BERTH-DNAT). Shared chains are created with `-N` (which fails rather than
 * flushing one another daemon on this host uses) and only ever changed rule by rule.
 */
import { UnavailableError } from '../util/errors.ts';
import { type ProcessResult, runProcess } from '../util/process.ts';

export const FORWARD = 'BERTH-FORWARD';
export const ISOLATION = 'BERTH-ISOLATION';
export const POSTROUTING = 'BERTH-POSTROUTING';
export const DNAT = 'BERTH-DNAT';

/** Rule lines per table (each line is what follows `iptables-restore`'s table header, e.g. `-A X -j Y`). */
export interface Change {
  filter: string[];
  nat: string[];
}

export const empty = (): Change => ({ filter: [], nat: [] });

/** The restore text of a change: only the tables it touches, each committed. */
export function restoreText(c: Change): string {
  let out = '';
  for (const table of ['filter', 'nat'] as const) {
    if (c[table].length) out += `*${table}\n${c[table].join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** Appends `b`'s lines to `a`'s (table by table). */
export function merge(a: Change, b: Change): Change {
  return { filter: [...a.filter, ...b.filter], nat: [...a.nat, ...b.nat] };
}

/** The chains of a network (by ID) and a container (by ID). */
export const networkChains = (id: string) => ({
  filter: `BERTH-F-${id.slice(0, 12)}`,
  nat: `BERTH-N-${id.slice(0, 12)}`,
});
export const containerChain = (id: string) => `BERTH-D-${id.slice(0, 12)}`;

/** What the firewall needs of a network. */
export interface FwNetwork {
  id: string;
  bridge: string;
  /** The network's subnets of this family. */
  subnets: string[];
  internal: boolean;
}

/** The hooks and shared chains that are missing (`present` lists what `iptables-save` shows exists). */
export function hooksChange(present: { chains: Set<string>; rules: Set<string> }): Change {
  const c = empty();
  for (const ch of [FORWARD, ISOLATION]) if (!present.chains.has(ch)) c.filter.push(`-N ${ch}`);
  for (const ch of [POSTROUTING, DNAT]) if (!present.chains.has(ch)) c.nat.push(`-N ${ch}`);
  for (const r of HOOKS.filter) if (!present.rules.has(r)) c.filter.push(r.replace(/^-A FORWARD /, '-I FORWARD 1 '));
  for (const r of HOOKS.nat) if (!present.rules.has(r)) c.nat.push(r);
  return c;
}

/** The hook rules, as `iptables-save` prints them. */
export const HOOKS: Change = {
  filter: [`-A FORWARD -j ${FORWARD}`],
  nat: [
    `-A PREROUTING -m addrtype --dst-type LOCAL -j ${DNAT}`,
    `-A OUTPUT -m addrtype --dst-type LOCAL -j ${DNAT}`,
    `-A POSTROUTING -j ${POSTROUTING}`,
  ],
};

/** Removes the hooks and shared chains (run only when they hold no rule). */
export function unhookChange(): Change {
  return {
    filter: [...HOOKS.filter.map((r) => r.replace(/^-A /, '-D ')), `-X ${FORWARD}`, `-X ${ISOLATION}`],
    nat: [...HOOKS.nat.map((r) => r.replace(/^-A /, '-D ')), `-X ${POSTROUTING}`, `-X ${DNAT}`],
  };
}

/**
 * A network's rules for one family: its forward chain (replies and DNAT'd traffic in, traffic between its own
 * containers, out to the world unless internal, never to another Berth bridge), its nat chain (masquerade out of
 * the subnet unless internal; masquerade of 127.0.0.0/8 towards the bridge, for ports published on 127.0.0.1; of
 * hairpin traffic, a container reaching a published port of one on the same bridge or its own — the rule Docker
 * writes per port, `-s IP -d IP --dport PORT`, is this one's special case; its own needs the bridge port in
 * hairpin mode as well, see bridge.ts), and the jumps.
 */
export function networkChange(n: FwNetwork, family: 4 | 6): Change {
  const { filter: F, nat: N } = networkChains(n.id);
  const br = n.bridge;
  const c: Change = { filter: [`:${F} - [0:0]`], nat: [`:${N} - [0:0]`] };
  c.filter.push(`-A ${F} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  c.filter.push(`-A ${F} -i ${br} -o ${br} -j ACCEPT`);
  if (n.internal) {
    c.filter.push(`-A ${F} -i ${br} -j DROP`, `-A ${F} -o ${br} -j DROP`);
  } else {
    c.filter.push(
      `-A ${F} -i ${br} ! -o ${br} -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -j ${ISOLATION}`,
    );
    c.filter.push(`-A ${F} -i ${br} ! -o ${br} -j ACCEPT`);
    c.filter.push(`-A ${F} -o ${br} -m conntrack --ctstate DNAT -j ACCEPT`);
    for (const s of n.subnets) c.nat.push(`-A ${N} -s ${s} ! -d ${s} -j MASQUERADE`);
    if (family === 4) c.nat.push(`-A ${N} -s 127.0.0.0/8 -o ${br} -j MASQUERADE`);
    for (const s of n.subnets) c.nat.push(`-A ${N} -s ${s} -o ${br} -m conntrack --ctstate DNAT -j MASQUERADE`);
  }
  c.filter.push(`-A ${ISOLATION} -o ${br} -j DROP`, `-A ${FORWARD} -j ${F}`);
  c.nat.push(`-A ${POSTROUTING} -j ${N}`);
  return c;
}

/** Undoes `networkChange` (exactly: every `-D` must match). */
export function removeNetworkChange(n: FwNetwork): Change {
  const { filter: F, nat: N } = networkChains(n.id);
  return {
    filter: [`-D ${FORWARD} -j ${F}`, `-D ${ISOLATION} -o ${n.bridge} -j DROP`, `-F ${F}`, `-X ${F}`],
    nat: [`-D ${POSTROUTING} -j ${N}`, `-F ${N}`, `-X ${N}`],
  };
}

/** One published port, resolved to the container's address. */
export interface FwPort {
  hostIp: string;
  hostPort: number;
  protocol: string;
  containerIp: string;
  containerPort: number;
}

/** A container's DNAT chain for its published ports of one family (empty change when none). */
export function portsChange(containerId: string, ports: FwPort[]): Change {
  if (!ports.length) return empty();
  const D = containerChain(containerId);
  const c: Change = { filter: [], nat: [`:${D} - [0:0]`] };
  for (const p of ports) {
    const dst = p.hostIp && p.hostIp !== '0.0.0.0' && p.hostIp !== '::' ? ` -d ${p.hostIp}` : '';
    const to = p.containerIp.includes(':')
      ? `[${p.containerIp}]:${p.containerPort}`
      : `${p.containerIp}:${p.containerPort}`;
    c.nat.push(`-A ${D}${dst} -p ${p.protocol} -m ${p.protocol} --dport ${p.hostPort} -j DNAT --to-destination ${to}`);
  }
  c.nat.push(`-A ${DNAT} -j ${D}`);
  return c;
}

/** Undoes `portsChange`. */
export function removePortsChange(containerId: string): Change {
  const D = containerChain(containerId);
  return { filter: [], nat: [`-D ${DNAT} -j ${D}`, `-F ${D}`, `-X ${D}`] };
}

/**
 * From `iptables-save` output: the chains that exist and the rules (as `-A …` lines), per table.
 */
export function parseSave(text: string): Record<'filter' | 'nat', { chains: Set<string>; rules: string[] }> {
  const out = {
    filter: { chains: new Set<string>(), rules: [] as string[] },
    nat: { chains: new Set<string>(), rules: [] as string[] },
  };
  let table: 'filter' | 'nat' | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line === '*filter' ? 'filter' : line === '*nat' ? 'nat' : undefined;
    else if (!table) continue;
    else if (line.startsWith(':')) out[table].chains.add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) out[table].rules.push(line);
  }
  return out;
}

/**
 * Removes, from what `iptables-save` shows, every rule that jumps to one of `chains` or is in `extra`, then the
 * chains themselves: the repair path, and the fallback when an exact removal finds the ruleset changed.
 */
export function purgeChange(
  saved: ReturnType<typeof parseSave>,
  chains: Set<string>,
  extra: Set<string> = new Set(),
): Change {
  const c = empty();
  for (const table of ['filter', 'nat'] as const) {
    const t = saved[table];
    for (const r of t.rules) {
      const [, chain = ''] = r.split(' ');
      if (chains.has(chain)) continue; // flushed below
      const target = /-j (\S+)/.exec(r)?.[1] ?? '';
      if (chains.has(target) || extra.has(r)) c[table].push(r.replace(/^-A /, '-D '));
    }
    for (const ch of chains) if (t.chains.has(ch)) c[table].push(`-F ${ch}`);
    for (const ch of chains) if (t.chains.has(ch)) c[table].push(`-X ${ch}`);
  }
  return c;
}

/** What `iptables-save` shows once `purgeChange(saved, chains, extra)` has been applied, without asking again. */
export function afterPurge(
  saved: ReturnType<typeof parseSave>,
  chains: Set<string>,
  extra: Set<string> = new Set(),
): ReturnType<typeof parseSave> {
  const out = {} as ReturnType<typeof parseSave>;
  for (const table of ['filter', 'nat'] as const) {
    const t = saved[table];
    out[table] = {
      chains: new Set([...t.chains].filter((ch) => !chains.has(ch))),
      rules: t.rules.filter((r) => {
        const [, chain = ''] = r.split(' ');
        const target = /-j (\S+)/.exec(r)?.[1] ?? '';
        return !chains.has(chain) && !chains.has(target) && !extra.has(r);
      }),
    };
  }
  return out;
}

/** Runs a program with `input` on stdin; resolves with stdout, rejects with stderr. */
async function exec(cmd: string, args: string[], input: string): Promise<string> {
  let r: ProcessResult;
  try {
    r = await runProcess(cmd, args, { input });
  } catch (e) {
    throw new UnavailableError(`cannot run ${cmd}: ${(e as Error).message}`, { cause: e });
  }
  if (r.code === 0) return r.stdout;
  const msg = r.stderr
    .split('\n')
    .filter((l) => l && !l.includes('syslog'))
    .join('; ');
  throw new UnavailableError(`${cmd} failed (exit ${r.code}): ${msg}`);
}

interface Job {
  change: Change;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Applies changes for one family (`iptables-restore` or `ip6tables-restore`): one execution at a time; the
 * changes that queue meanwhile go together in the next one (when that fails, each is retried alone, so an
 * error reaches the change that caused it).
 */
export class FirewallRunner {
  readonly family: 4 | 6;
  #queue: Job[] = [];
  #running = false;
  /** How many restore executions ran (for tests and the benchmark). */
  runs = 0;

  constructor(family: 4 | 6) {
    this.family = family;
  }

  /** `iptables-save` of the filter and nat tables, parsed. */
  async save(): Promise<ReturnType<typeof parseSave>> {
    const cmd = this.family === 4 ? 'iptables-save' : 'ip6tables-save';
    const [f, n] = await Promise.all([exec(cmd, ['-t', 'filter'], ''), exec(cmd, ['-t', 'nat'], '')]);
    return parseSave(`${f}\n${n}`);
  }

  /** Applies a change (nothing to do for an empty one). */
  apply(change: Change): Promise<void> {
    if (!change.filter.length && !change.nat.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queue.push({ change, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  #restore(c: Change): Promise<string> {
    this.runs++;
    return exec(this.family === 4 ? 'iptables-restore' : 'ip6tables-restore', ['-w', '--noflush'], restoreText(c));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#queue.length) {
      const jobs = this.#queue;
      this.#queue = [];
      try {
        await this.#restore(jobs.reduce((a, j) => merge(a, j.change), empty()));
        for (const j of jobs) j.resolve();
      } catch (err) {
        if (jobs.length === 1) {
          jobs[0]!.reject(err);
          continue;
        }
        for (const j of jobs) await this.#restore(j.change).then(j.resolve, j.reject);
      }
    }
    this.#running = false;
  }
}
