import { CACHE_ROOT, ROOT } from '../util/install.ts';
import type { FlagSpec } from './flags.ts';

// Node's built-ins through getBuiltinModule: the ESM facades of node:fs and node:module cost ~5 ms to build.
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { basename, dirname, join } = process.getBuiltinModule('node:path');

/**
 * A command-line program as one script instead of tens of ES modules: Node's ESM loader costs ~0.3-1 ms per module,
 * and V8 compiles each function that runs on its first call (Node's compile cache is made before the code runs
 * and does not hold them). The script is an esbuild bundle (bundle-build.ts) run through node:vm with V8's code
 * cache made after a run, so neither cost comes back. Two programs use it: `berth` (`CLI_BUNDLE` in
 * berth.ts: the whole CLI but compose and the registry server) and the compose command line (compose/bundle.ts).
 *
 * A bundle never runs stale code: the manifest lists every file that went into it (and the builder and loader)
 * with its size, modification and change times (nanoseconds) and inode, and each run stats them all (~1 µs a
 * file); any difference, or an input changed less than a second before a build (a write in the same clock tick
 * could go unseen), means the source runs instead. A stale or missing bundle is rebuilt by the run that finds it
 * (~0.5 s wall, once; runs that find it stale during that build run the source), when esbuild is installed and the
 * cache directory can be written. `BERTH_BUNDLE=0` (or the
 * program's own switch) runs the source.
 */

export interface BundleSpec {
  /** The bundle's folder under CACHE_ROOT and its file names' prefix (`cli`, `compose-cli`). */
  name: string;
  /** The entry module, from the root; the bundle exports what it exports. */
  entry: string;
  /** Files that decide what the bundle is besides its inputs (the spec's own module): a change makes it stale. */
  own: readonly string[];
  /** Whether the module at `rel` (from the root) is copied in; the others are required from source at run time. */
  bundled(rel: string): boolean;
  /**
   * Modules left out that the bundle may still reach (required by absolute path); any other module left out that a
   * copied one imports gives the build up. Undefined: any (compose's bundle requires the CLI's core from source).
   */
  handOff?: readonly string[];
  /** An environment variable that, set to `0`, runs the source (besides `BERTH_BUNDLE=0`). */
  switch?: string;
  /**
   * A second script built beside the bundle (START_SCRIPT): the program's launcher runs it instead of the source
   * entry when it is there, so that a fresh bundle runs without Node's ES module loader. `bundled` says which
   * modules are copied into it (the loader's own); it falls back to the source entry when the bundle is not fresh.
   */
  start?: { entry: string; bundled(rel: string): boolean };
}

/** The start script's name in the bundle's directory (see BundleSpec.start). */
export const START_SCRIPT = 'start.cjs';

/** Raised whenever a bundle's layout or the manifest's meaning changes. */
export const BUNDLE_FORMAT = 3;
export { CACHE_ROOT, ROOT };
/** The loader and the builder: a change to either makes every bundle stale. */
export const LOADER_FILES: readonly string[] = [join('src', 'cli', 'bundle.ts'), join('src', 'cli', 'bundle-build.ts')];

/** Where the bundle of `spec` lives. */
export function bundleDir(spec: BundleSpec): string {
  return join(CACHE_ROOT, spec.name);
}

/**
 * One input: its path from the root, size, mtime and ctime in milliseconds (with their fractions), inode. Plain
 * numbers, not nanoseconds: a stat without BigInts costs a third (~5 µs), and no precision is lost that matters, as
 * every input's change time is over a second older than the build (bundle-build.ts): a later write moves it past
 * the build's start.
 */
export type InputStat = [string, number, number, number, number];

export interface Manifest {
  format: number;
  root: string;
  /** The bundle's file name in the bundle directory. */
  bundle: string;
  inputs: InputStat[];
}

/** The stat of one input as the manifest records it; undefined when it cannot be read. */
export function inputStat(root: string, rel: string): InputStat | undefined {
  const st = statSync(`${root}/${rel}`, { throwIfNoEntry: false });
  return st === undefined ? undefined : [rel, st.size, st.mtimeMs, st.ctimeMs, st.ino];
}

