/**
 * RPM's version ordering (rpmvercmp, with epoch and release): `[epoch:]version[-release]`. Each of version and
 * release splits into runs of digits or letters (other characters only separate); `~` sorts before anything, `^`
 * after the end but before anything else; digit runs beat letter runs and compare as numbers.
 */
function segments(s: string): string[] {
  return s.match(/~|\^|[0-9]+|[A-Za-z]+/g) ?? [];
}

export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  const x = segments(a);
  const y = segments(b);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '~' || q === '~') {
      if (p !== '~') return 1;
      if (q !== '~') return -1;
      continue;
    }
    if (p === '^' || q === '^') {
      if (p === undefined) return -1;
      if (q === undefined) return 1;
      if (p !== '^') return 1;
      if (q !== '^') return -1;
      continue;
    }
    if (p === undefined || q === undefined) return p === undefined ? (q === undefined ? 0 : -1) : 1;
    const pd = /^[0-9]/.test(p);
    const qd = /^[0-9]/.test(q);
    if (pd !== qd) return pd ? 1 : -1;
    if (pd) {
      const pn = p.replace(/^0+/, '');
      const qn = q.replace(/^0+/, '');
      if (pn.length !== qn.length) return pn.length - qn.length;
      if (pn !== qn) return pn < qn ? -1 : 1;
    } else if (p !== q) {
      return p < q ? -1 : 1;
    }
  }
}

export function compareRpm(a: string, b: string): number {
  const split = (v: string) => {
    const c = v.indexOf(':');
    const epoch = c >= 0 && /^[0-9]+$/.test(v.slice(0, c)) ? Number(v.slice(0, c)) : 0;
    const rest = c >= 0 ? v.slice(c + 1) : v;
    const d = rest.lastIndexOf('-');
    return { epoch, version: d >= 0 ? rest.slice(0, d) : rest, release: d >= 0 ? rest.slice(d + 1) : '' };
  };
  const x = split(a);
  const y = split(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return rpmvercmp(x.version, y.version) || (x.release && y.release ? rpmvercmp(x.release, y.release) : 0);
}
