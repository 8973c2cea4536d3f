/**
 * Parsers for the other values of `run`/`create`/`update` flags, with the docker CLI's semantics and error texts
 * (go-units `ParseUlimit`, docker/cli `opts`: restart policy, env files, labels, sysctls, key=value lists, CSV,
 * security options). Numbers, sizes and durations are in numbers.ts and src/util/ (units.ts, strconv.ts; CSV in
 * csv.ts), `--mount`/`-v`/`--device` in mountspecs.ts.
 * Each throws a plain Error whose message is docker's; the caller decides whether that is a flag error
 * (`invalid argument "…" for "--x" flag: …`) or a `docker: …` one.
 */

import type { RestartPolicy, Ulimit } from '../../client/index.ts';
import { RLIMIT_NAMES, sysctlNamespace } from '../../oci/linux.ts';
import { goInt64 } from '../../util/strconv.ts';
import { goErrnoText } from '../../util/errors.ts';

/** go-units' ulimit names: every rlimit but `as`, which it leaves out. */
const ULIMIT_NAMES: ReadonlySet<string> = new Set(RLIMIT_NAMES.filter((n) => n !== 'as'));

/** go-units `ParseUlimit`: `name=soft[:hard]`, hard defaulting to soft. */
export function parseUlimit(text: string): Ulimit {
  const eq = text.indexOf('=');
  if (eq < 0) throw new RangeError(`invalid ulimit argument: ${text}`);
  const name = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (!ULIMIT_NAMES.has(name)) throw new RangeError(`invalid ulimit type: ${name}`);
  const parts = value.split(':');
  if (parts.length > 2)
    throw new RangeError(`too many limit value arguments - ${value}, can only have up to two, \`soft[:hard]\``);
  const hardPart = parts.length === 2 ? goInt64(parts[1] as string) : undefined;
  const soft = goInt64(parts[0] as string);
  const hard = hardPart ?? soft;
  if (hard !== -1) {
    if (soft === -1)
      throw new RangeError(
        `ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${hard}`,
      );
    if (soft > hard)
      throw new RangeError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  return { Name: name, Hard: hard, Soft: soft };
}

/** docker's `ParseRestartPolicy`: `no`, `always`, `unless-stopped`, `on-failure[:N]` (names checked by the engine). */
export function parseRestartPolicy(text: string): RestartPolicy {
  if (text === '') return { Name: '', MaximumRetryCount: 0 };
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const count = colon < 0 ? '' : text.slice(colon + 1);
  if (colon >= 0 && name === '') throw new RangeError('invalid restart policy format: no policy provided before colon');
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count))
      throw new RangeError('invalid restart policy format: maximum retry count must be an integer');
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

/**
 * docker's env-file format (`pkg/kvfile`): `KEY=value` lines taken literally, `KEY` alone takes the value
 * from `lookup` (and is dropped when unset), `#` comments and blank lines skipped, a UTF-8 BOM dropped.
 */
export function parseEnvFileText(text: string, lookup: ((key: string) => string | undefined) | undefined): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    let raw = (lines[i] as string).replace(/\r$/, '');
    if (i === 0) raw = raw.replace(/^\uFEFF/, '');
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') throw new RangeError(`no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw new RangeError(`variable '${key}' contains whitespaces`);
    if (eq >= 0) {
      out.push(line);
      continue;
    }
    const value = lookup?.(line);
    if (value !== undefined) out.push(`${key}=${value}`);
  }
  return out;
}

/** docker's `ValidateEnv`: `KEY=value` as is; a bare `KEY` takes the value from `lookup` when set. */
export function validateEnv(value: string, lookup: (key: string) => string | undefined): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === '') throw new RangeError(`invalid environment variable: ${value}`);
  if (eq >= 0) return value;
  const found = lookup(key);
  return found === undefined ? value : `${key}=${found}`;
}

/** docker's `ValidateLabel`. */
export function validateLabel(value: string): string {
  const eq = value.indexOf('=');
  const key = (eq < 0 ? value : value.slice(0, eq)).replace(/^[ \t]+/, '');
  if (key === '') throw new RangeError(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new RangeError(`label '${key}' contains whitespaces`);
  return value;
}

/** docker's `ValidateSysctl`: namespaced sysctls only. */
export function validateSysctl(value: string): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? '' : value.slice(0, eq);
  if (key !== '' && sysctlNamespace(key) !== undefined) return value;
  throw new RangeError(`sysctl '${value}' is not allowed`);
}

/** `-a`: one of stdin, stdout, stderr (any case), lower-cased. */
export function validateAttach(value: string): string {
  const s = value.toLowerCase();
  if (s === 'stdin' || s === 'stdout' || s === 'stderr') return s;
  throw new RangeError('valid streams are STDIN, STDOUT and STDERR');
}

/** Splits `a=b` pairs into a map, as docker's `ConvertKVStringsToMap`. */
export function kvToMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    out[eq < 0 ? v : v.slice(0, eq)] = eq < 0 ? '' : v.slice(eq + 1);
  }
  return out;
}

/**
 * docker's `parseSecurityOpts`: `key=value` or `key:value`, `no-new-privileges` alone; a
 * `seccomp=FILE` profile is read (through `readFile`) and sent inline, compacted.
 */
export function parseSecurityOpts(opts: readonly string[], readFile: (path: string) => string): string[] {
  return opts.map((opt) => {
    let sep = opt.indexOf('=');
    if (sep < 0 && opt !== 'no-new-privileges') sep = opt.indexOf(':');
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? '' : opt.slice(sep + 1);
    if ((sep < 0 || value === '') && key !== 'no-new-privileges')
      throw new RangeError(`Invalid --security-opt: ${JSON.stringify(opt)}`);
    if (key !== 'seccomp' || value === 'builtin' || value === 'unconfined') return opt;
    let text: string;
    try {
      text = readFile(value);
    } catch (err) {
      throw new RangeError(`opening seccomp profile (${value}) failed: ${goErrnoText(err, value)}`);
    }
    let compact: string;
    try {
      compact = JSON.stringify(JSON.parse(text));
    } catch (err) {
      throw new RangeError(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`);
    }
    return `seccomp=${compact}`;
  });
}
