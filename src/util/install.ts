const { join } = process.getBuiltinModule('node:path');

/**
 * Where the install is, and where Berth keeps its on-disk caches in it (the CLI's and compose's bundles, compose's
 * parse and validator caches): `node_modules/.cache/berth/`. No imports (Node's path through getBuiltinModule), so
 * that the CLI's loader, which reads it before anything else, pays for one small module.
 */

/** The install's root (beside `node_modules/` and `vendor/`). */
export const ROOT = join(import.meta.dirname, '..', '..');
export const CACHE_ROOT = join(ROOT, 'node_modules', '.cache', 'berth');
