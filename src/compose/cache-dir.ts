/**
 * Where the compose loader keeps what it need not redo on every run (the compiled schema, parsed files): under
 * `node_modules/.cache/berth/` of the install, through util/cache-files.ts (written whole or not at all). Each
 * cache keeps only its current key (`dropStale`: the files of an older schema, ajv, Node or format go when a new
 * key is written) and stays within a count and a size (`boundCache`). The clean-up runs when something new is
 * written, never on a hit, so a warm run pays nothing for it.
 */

export { CACHE_ROOT as CACHE_DIR, ROOT } from '../util/install.ts';

export { boundCache, type CacheLimits, dropStale, touch, writeCacheFile } from '../util/cache-files.ts';
