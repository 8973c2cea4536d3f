/**
 * Sizes as Docker reads them (docker/go-units `RAMInBytes`: binary multiples), with Go's `strconv.ParseFloat` for
 * the number. Pure; errors are RangeErrors with Go's messages, for the caller to wrap.
 */

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
