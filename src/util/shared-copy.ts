/**
 * Copies `len` bytes of `src` from `off` into `dst` at `at`, where `dst` is a Buffer over shared memory (a
 * SharedArrayBuffer): through `Buffer.fill`, whose native side is one memcpy when the value is as long as the range.
 * V8 copies into shared memory with relaxed atomics, a word at a time, for `TypedArray.set` and for Node 24's
 * `Buffer.copy` (which is `set` underneath): 256 MiB in 64 KiB pieces took ~20 ms that way against ~8 ms here, on
 * this machine (bench/README.md, "Data path"). No bytes (`len` 0) copies nothing, as `fill` with an empty value
 * would throw.
 */
export function copyToShared(dst: Buffer, at: number, src: Uint8Array, off: number, len: number): void {
  if (len <= 0) return;
  if (off < 0 || off + len > src.length) throw new RangeError(`${len} bytes at ${off} of ${src.length}`);
  if (at < 0 || at + len > dst.length) throw new RangeError(`${len} bytes at ${at} of a ${dst.length}-byte target`);
  dst.fill(new Uint8Array(src.buffer, src.byteOffset + off, len), at, at + len);
}
