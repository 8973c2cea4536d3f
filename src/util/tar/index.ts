/**
 * A streaming tar codec: `extract` reads entries from a byte stream without holding bodies in memory,
 * `pack` writes ustar + PAX archives that GNU tar lists and extracts.
 */
export type { TarEntryType, TarHeader, TarEntry, PackEntry } from './types.ts';
export { extract } from './extract.ts';
export { pack, TarPacker } from './pack.ts';
