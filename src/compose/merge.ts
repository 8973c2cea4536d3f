/**
 * Merging compose files (`-f a -f b`, `extends`), with the Compose Specification's merge rules on the raw
 * (interpolated, not yet normalised) mappings: mappings merge key by key, scalars are replaced, sequences are
 * appended, and some keys have their own rule: `command`, `entrypoint` and `healthcheck.test` are replaced;
 * `environment`, `labels`, `build.args`, `sysctls` and the like merge as KEY=VALUE lists whatever syntax each
 * side used; `depends_on` and `networks` merge as mappings; `build` given as a string is its `context`;
 * `logging` merges only when the driver is the same. Afterwards sequences keyed by something (ports,
 * volumes by target, environment by name, …) keep one entry per key, the later one winning.
 */

type Dict = Record<string, unknown>;
type Merger = (base: unknown, over: unknown, path: string[]) => unknown;

const SPECIAL: [string[], Merger][] = [
  [['networks', '*', 'ipam', 'config'], (_b, o) => o],
  [['networks', '*', 'labels'], toSequence],
  [['volumes', '*', 'labels'], toSequence],
  [['services', '*', 'annotations'], toSequence],
  [['services', '*', 'build'], mergeBuild],
  [['services', '*', 'build', 'args'], toSequence],
  [['services', '*', 'build', 'labels'], toSequence],
  [['services', '*', 'build', 'additional_contexts'], toSequence],
  [['services', '*', 'build', 'extra_hosts'], mergeExtraHosts],
  [['services', '*', 'command'], (_b, o) => o],
  [['services', '*', 'entrypoint'], (_b, o) => o],
  [['services', '*', 'depends_on'], mergeDependsOn],
  [['services', '*', 'deploy', 'labels'], toSequence],
  [['services', '*', 'dns'], toSequence],
  [['services', '*', 'dns_opt'], toSequence],
  [['services', '*', 'dns_search'], toSequence],
  [['services', '*', 'env_file'], toSequence],
  [['services', '*', 'environment'], toSequence],
  [['services', '*', 'extra_hosts'], mergeExtraHosts],
  [['services', '*', 'healthcheck', 'test'], (_b, o) => o],
  [['services', '*', 'labels'], toSequence],
  [['services', '*', 'logging'], mergeLogging],
  [['services', '*', 'networks'], mergeNetworks],
  [['services', '*', 'sysctls'], toSequence],
  [['services', '*', 'tmpfs'], toSequence],
  [['services', '*', 'volumes', '*', 'volume', 'labels'], toSequence],
];

function matches(path: string[], pattern: string[]): boolean {
  return path.length === pattern.length && pattern.every((p, i) => p === '*' || p === path[i]);
}

function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Merges `over` onto `base` (neither is modified). `path` is where they sit in the document. */
export function mergeValues(base: unknown, over: unknown, path: string[] = []): unknown {
  for (const [pattern, merger] of SPECIAL) {
    if (matches(path, pattern)) return merger(base, over, path);
  }
  if (over === undefined) return base;
  if (isDict(base) && isDict(over)) return mergeDicts(base, over, path);
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  return over;
}

function mergeDicts(base: Dict, over: Dict, path: string[]): Dict {
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = k in base ? mergeValues(base[k], v, [...path, k]) : v;
  }
  return out;
}

/** Merges whole documents, then keeps one entry per key in keyed sequences. */
export function mergeDocuments(base: Dict, over: Dict): Dict {
  return enforceUnique(mergeValues(base, over, [])) as Dict;
}

function toSequence(base: unknown, over: unknown): unknown[] {
  return [...sequence(base), ...sequence(over)];
}

/** A list-or-dict as `KEY=VALUE` strings (a null value is the bare `KEY`). */
export function sequence(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [value];
  if (isDict(value)) {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) out.push(k);
      else if (Array.isArray(v)) for (const x of v) out.push(`${k}=${String(x)}`);
      else out.push(`${k}=${String(v)}`);
    }
    return out.sort();
  }
  return [];
}

function toMapping(value: unknown, fill: () => unknown): Dict {
  if (isDict(value)) return value;
  const out: Dict = {};
  if (Array.isArray(value)) for (const k of value) out[String(k)] = fill();
  return out;
}

function mergeBuild(base: unknown, over: unknown, path: string[]): unknown {
  const asDict = (v: unknown): Dict => (typeof v === 'string' ? { context: v } : isDict(v) ? v : {});
  if (over === undefined) return base;
  return mergeDicts(asDict(base), asDict(over), path);
}

