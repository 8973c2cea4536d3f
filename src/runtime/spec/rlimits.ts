/** Resource limits (--ulimit) for the container's process, kept within the host's hard limits. */
import { RLIMIT_NAMES, type RlimitName } from '../../oci/linux.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { RLIM_INFINITY, type SpecRlimit } from './oci.ts';

export type { RlimitName };

/** One --ulimit: `nofile=1024:2048` is { name: 'nofile', soft: 1024, hard: 2048 }; -1 means unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/**
 * The host's hard limit per resource, as the runtime will inherit them (Infinity = unlimited). A runtime
 * without CAP_SYS_RESOURCE cannot raise a hard limit, so a spec above these fails to start.
 * A resource missing here is not checked.
 */
export type HostLimits = Partial<Record<RlimitName, number>>;

/** Docker's default: RLIMIT_NOFILE 1048576:1048576 (clamped to the host's hard limit). */
export const DEFAULT_NOFILE = 1048576;

const NAMES: ReadonlySet<string> = new Set(RLIMIT_NAMES);

/** The rows of /proc/<pid>/limits, by the resource they describe. */
const PROC_LIMITS_ROWS: Record<string, RlimitName> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max data size': 'data',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max resident set': 'rss',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max file locks': 'locks',
  'Max pending signals': 'sigpending',
  'Max msgqueue size': 'msgqueue',
  'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio',
  'Max realtime timeout': 'rttime',
};

/** The hard limits in the text of /proc/<pid>/limits (the caller reads the file; this stays pure). */
export function parseProcLimits(text: string): HostLimits {
  const out: HostLimits = {};
  for (const line of text.split('\n')) {
    for (const [label, name] of Object.entries(PROC_LIMITS_ROWS)) {
      if (!line.startsWith(`${label} `)) continue;
      const fields = line.slice(label.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard === undefined) continue;
      out[name] = hard === 'unlimited' ? Infinity : Number(hard);
    }
  }
  return out;
}

/**
 * The spec's rlimits: Docker's default NOFILE, clamped to the host's hard limit, then each --ulimit (the last
 * one for a name wins). A --ulimit with an unknown name, soft above hard, or a hard limit above the host's is an
 * InvalidArgumentError naming it: silently lowering what a user asked for would hide the problem.
 */
export function resolveRlimits(ulimits: readonly Ulimit[], host: HostLimits): SpecRlimit[] {
  const chosen = new Map<string, { soft: number; hard: number }>();
  const nofileCap = host.nofile ?? Infinity;
  chosen.set('nofile', { soft: Math.min(DEFAULT_NOFILE, nofileCap), hard: Math.min(DEFAULT_NOFILE, nofileCap) });
  for (const u of ulimits) {
    const name = u.name.toLowerCase();
    const text = `${u.name}=${u.soft}:${u.hard}`;
    if (!NAMES.has(name)) throw new InvalidArgumentError(`invalid ulimit "${text}": unknown resource "${u.name}"`);
    const soft = limitValue(u.soft, text);
    const hard = limitValue(u.hard, text);
    if (soft > hard) throw new InvalidArgumentError(`invalid ulimit "${text}": soft limit is above the hard limit`);
    const hostHard = host[name as RlimitName];
    if (hostHard !== undefined && hard > hostHard) {
      throw new InvalidArgumentError(
        `ulimit "${text}" exceeds the host's hard limit for ${name} (${hostHard === Infinity ? 'unlimited' : hostHard})`,
      );
    }
    chosen.set(name, { soft, hard });
  }
  return [...chosen].map(([name, { soft, hard }]) => ({
    type: `RLIMIT_${name.toUpperCase()}`,
    hard: specValue(hard),
    soft: specValue(soft),
  }));
}

function limitValue(n: number, text: string): number {
  if (n === -1) return Infinity;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`invalid ulimit "${text}": limits are integers ≥ 0, or -1`);
  return n;
}

function specValue(n: number): number | bigint {
  return n === Infinity ? RLIM_INFINITY : n;
}
