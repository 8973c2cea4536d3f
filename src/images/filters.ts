/**
 * The Engine API's image filters (`GET /images/json`, `POST /images/prune`) as pure functions: parsing their values
 * and matching one image. The image service applies them.
 */
import { familiarName, familiarString, parseReference } from '../oci/reference.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { parseTimestamp } from '../util/timestamp.ts';

/** A `label` filter: the label is set (`key`), set to a value (`key=value`), or the opposite (`negate`). */
export interface LabelFilter {
  key: string;
  value?: string;
  negate: boolean;
}

/** `key`, `key=value` or `key!=value`. */
export function parseLabelFilters(values: readonly string[]): LabelFilter[] {
  return values.map((v) => {
    const neq = v.indexOf('!=');
    if (neq > 0) return { key: v.slice(0, neq), value: v.slice(neq + 2), negate: true };
    const eq = v.indexOf('=');
    return eq > 0 ? { key: v.slice(0, eq), value: v.slice(eq + 1), negate: false } : { key: v, negate: false };
  });
}

/** Whether labels pass every filter. */
export function matchLabels(labels: Record<string, string>, filters: readonly LabelFilter[]): boolean {
  for (const f of filters) {
    const has = f.value === undefined ? f.key in labels : labels[f.key] === f.value;
    if (has === f.negate) return false;
  }
  return true;
}

/** `dangling=true|false|1|0`: undefined when absent; InvalidArgumentError for any other value. */
export function parseDangling(values: readonly string[] | undefined): boolean | undefined {
  if (values === undefined) return undefined;
  if (values.some((v) => !['true', 'false', '1', '0'].includes(v)))
    throw new InvalidArgumentError(`invalid filter 'dangling=${values.join(',')}'`);
  return values.includes('true') || values.includes('1');
}

/** `until` values (timestamps or durations, as Docker takes them) in seconds since the epoch. */
export function parseUntil(values: readonly string[] | undefined): number[] | undefined {
  return values?.map((v) => parseTimestamp(v));
}

/**
 * A `reference` filter as Docker matches it: Go's path.Match (`*` and `?` do not cross '/') against a tag's
 * familiar name (`busybox`), its familiar form (`busybox:latest`), or `name:tag`.
 */
export function referenceMatcher(pattern: string): (tag: string) => boolean {
  const re = globToRegExp(pattern);
  return (tag) => {
    const ref = parseReference(tag);
    const fam = familiarName(ref);
    if (re.test(fam) || re.test(familiarString(ref))) return true;
    return ref.tag !== undefined && re.test(`${fam}:${ref.tag}`);
  };
}

/** Go's path.Match pattern as a RegExp. */
function globToRegExp(p: string): RegExp {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') s += '[^/]*';
    else if (c === '?') s += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) throw new InvalidArgumentError(`invalid reference filter "${p}"`);
      s += `[${p.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
      i = end;
    } else s += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${s}$`);
}

/** Seconds since the epoch of an image config's `created` (0 when absent or unreadable), as Docker lists it. */
export function createdSeconds(created: string | undefined): number {
  const t = created ? Date.parse(created) : Number.NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}