function mergeDependsOn(base: unknown, over: unknown, path: string[]): unknown {
  const fill = () => ({ condition: 'service_started', required: true });
  if (over === undefined) return base;
  return mergeDicts(toMapping(base, fill), toMapping(over, fill), path);
}

function mergeNetworks(base: unknown, over: unknown, path: string[]): unknown {
  if (over === undefined) return base;
  return mergeDicts(
    toMapping(base, () => null),
    toMapping(over, () => null),
    path,
  );
}

function mergeLogging(base: unknown, over: unknown, path: string[]): unknown {
  if (!isDict(base) || !isDict(over)) return over ?? base;
  if (base.driver === over.driver || over.driver === undefined || base.driver === undefined) {
    return mergeDicts(base, over, path);
  }
  return over;
}

function mergeExtraHosts(base: unknown, over: unknown): unknown[] {
  const b = sequence(base);
  const o = sequence(over).filter((x) => !b.includes(x));
  return [...b, ...o];
}

// ---- one entry per key ----

type Indexer = (entry: unknown) => string;

const UNIQUE: [string[], Indexer][] = [
  [['services', '*', 'build', 'args'], keyOf],
  [['services', '*', 'build', 'labels'], keyOf],
  [['services', '*', 'cap_add'], keyOf],
  [['services', '*', 'cap_drop'], keyOf],
  [['services', '*', 'dns'], keyOf],
  [['services', '*', 'dns_opt'], keyOf],
  [['services', '*', 'dns_search'], keyOf],
  [['services', '*', 'environment'], keyOf],
  [['services', '*', 'env_file'], (e) => (isDict(e) ? String(e.path) : String(e))],
  [['services', '*', 'expose'], (e) => String(e)],
  [['services', '*', 'labels'], keyOf],
  [['services', '*', 'links'], keyOf],
  [['services', '*', 'networks', '*', 'aliases'], keyOf],
  [['services', '*', 'ports'], portKey],
  [['services', '*', 'profiles'], keyOf],
  [['services', '*', 'secrets'], mountKey('/run/secrets')],
  [['services', '*', 'configs'], mountKey('')],
  [['services', '*', 'sysctls'], keyOf],
  [['services', '*', 'tmpfs'], keyOf],
  [['services', '*', 'volumes'], volumeKey],
  [['services', '*', 'devices'], deviceKey],
  [['networks', '*', 'labels'], keyOf],
];

function keyOf(entry: unknown): string {
  const s = String(entry);
  const eq = s.indexOf('=');
  return eq < 0 ? s : s.slice(0, eq);
}

function portKey(entry: unknown): string {
  if (isDict(entry)) {
    return `${entry.host_ip ?? '0.0.0.0'}:${entry.published ?? ''}:${entry.target}/${entry.protocol ?? 'tcp'}`;
  }
  return String(entry);
}

function mountKey(dir: string): Indexer {
  return (e) => {
    if (isDict(e)) return e.target !== undefined ? String(e.target) : `${dir}/${String(e.source)}`;
    return `${dir}/${String(e)}`;
  };
}

function volumeKey(entry: unknown): string {
  if (isDict(entry)) return String(entry.target);
  const parts = splitVolumeShort(String(entry));
  return parts.length === 1 ? parts[0]! : parts[1]!;
}

function deviceKey(entry: unknown): string {
  if (isDict(entry)) return String(entry.target ?? entry.source);
  const parts = String(entry).split(':');
  return parts.length === 1 ? parts[0]! : parts[1]!;
}

/** Splits `SRC:DST[:MODE]` (a Windows drive letter is not a separator, as in Docker Compose). */
export function splitVolumeShort(spec: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === ':' && !(cur.length === 1 && /[A-Za-z]/.test(cur) && parts.length === 0 && spec[i + 1] === '\\')) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function enforceUnique(value: unknown, path: string[] = []): unknown {
  if (Array.isArray(value)) {
    const rule = UNIQUE.find(([pattern]) => matches(path, pattern));
    if (rule === undefined) return value;
    const out: unknown[] = [];
    const seen = new Map<string, number>();
    for (const entry of value) {
      const key = rule[1](entry);
      const at = seen.get(key);
      if (at === undefined) {
        seen.set(key, out.length);
        out.push(entry);
      } else {
        out[at] = entry;
      }
    }
    return out;
  }
  if (isDict(value)) {
    const out: Dict = {};
    for (const [k, v] of Object.entries(value)) out[k] = enforceUnique(v, [...path, k]);
    return out;
  }
  return value;
}

export { enforceUnique };