/** Whether every input of the manifest (or of a give-up record) is as it was when the build read it. */
export function isFresh(manifest: Pick<Manifest, 'format' | 'root' | 'inputs'>, root: string): boolean {
  if (manifest.format !== BUNDLE_FORMAT || manifest.root !== root || !Array.isArray(manifest.inputs)) return false;
  for (const recorded of manifest.inputs) {
    let now: InputStat | undefined;
    try {
      now = inputStat(root, recorded[0]);
    } catch {
      return false; // not a directory on the way, no permission
    }
    if (now === undefined) return false;
    for (let i = 1; i < 5; i++) if (now[i] !== recorded[i]) return false;
  }
  return manifest.inputs.length > 0;
}

/**
 * A build given up for what its inputs are (a module esbuild cannot read, one whose module metadata is left
 * unreplaced, one that reaches a module left out): the same inputs would fail the same way, so no run builds again
 * while they are as they were and the files they import that were missing are still missing (`absent`, from the
 * root). (This module is copied into the start script: its text may not name the module metadata object.)
 */
export interface GiveUp extends Pick<Manifest, 'format' | 'root' | 'inputs'> {
  absent: string[];
}

/** The give-up record's name in the bundle's directory. */
export const GIVE_UP = 'given-up.json';

/** Whether the last build of the bundle in `dir` was given up and would be again (see GiveUp). */
export function givenUp(dir: string, root: string): boolean {
  let record: GiveUp;
  try {
    record = JSON.parse(readFileSync(join(dir, GIVE_UP), 'utf8')) as GiveUp;
    if (!Array.isArray(record.absent) || !isFresh(record, root)) return false;
    return record.absent.every((rel) => statSync(join(root, rel), { throwIfNoEntry: false }) === undefined);
  } catch {
    return false;
  }
}

export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * The command the arguments name after the program's own flags `flags` (`config` in `-f x.yaml config`, `ps` in
 * `-H unix:///x ps -a`), read as parseFlags reads them without interspersed arguments: a flag that takes a value
 * takes the next argument unless it has one (`--file=x`, `-fx`, `-f=x`), short flags combine (`-Dl debug`). For
 * the name of a code cache (a wrong guess only costs the cache: a command's `started` call must agree before one
 * is written) and for the programs' choice of what runs from source. `none` when there is no command, `other`
 * when it is no command's name.
 */
export function commandOf(argv: readonly string[], flags: readonly FlagSpec[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') return /^[a-z][a-z-]{0,30}$/.test(a) ? a : 'other';
    if (a.startsWith('--')) {
      if (a.includes('=')) continue;
      const spec = flags.find((f) => f.name === a.slice(2));
      if (spec !== undefined && spec.kind !== 'bool') i++;
      continue;
    }
    for (let c = 1; c < a.length; c++) {
      const spec = flags.find((f) => f.short === a[c]);
      if (spec === undefined || spec.kind === 'bool') continue;
      if (c === a.length - 1) i++; // `-f value`; else the rest of the argument is the value
      break;
    }
  }
  return 'none';
}

/** A program's modules, from its bundle or its source, and the hook that keeps V8's code after a run. */
export interface Loaded<T> {
  exports: T;
  /** Told the command's name when it starts: the bundle's code cache for that command is written when missing. */
  started?: (command: string) => void;
}

/**
 * Runs the bundle at `path` (a CommonJS module in the function Node wraps one in) with V8's code cache of it for `command`
 * when there is one: each command has its own, written at exit by the first run of that command (when the
 * command that started is the one guessed) or when V8 rejected it, so that each holds the functions its command
 * runs and no more (a code cache is deserialised whole: one for every command would cost each of them more).
 */
