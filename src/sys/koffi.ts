import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

type KoffiModule = typeof Koffi;
let cached: KoffiModule | undefined;

/**
 * koffi, loaded on first use: its native library costs about 8 MiB of memory, which a daemon that is only
 * serving image requests never needs to pay.
 */
export function koffi(): KoffiModule {
  cached ??= createRequire(import.meta.url)('koffi') as KoffiModule;
  return cached;
}
