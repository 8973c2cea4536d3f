/**
 * What a scenario saw, as flat facts (`key → text`), and the comparison of two engines' facts.
 *
 * JSON bodies are kept as shapes: every key path with its value's type (`body.State.Running = boolean`), array
 * elements merged under `[]`, so two engines agree when they give the same keys with the same types. Values that
 * clients act on (a status, an exit code, an error text, a content type) are recorded as text, normalised:
 * IDs, times, sizes and the engine's own paths become placeholders.
 */

export type Facts = Map<string, string>;

/** The step a scenario that threw records its error under. */
export const ENDED_EARLY = '(scenario ended early)';

export interface Step {
  label: string;
  facts: Facts;
}

/** Replaces what legitimately differs between two engines with placeholders. */
export function normalise(text: string, roots: string[] = []): string {
  let s = text;
  for (const r of roots) s = s.split(r).join('<root>');
  return s
    .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)\b/g, '<time>')
    .replace(/\b(?:sha256:)?[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<short>')
    .replace(/\b\d+(?:\.\d+)?\s?(?:[kKMG]i?B|B)\b/g, '<size>')
    .replace(/\b\d+(?:\.\d+)? ?(?:seconds?|minutes?|hours?)(?: ago)?\b/g, '<ago>')
    .replace(/\b(?:Less than a second|About a minute|About an hour|Up Less than a second)(?: ago)?\b/g, '<ago>')
    .replace(/\b1[6-9]\d{8}(?:\.\d+)?\b/g, '<unix>')
    .replace(/\b1[6-9]\d{17}\b/g, '<unixnano>');
}

/** A value's type as the comparison sees it. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * The shape of a JSON value: `prefix.key = type` for every key path. Keys that are IDs (map keys in
 * `Networks`, `/system/df`, …) are normalised; array elements are merged under `prefix[]`.
 */
export function shape(v: unknown, prefix: string, out: Facts = new Map(), roots: string[] = []): Facts {
  const add = (k: string, t: string) => {
    const cur = out.get(k);
    if (cur === undefined) out.set(k, t);
    else if (!cur.split('|').includes(t)) out.set(k, [...cur.split('|'), t].sort().join('|'));
  };
  add(prefix, typeOf(v));
  if (Array.isArray(v)) for (const e of v) shape(e, `${prefix}[]`, out, roots);
  else if (typeof v === 'object' && v !== null)
    for (const [k, e] of Object.entries(v)) shape(e, `${prefix}.${normalise(k, roots)}`, out, roots);
  return out;
}

/** The values at dotted paths (`a.b`, `a[].b` for every element), normalised; absent paths are `(absent)`. */
export function valuesAt(v: unknown, paths: string[], roots: string[] = []): Facts {
  const out: Facts = new Map();
  for (const p of paths) {
    const got = pick(v, p.split('.'));
    out.set(`value ${p}`, got === undefined ? '(absent)' : normalise(JSON.stringify(got), roots));
  }
  return out;
}

function pick(v: unknown, parts: string[]): unknown {
  if (parts.length === 0) return v;
  const [head, ...rest] = parts as [string, ...string[]];
  if (head.endsWith('[]')) {
    const arr = head === '[]' ? v : (v as Record<string, unknown> | null)?.[head.slice(0, -2)];
    if (!Array.isArray(arr)) return arr === undefined ? undefined : `(not an array: ${typeOf(arr)})`;
    return arr.map((e) => pick(e, rest));
  }
  if (typeof v !== 'object' || v === null) return undefined;
  return pick((v as Record<string, unknown>)[head], rest);
}

export interface Difference {
  scenario: string;
  step: string;
  key: string;
  berth: string;
  docker: string;
}

/** Every fact that differs between the two engines' runs of one scenario, step by step. */
export function compareSteps(scenario: string, berth: Step[], docker: Step[]): Difference[] {
  const out: Difference[] = [];
  const labels = [...new Set([...docker.map((s) => s.label), ...berth.map((s) => s.label)])];
  for (const label of labels) {
    const b = berth.find((s) => s.label === label)?.facts;
    const d = docker.find((s) => s.label === label)?.facts;
    if (!b || !d) {
      // A scenario that ended early says why; other steps only that one side did not reach them.
      if (label === ENDED_EARLY)
        for (const [key, v] of b ?? d ?? [])
          out.push({ scenario, step: label, key, berth: b ? v : '(not reached)', docker: d ? v : '(not reached)' });
      else
        out.push({
          scenario,
          step: label,
          key: '(step)',
          berth: b ? 'ran' : 'not reached',
          docker: d ? 'ran' : 'not reached',
        });
      continue;
    }
    const keys = [...new Set([...d.keys(), ...b.keys()])].sort();
    const step: Difference[] = [];
    for (const key of keys) {
      const bv = b.get(key) ?? '(absent)';
      const dv = d.get(key) ?? '(absent)';
      if (bv !== dv) step.push({ scenario, step: label, key, berth: bv, docker: dv });
    }
    // A whole subtree one side lacks is one difference: its top key, not every key below it.
    const absent = (x: Difference) => (x.berth === '(absent)' ? 'berth' : x.docker === '(absent)' ? 'docker' : '');
    out.push(
      ...step.filter(
        (x) =>
          !absent(x) ||
          !step.some(
            (y) =>
              y !== x && absent(y) === absent(x) && (x.key.startsWith(`${y.key}.`) || x.key.startsWith(`${y.key}[]`)),
          ),
      ),
    );
  }
  return out;
}

/** A difference that is known: deliberate (with its reason) or a recorded gap (with its id). */
export interface Known {
  scenario: string | RegExp;
  step?: RegExp;
  key: RegExp;
  /** Only when Berth's value matches (e.g. a field Berth adds: docker's side is `(absent)`). */
  berth?: RegExp;
}

export function matches(k: Known, d: Difference): boolean {
  if (typeof k.scenario === 'string' ? k.scenario !== d.scenario : !k.scenario.test(d.scenario)) return false;
  if (k.step && !k.step.test(d.step)) return false;
  if (k.berth && !k.berth.test(d.berth)) return false;
  return k.key.test(d.key);
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

export function formatDifferences(diffs: Difference[]): string {
  const lines: string[] = [];
  let step = '';
  for (const d of diffs) {
    if (d.step !== step) {
      step = d.step;
      lines.push(`  step "${d.step}":`);
    }
    lines.push(`    ${d.key}\n      berth:  ${clip(d.berth)}\n      docker: ${clip(d.docker)}`);
  }
  return lines.join('\n');
}
