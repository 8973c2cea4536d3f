/** docker's small text helpers for tables: `stringid.TruncateID` and `formatter.Ellipsis`. */

/** docker's `stringid.TruncateID`: drop the algorithm, keep 12 characters. */
export function truncateID(id: string): string {
  const colon = id.indexOf(':');
  const hex = colon >= 0 ? id.slice(colon + 1) : id;
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

/** docker's `formatter.Ellipsis`: cut to `max` characters ending in `…`. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (max <= 0) return '';
  if (chars.length <= max) return s;
  if (max === 1) return chars[0] ?? '';
  return `${chars.slice(0, max - 1).join('')}…`;
}
