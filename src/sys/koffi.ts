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

/**
 * Whether koffi is loaded already (something used the FFI): a caller with a way around it (the pidfds of restored
 * containers' conmons) uses it only then, so a daemon that never needed it does not load it for that.
 */
export function koffiLoaded(): boolean {
  return cached !== undefined;
}

/** A libc function as koffi binds it: called synchronously, or as `.async(...args, callback)` on libuv's pool. */
export type LibcFunction = ReturnType<Koffi.LibraryHandle['func']>;

/**
 * A loader of the libc functions in `decls` (name → C prototype): libc is loaded and they are bound on the first
 * call, then kept, so a module that declares them costs nothing until one is used.
 */
export function libcFunctions<K extends string>(decls: Record<K, string>): () => Record<K, LibcFunction> {
  let fns: Record<K, LibcFunction> | undefined;
  return () => {
    if (!fns) {
      const lib = koffi().load('libc.so.6');
      fns = Object.fromEntries(Object.entries<string>(decls).map(([k, d]) => [k, lib.func(d)])) as Record<
        K,
        LibcFunction
      >;
    }
    return fns;
  };
}
