/**
 * Go's number, size and duration parsers as the docker CLI applies them to flag values: `strconv.ParseFloat`,
 * `ParseInt`, `Atoi`, `ParseBool`, go-units `RAMInBytes`, `--cpus` as a rational, `time.ParseDuration`. Each throws
 * a plain Error whose message is docker's; the caller decides how to report it.
 */

const KiB = 1024;

/** Go's `strconv.ParseFloat(s, 64)` for the decimal forms docker accepts. */
export function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?(inf|infinity|nan)$/i.test(text)) {
    throw new RangeError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text.replaceAll('_', '').replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
}

/**
 * go-units `RAMInBytes`: `512m`, `1.5g`, `2GiB`, `100` (bytes), binary multiples; an optional space
 * between number and unit. Fractions are truncated toward zero, as Go's int64 conversion.
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
  if (sfx.length > 3) {
    sfx = sfx.toLowerCase();
    return bad();
  }
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) return bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0] as string);
  if (power < 0) return bad();
  size *= KiB ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) return bad();
  return Math.trunc(size);
}

/** `--memory-swap`: like a size, or `-1` for unlimited. */
export function memSwapBytes(text: string): number {
  return text === '-1' ? -1 : ramInBytes(text);
}

/**
 * docker's `ParseCPUs`: a rational number (`1.5`, `3/2`, `1e-2`) times 1e9, which must come out whole.
 * Range checks (`--cpus -1`) are the engine's.
 */
export function parseCPUs(text: string): number {
  const rat = parseRational(text);
  if (rat === undefined) throw new RangeError(`failed to parse ${text} as a rational number`);
  const [num, den] = rat;
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new RangeError('value is too precise');
  return Number(scaled / den);
}

/** Go's `big.Rat.SetString`: `a/b`, or a decimal with an optional exponent, as numerator and denominator. */
function parseRational(text: string): [bigint, bigint] | undefined {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(text);
  if (frac !== null) {
    const den = BigInt(frac[2] as string);
    if (den === 0n) return undefined;
    return [BigInt(frac[1] as string), den];
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  let num = BigInt(digits === '' ? '0' : digits);
  if (m[1] === '-') num = -num;
  const exp = (m[4] === undefined ? 0 : Number(m[4])) - (m[3] ?? '').length;
  let den = 1n;
  if (exp > 0) num *= 10n ** BigInt(exp);
  else if (exp < 0) den = 10n ** BigInt(-exp);
  return [num, den];
}

/** Go's `strconv.ParseInt(s, 10, 64)`. */
export function goInt64(text: string): number {
  if (!/^[+-]?\d+$/.test(text))
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = BigInt(text);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n))
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  return Number(n);
}

/** Go's `strconv.Atoi`. */
export function goAtoi(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new RangeError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

/** Go's `strconv.ParseBool`. */
export function goParseBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new RangeError(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
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

/** Go's `time.ParseDuration` in nanoseconds: `1h30m`, `1.5s`, `-2ms`, `0`. */
export function parseGoDuration(text: string): number {
  const invalid = (): never => {
    throw new RangeError(`time: invalid duration ${JSON.stringify(text)}`);
  };
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') invalid();
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (whole === '' && (frac === undefined || frac === '')) invalid();
    s = s.slice((num?.[0] ?? '').length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new RangeError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const scale = DURATION_UNITS[unit];
    if (scale === undefined)
      throw new RangeError(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    s = s.slice(unit.length);
    total +=
      Number(whole === '' ? '0' : whole) * scale +
      (frac === undefined || frac === '' ? 0 : Number(`0.${frac}`) * scale);
  }
  if (total > 2 ** 63 - 1) invalid();
  return Math.round(neg ? -total : total);
}
