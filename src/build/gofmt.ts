/**
 * The few Go formatting verbs Docker's classic builder writes into image history (`created_by`), so that Berth's
 * history reads byte for byte as Docker's: `%q` and `%v` of string slices, time.Duration's String and `%q` of an
 * int (a quoted rune).
 */
import { goQuote } from '../util/shellwords.ts';

/** `%q` of a []string: `["a" "b"]`; nil and empty both print `[]`. */
export function goQuoteList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).map(goQuote).join(' ')}]`;
}

/** `%v` of a []string: `[a b]`. */
export function goList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).join(' ')}]`;
}

/** Go's time.Duration.String for a count of nanoseconds: `0s`, `1.5s`, `1m30s`, `1h0m0s`, `100ms`, `2µs`. */
export function goDuration(ns: number): string {
  if (!Number.isSafeInteger(ns)) ns = Math.trunc(ns);
  const neg = ns < 0;
  let u = BigInt(Math.abs(ns));
  let out: string;
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    const [unit, prec] = u < 1000n ? ['ns', 0] : u < 1_000_000n ? ['µs', 3] : ['ms', 6];
    out = `${fraction(u, prec)}${unit}`;
  } else {
    const frac = fraction(u, 9);
    u /= 1_000_000_000n;
    out = `${u % 60n}${frac.slice(frac.indexOf('.') < 0 ? frac.length : frac.indexOf('.'))}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec with the fraction's trailing zeros (and a bare point) removed. */
function fraction(v: bigint, prec: number): string {
  if (prec === 0) return `${v}`;
  const scale = 10n ** BigInt(prec);
  const whole = v / scale;
  const frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}

/** `%q` of an int: the rune it encodes, quoted (`'\x02'`, `'A'`, `'\''`); invalid code points print `'�'`. */
export function goQuoteRune(n: number): string {
  let r = n;
  if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) r = 0xfffd;
  const ch = String.fromCodePoint(r);
  if (ch === "'") return "'\\''";
  if (ch === '"') return `'"'`;
  const q = goQuote(ch);
  return `'${q.slice(1, -1)}'`;
}
