/**
 * PEP 440 version ordering (PyPI): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, normalised as PEP 440 says
 * (case, `alpha`/`beta`/`c`/`pre`/`preview`, `rev`/`r`/`-N` post releases, `-`/`_`/`.` separators, implicit 0,
 * a leading `v`). Order: epoch; release with trailing zeros ignored; a dev release of a final version before its
 * pre-releases, pre-releases before the final, post releases after it, dev releases before what they lead to;
 * local versions after the same public version, segment by segment (numbers after strings).
 */
import { InvalidArgumentError } from '../../util/errors.ts';

const RE =
  /^v?(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/;

type Key = [number, number[], number[], number, number, (number | string)[] | null];

function key(v: string): Key {
  const m = RE.exec(v.trim().toLowerCase());
  if (!m?.groups) throw new InvalidArgumentError(`invalid PEP 440 version "${v}"`);
  const g = m.groups;
  const release = g.release!.split('.').map(Number);
  while (release.length > 1 && release.at(-1) === 0) release.pop();
  const preRank: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };
  const hasPre = g.pre_l !== undefined;
  const hasPost = g.post !== undefined;
  const hasDev = g.dev_l !== undefined;
  // Infinity and -Infinity stand for packaging's Infinity / NegativeInfinity sentinels.
  let pre: number[];
  if (!hasPre && !hasPost && hasDev) pre = [Number.NEGATIVE_INFINITY];
  else if (!hasPre) pre = [Number.POSITIVE_INFINITY];
  else pre = [preRank[g.pre_l!]!, Number(g.pre_n ?? 0)];
  const post = hasPost ? Number(g.post_n1 ?? g.post_n2 ?? 0) : Number.NEGATIVE_INFINITY;
  const dev = hasDev ? Number(g.dev_n ?? 0) : Number.POSITIVE_INFINITY;
  const local = g.local ? g.local.split(/[-_.]/).map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s)) : null;
  return [Number(g.epoch ?? 0), release, pre, post, dev, local];
}

function cmpNums(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function cmpLocal(a: (number | string)[] | null, b: (number | string)[] | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return 1;
    if (typeof y === 'number') return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function comparePep440(a: string, b: string): number {
  const x = key(a);
  const y = key(b);
  return (
    x[0] - y[0] ||
    cmpNums(x[1], y[1]) ||
    cmpNums(x[2], y[2]) ||
    (x[3] === y[3] ? 0 : x[3] < y[3] ? -1 : 1) ||
    (x[4] === y[4] ? 0 : x[4] < y[4] ? -1 : 1) ||
    cmpLocal(x[5], y[5])
  );
}
