/** Device numbers (`st_rdev`, a dev_t) taken apart as glibc's `major()` and `minor()` do. Pure. */

/** Minor in bits 0-7 and 20-43, major in bits 8-19 and 44-63: the encoding of glibc's makedev(). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  return {
    major: Number(((dev & 0xfff00n) >> 8n) | ((dev & 0xfffff00000000000n) >> 32n)),
    minor: Number((dev & 0xffn) | ((dev & 0xffffff00000n) >> 12n)),
  };
}
