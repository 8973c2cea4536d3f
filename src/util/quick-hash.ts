/**
 * A cheap 64-bit key for names that guard nothing (FNV-1a over UTF-16 code units, two 32-bit lanes with different
 * offsets, each part closed by a separator so that ("ab", "c") and ("a", "bc") differ): the compose caches' file
 * names and the kept build context's ID. It costs no `node:crypto` load (~6–10 ms of a short CLI run). Not for
 * security: what it names is checked by other means where that matters (the parse cache compares the text it kept).
 */
export function quickHash(...parts: readonly string[]): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xff, 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
