/**
 * The docker CLI's own number parsers for flag values: `--memory-swap` and `--cpus` as a rational. Go's parsers
 * they build on (go-units `RAMInBytes`, `time.ParseDuration`, `strconv`) are in src/util/units.ts and strconv.ts.
 * Each throws a RangeError whose message is docker's; the caller decides how to report it.
 */
import { ramInBytes } from '../../util/units.ts';

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
