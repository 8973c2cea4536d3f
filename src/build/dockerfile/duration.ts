import { goQuote } from '../../util/shellwords.ts';

/** Go's time.ParseDuration (`1h30m`, `1.5s`, `300ms`, `-2us`, `0`), in nanoseconds, as HEALTHCHECK flags take it. */
const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export function parseGoDuration(text: string): number {
  const invalid = () => new Error(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    if (m[0] === '' || m[0] === '.' || (m[1] === '' && (m[2] ?? '') === '')) throw invalid();
    s = s.slice(m[0].length);
    const u = /^[^\d.]+/.exec(s)?.[0];
    if (u === undefined) throw new Error(`time: missing unit in duration ${goQuote(text)}`);
    const unit = UNITS[u];
    if (unit === undefined) {
      throw new Error(`time: unknown unit ${goQuote(u)} in duration ${goQuote(text)}`);
    }
    s = s.slice(u.length);
    total += Number(m[1] || '0') * unit + (m[2] ? Number(`0.${m[2]}`) * unit : 0);
  }
  if (total > 2 ** 63 - 1) throw invalid();
  return sign * Math.trunc(total);
}
