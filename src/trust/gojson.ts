/**
 * JSON as Go's encoding/json writes it, so that payloads and manifests Berth writes are byte for byte those
 * cosign and containers/image write: compact, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` and so on,
 * map keys sorted (the caller builds struct-like objects with their keys in field order and passes maps through
 * `sortedKeys`).
 */
export function goJSON(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A copy of a JSON value whose objects have their keys sorted, as Go writes a map[string]any. */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortedKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}
