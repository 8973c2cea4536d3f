/**
 * Sizes and durations as Docker reads them: docker/go-units `RAMInBytes` (binary multiples, with Go's
 * `strconv.ParseFloat` for the number, in strconv.ts) and Go's `time.ParseDuration`. Pure; errors are RangeErrors with Go's
 * messages, for the caller to wrap.
 */
import { goQuote } from './shellwords.ts';
import { parseGoFloat } from './strconv.ts';

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

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION = 2n ** 63n;

/**
 * Go's `time.ParseDuration` (`1h30m`, `1.5s`, `300ms`, `-2us`, `0`), in nanoseconds: fractions truncated, and more
 * than an int64 of nanoseconds (about 292 years) refused, as Go does.
 */
export function parseGoDuration(text: string): number {
  const invalid = () => new RangeError(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const whole = m[1] ?? '';
    const fraction = m[2] ?? '';
    if (whole === '' && fraction === '') throw invalid();
    s = s.slice(m[0].length);
    const u = /^[^\d.]+/.exec(s)?.[0];
    if (u === undefined) throw new RangeError(`time: missing unit in duration ${goQuote(text)}`);
    const unit = DURATION_UNITS[u];
    if (unit === undefined) {
      throw new RangeError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(text)}`);
    }
    s = s.slice(u.length);
    const v = BigInt(whole || '0');
    if (v > MAX_DURATION / unit) throw invalid();
    total += v * unit;
    if (fraction !== '') total += BigInt(Math.trunc(Number(`0.${fraction}`) * Number(unit)));
    if (total > MAX_DURATION) throw invalid();
  }
  if (!negative && total > MAX_DURATION - 1n) throw invalid();
  return Number(negative ? -total : total);
}
