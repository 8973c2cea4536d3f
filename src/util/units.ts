/**
 * Sizes and durations as Docker reads them: docker/go-units `RAMInBytes` (binary multiples, with Go's
 * `strconv.ParseFloat` for the number) and Go's `time.ParseDuration`. Pure; errors are RangeErrors with Go's
 * messages, for the caller to wrap.
 */
import { goQuote } from './shellwords.ts';

/** Go's `strconv.ParseFloat(s, 64)` for the decimal forms Docker takes (`1.5`, `.5`, `1e3`, `1_000`, `inf`). */
export function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?(inf|infinity|nan)$/i.test(text)) {
    throw new RangeError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text.replaceAll('_', '').replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
}

/**
 * go-units `RAMInBytes`: `512m`, `1.5g`, `2GiB`, `100` (bytes), binary multiples up to `p`; an optional space
 * between number and unit. Fractions are truncated toward zero, as Go's int64 conversion. RangeError
 * `invalid size: '…'`, `invalid suffix: '…'` or ParseFloat's message otherwise.
 */
export function ramInBytes(text: string): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(text[i] as string)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new RangeError(`invalid size: '${text}'`);
  const num = text[sep] !== ' ' ? text.slice(0, sep + 1) : text.slice(0, sep);
  let sfx = text.slice(sep + 1);
  let size = parseGoFloat(num);
  if (size < 0) throw new RangeError(`invalid size: '${text}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = (): never => {
    throw new RangeError(`invalid suffix: '${sfx}'`);
  };
  if (sfx.length > 3) return bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') return sfx.length > 1 ? bad() : Math.trunc(size);
  const power = 'kmgtp'.indexOf(sfx[0] as string);
  if (power < 0) return bad();
  size *= 1024 ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) return bad();
  return Math.trunc(size);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `time.ParseDuration` (`1h30m`, `1.5s`, `300ms`, `-2us`, `0`), in nanoseconds, truncated as Go's int64. */
export function parseGoDuration(text: string): number {
  const invalid = () => new RangeError(`time: invalid duration ${goQuote(text)}`);
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
    if (u === undefined) throw new RangeError(`time: missing unit in duration ${goQuote(text)}`);
    const unit = DURATION_UNITS[u];
    if (unit === undefined) {
      throw new RangeError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(text)}`);
    }
    s = s.slice(u.length);
    total += Number(m[1] || '0') * unit + (m[2] ? Number(`0.${m[2]}`) * unit : 0);
  }
  if (total > 2 ** 63 - 1) throw invalid();
  return sign * Math.trunc(total);
}
