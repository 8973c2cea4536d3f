/**
 * Go's `strconv` parsers, as Docker's tools apply them to flag and option values: `ParseFloat`, `ParseInt` and
 * `ParseBool`. Pure; errors are RangeErrors with Go's messages (`strconv.ParseInt: parsing "x": invalid
 * syntax`), for the caller to wrap.
 */

/** Go's `strconv.ParseFloat(s, 64)` for the decimal forms Docker takes (`1.5`, `.5`, `1e3`, `1_000`, `inf`). */
export function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?(inf|infinity|nan)$/i.test(text)) {
    throw new RangeError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text.replaceAll('_', '').replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
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

/** Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`, nothing else. */
export function goParseBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new RangeError(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}