export function runBundle<T>(path: string, command: string): Loaded<T> {
  const vm = process.getBuiltinModule('node:vm');
  // ASCII, and already wrapped as Node wraps a CommonJS module (bundle-build.ts): read as it is, used as it is.
  const source = readFileSync(path, 'latin1');
  const codePath = `${path}.${command}.${process.version}.v8`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(codePath);
  } catch {
    // Not made yet.
  }
  const script = new vm.Script(source, {
    filename: path,
    ...(cachedData !== undefined ? { cachedData } : {}),
  });
  const mod = { exports: {} as Record<string, unknown> };
  // esbuild requires a module once per module that imports it: each answer is kept, and a built-in is taken
  // without resolving (`process.getBuiltinModule` gives what require() would).
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
    exports: mod.exports as T,
    started: (name) => {
      if (keep && name === command) process.once('exit', write);
    },
  };
}

/** The cache-file helpers, loaded only to write. */
function cacheFiles(): typeof import('../util/cache-files.ts') {
  return createRequire(import.meta.url)('../util/cache-files.ts') as typeof import('../util/cache-files.ts');
}

/**
 * The program of `spec` from its bundle when the bundle is fresh, without building it; undefined when the source
 * must run or the bundle be built (see loadBundle).
 */
export function freshBundle<T>(
  spec: BundleSpec,
  env: NodeJS.ProcessEnv,
  command: string,
  where: { root: string; dir: string } = { root: ROOT, dir: bundleDir(spec) },
): Loaded<T> | undefined {
  if (env.BERTH_BUNDLE === '0' || (spec.switch !== undefined && env[spec.switch] === '0')) return undefined;
  try {
    const manifest = readManifest(where.dir);
    if (manifest === undefined || !isFresh(manifest, where.root)) return undefined;
    return runBundle<T>(join(where.dir, manifest.bundle), command);
  } catch {
    return undefined; // a bundle removed by another run's rebuild
  }
}

/**
 * The program of `spec` from its bundle, for `command` (commandOf): when the bundle is fresh, or built now when it
 * is not and can be. Undefined when the source must run: `BERTH_BUNDLE=0` or the spec's switch, no esbuild, an
 * unwritable cache, a build given up (now, or before for the same inputs: GiveUp), a bundle removed by another
 * run's rebuild. `where` is the install's root and
 * the bundle's directory (another tree's, in tests).
 */
export async function loadBundle<T>(
  spec: BundleSpec,
  env: NodeJS.ProcessEnv,
  command: string,
  where: { root: string; dir: string } = { root: ROOT, dir: bundleDir(spec) },
): Promise<Loaded<T> | undefined> {
  if (env.BERTH_BUNDLE === '0' || (spec.switch !== undefined && env[spec.switch] === '0')) return undefined;
  const fresh = freshBundle<T>(spec, env, command, where);
  if (fresh !== undefined) return fresh;
  const { root, dir } = where;
  if (givenUp(dir, root)) return undefined;
  try {
    // Only where the bundle can be written: a read-only install would pay for a build on every run.
    const fs = process.getBuiltinModule('node:fs');
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    // One build at a time: the runs that find the bundle stale meanwhile run the source, which costs each less than
    // a build of its own (many CLIs started at once after a change would otherwise all build it).
    const lock = join(dir, BUILD_LOCK);
    if (!takeLock(lock)) return undefined;
    let manifest: Manifest | undefined;
    try {
      const { buildBundle } = await import('./bundle-build.ts');
      manifest = await buildBundle(spec, root, dir);
    } finally {
      fs.rmSync(lock, { force: true });
    }
    return manifest === undefined ? undefined : runBundle<T>(join(dir, manifest.bundle), command);
  } catch {
    return undefined;
  }
}

/** The file a build holds in the bundle's directory while it runs (loadBundle). */
export const BUILD_LOCK = 'build.lock';
/** A build's lock older than this was left by a run that died during its build: it is taken over. */
const LOCK_STALE_MS = 60_000;

/** Creates the lock file at `path`; false when another run holds it. Throws when it cannot be written. */
function takeLock(path: string): boolean {
  const fs = process.getBuiltinModule('node:fs');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(path, 'wx'));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (st !== undefined && Date.now() - st.mtimeMs < LOCK_STALE_MS) return false;
      fs.rmSync(path, { force: true });
    }
  }
  return false;
}
