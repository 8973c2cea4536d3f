// Node's built-ins through getBuiltinModule: the ESM facades of node:fs and node:module cost ~5 ms to build.
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { basename, dirname, join } = process.getBuiltinModule('node:path');

/**
 * The compose command line (`./main.ts` and everything of src/cli/compose and src/compose it loads) as one
 * script instead of ~35 ES modules: Node's ESM loader costs ~0.5-1 ms per module, and V8 compiles each function
 * that runs on its first call (Node's compile cache is made before the code runs and does not hold them). The
 * script is an esbuild bundle (bundle-build.ts) run through node:vm with V8's code cache made after a run, so
 * neither cost comes back. The modules outside those two folders (the CLI's errors and flags, util/, the engine
 * client) stay ES modules loaded from source by path, so there is one copy of each and its classes.
 *
 * The bundle never runs stale code: the manifest lists every file that went into it (and the builder) with its
 * size, modification and change times (nanoseconds) and inode, and each run stats them all (~0.3 ms); any
 * difference, or an input changed less than a second before a build (a write in the same clock tick could go
 * unseen), means the source runs instead. A stale or missing bundle is rebuilt by the run that finds it (~0.5 s wall,
 * once), when esbuild is installed and the cache directory can be written. `BERTH_COMPOSE_BUNDLE=0` runs the source.
 */

export type ComposeMain = typeof import('./main.ts');

export interface ComposeCli {
  runCompose: ComposeMain['runCompose'];
  COMPOSE_VERSION: string;
  /** Told the command's name when it starts: the bundle's code cache for that command is written when missing. */
  started?: (command: string) => void;
}

/** Raised whenever the bundle's layout or the manifest's meaning changes. */
export const BUNDLE_FORMAT = 1;
/** The install's root. */
export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', 'berth', 'compose-cli');
export const BUNDLE_PREFIX = 'compose-cli-';

/** One input: its path from ROOT, size, mtime and ctime in nanoseconds, inode (decimal strings). */
export type InputStat = [string, string, string, string, string];

export interface Manifest {
  format: number;
  root: string;
  /** The bundle's file name in the bundle directory. */
  bundle: string;
  inputs: InputStat[];
}

/** The stat of one input as the manifest records it; undefined when it cannot be read. */
export function inputStat(root: string, rel: string): InputStat | undefined {
  try {
    const st = statSync(join(root, rel), { bigint: true });
    return [rel, String(st.size), String(st.mtimeNs), String(st.ctimeNs), String(st.ino)];
  } catch {
    return undefined;
  }
}

/** Whether every input of the manifest is as it was when the bundle was built. */
export function isFresh(manifest: Manifest, root: string): boolean {
  if (manifest.format !== BUNDLE_FORMAT || manifest.root !== root || !Array.isArray(manifest.inputs)) return false;
  for (const recorded of manifest.inputs) {
    const now = inputStat(root, recorded[0]);
    if (now === undefined) return false;
    for (let i = 1; i < 5; i++) if (now[i] !== recorded[i]) return false;
  }
  return manifest.inputs.length > 0;
}

export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** Compose's own flags that take a value (`-f FILE`), to find the command in the arguments. */
const VALUE_FLAGS = new Set(['-f', '--file', '-p', '--project-name', '--project-directory', '--env-file', '--profile']);
for (const f of ['--ansi', '--progress', '--parallel']) VALUE_FLAGS.add(f);

/**
 * The compose command the arguments name (`config` in `-f x.yaml config`), for the name of its code cache; a wrong
 * guess only costs the cache (the command's `started` call must agree before one is written).
 */
export function commandOf(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-')) return /^[a-z][a-z-]{0,30}$/.test(a) ? a : 'other';
    if (VALUE_FLAGS.has(a)) i++;
  }
  return 'none';
}

/**
 * Runs the bundle at `path` (CommonJS, wrapped as Node wraps a module) with V8's code cache of it for `command`
 * when there is one: each command has its own, written at exit by the first run of that command (when the
 * command that started is the one guessed) or when V8 rejected it, so that each holds the functions its command
 * runs and no more (a code cache is deserialised whole: one for every command would cost `config` ~2 ms more).
 */
export function runBundle(path: string, command: string): ComposeCli {
  const vm = process.getBuiltinModule('node:vm');
  const source = readFileSync(path, 'utf8');
  const codePath = `${path}.${command}.${process.version}.v8`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(codePath);
  } catch {
    // Not made yet.
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: path,
    ...(cachedData !== undefined ? { cachedData } : {}),
  });
  const mod = { exports: {} as Record<string, unknown> };
  // esbuild requires a module once per module that imports it (util/errors.ts 15 times): each answer is kept, and
  // a built-in is taken without resolving (`process.getBuiltinModule` gives what require() would).
  const load = createRequire(path);
  const required = new Map<string, unknown>();
  const req = (id: string): unknown => {
    let m = required.get(id);
    if (m === undefined) {
      m = id.startsWith('node:') ? process.getBuiltinModule(id) : load(id);
      required.set(id, m);
    }
    return m;
  };
  (script.runInThisContext() as (e: unknown, r: unknown, m: unknown, f: string, d: string) => void)(
    mod.exports,
    req,
    mod,
    path,
    dirname(path),
  );
  const exported = mod.exports as unknown as ComposeCli;
  const keep = cachedData === undefined || script.cachedDataRejected === true;
  const write = () => {
    try {
      const { writeCacheFile, dropStale } = cacheFiles();
      writeCacheFile(codePath, script.createCachedData());
      // This command's code caches for other Node versions go.
      dropStale(dirname(path), `${basename(path)}.${command}.`, [basename(codePath)]);
    } catch {
      // A read-only install: the functions are compiled on each run.
    }
  };
  return {
    runCompose: exported.runCompose,
    COMPOSE_VERSION: exported.COMPOSE_VERSION,
    started: (name) => {
      if (keep && name === command) process.once('exit', write);
    },
  };
}

/** The cache-file helpers, loaded only to write. */
function cacheFiles(): typeof import('../../util/cache-files.ts') {
  return createRequire(import.meta.url)('../../util/cache-files.ts') as typeof import('../../util/cache-files.ts');
}

/**
 * The compose command line for the compose arguments `argv`: the bundle when it is fresh (built now when it is not
 * and can be), else the source. `env.BERTH_COMPOSE_BUNDLE === '0'` always takes the source.
 */
export async function composeCli(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Promise<ComposeCli> {
  if (env.BERTH_COMPOSE_BUNDLE !== '0') {
    try {
      let manifest = readManifest(BUNDLE_DIR);
      if (manifest === undefined || !isFresh(manifest, ROOT)) {
        // Only where the bundle can be written: a read-only install would pay for a build on every run.
        const fs = process.getBuiltinModule('node:fs');
        fs.mkdirSync(BUNDLE_DIR, { recursive: true });
        fs.accessSync(BUNDLE_DIR, fs.constants.W_OK);
        const { buildBundle } = await import('./bundle-build.ts');
        manifest = await buildBundle(ROOT, BUNDLE_DIR);
      }
      if (manifest !== undefined) return runBundle(join(BUNDLE_DIR, manifest.bundle), commandOf(argv));
    } catch {
      // No esbuild, an unwritable cache, a bundle removed by another run's rebuild: the source runs.
    }
  }
  const source = await import('./main.ts');
  return { runCompose: source.runCompose, COMPOSE_VERSION: source.COMPOSE_VERSION };
}
