/**
 * Worker threads that run TypeScript modules without loading Node's type stripper in the thread. Each isolate
 * that imports a `.ts` file instantiates the stripper (a WebAssembly build of swc) for itself: measured here, a
 * worker that imports Berth's modules costs ~24 MiB of RSS that way and ~11 MiB when the same modules arrive as
 * plain JavaScript. So the thread's own modules (the entry and every relative `.ts` module it imports, found by
 * following their import statements and `require('./x.ts')` calls) are stripped here, on the thread that already
 * holds the stripper (through bin/strip-cache.mjs's cache where berthd runs with it), and handed to the worker, whose
 * module loader serves them as JavaScript through a load hook. Packages and Node's built-ins load as usual; a `.ts`
 * module not found by the crawl (an import with a computed specifier) still loads, through the stripper.
 */
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { UnavailableError } from './errors.ts';

/**
 * The worker's bootstrap (CommonJS, evaluated): registers the load hook over the stripped sources, puts the caller's
 * `workerData` where the entry finds it (`node:worker_threads`'s export, the bootstrap's own replaced), then imports
 * the entry. A failure to load the entry becomes the worker's 'error' event.
 */
const BOOT = `
const { registerHooks, syncBuiltinESMExports } = require('node:module');
const threads = require('node:worker_threads');
const { workerData } = threads;
threads.workerData = workerData.data;
syncBuiltinESMExports();
const sources = new Map(workerData.sources);
registerHooks({
  load(url, context, next) {
    const source = sources.get(url);
    return source === undefined ? next(url, context) : { format: 'module', source, shortCircuit: true };
  },
});
import(workerData.entry).catch((err) => setImmediate(() => { throw err; }));
`;

/**
 * Relative imports of `.ts` modules: `from './x.ts'`, `import './x.ts'`, `import('./x.ts')`, and `require('./x.ts')`
 * (a module loaded on first use from synchronous code, through createRequire).
 */
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(?\s*|\)\s*\(\s*|\brequire\s*\(\s*)(['"])(\.{1,2}\/[^'"]+\.ts)\1/g;

/**
 * Stripped sources by file URL, for the life of the process: a module's source does not change under a running
 * daemon, and stripping costs the main thread 10–25 ms a module here (a thread set of five would re-strip ~50).
 */
const stripped = new Map<string, string | null>();

/** The entry module and every relative `.ts` module it reaches, as JavaScript: [file URL, source] pairs. */
export function threadModules(entry: URL): [string, string][] {
  const out = new Map<string, string>();
  const todo = [entry.href];
  while (todo.length > 0) {
    const url = todo.pop()!;
    if (out.has(url)) continue;
    let js = stripped.get(url);
    if (js === undefined) {
      try {
        const cache = stripCache();
        js = cache ? cache(fileURLToPath(url)) : strip(readFileSync(new URL(url), 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        js = null; // a match inside a comment or a string
      }
      stripped.set(url, js);
    }
    if (js === null) continue;
    out.set(url, js);
    for (const m of js.matchAll(IMPORT_RE)) todo.push(new URL(m[2]!, url).href);
  }
  return [...out];
}

/**
 * Starts a worker on the TypeScript module `entry` (see above); `opts.workerData` is the entry's `workerData`, as
 * with `new Worker`. Where this thread has no stripper loaded, its `.ts` modules come from a load hook of the
 * process's (bin/berthd's `--import bin/strip-cache.mjs`, which workers inherit): then the worker is started
 * plainly, on that hook, rather than load the stripper here to strip what the hook already serves.
 */
export function startThread(entry: URL, opts: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!stripperLoaded()) return new Worker(entry, opts);
  const { workerData: data, ...rest } = opts;
  return new Worker(BOOT, {
    ...rest,
    eval: true,
    workerData: { entry: entry.href, sources: threadModules(entry), data },
  });
}

/**
 * A thread its owner starts and stops, told apart from one that dies: an uncaught error or an exit the owner did not
 * ask for reaches `onDeath`, once, as an UnavailableError naming `what` ("the ingest thread failed: …", "… exited
 * with code 1"); Node's 'exit' that follows an 'error' is not told again, nor is the end of a thread `stop` ended.
 */
export class OwnedThread {
  readonly worker: Worker;
  #ended = false;

  constructor(entry: URL, opts: Omit<WorkerOptions, 'eval'>, what: string, onDeath: (err: UnavailableError) => void) {
    const w = startThread(entry, opts);
    this.worker = w;
    const died = (why: string): void => {
      if (this.#ended) return;
      this.#ended = true;
      onDeath(new UnavailableError(`${what} ${why}`));
    };
    w.on('error', (err) => died(`failed: ${err.message}`));
    w.on('exit', (code) => died(`exited with code ${code}`));
  }

  /** Ends the thread on purpose: not a death. */
  async stop(): Promise<void> {
    this.#ended = true;
    await this.worker.terminate();
  }
}

/**
 * Runs `fn` once a thread set has been idle for `ms`: `arm` when the last work is done, `disarm` when work comes. The
 * timer does not keep the process alive.
 */
export class IdleTimer {
  readonly #ms: number;
  readonly #fn: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, fn: () => void) {
    this.#ms = ms;
    this.#fn = fn;
  }

  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts the wait, unless it is under way already. */
  arm(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fn();
    }, this.#ms);
    this.#timer.unref();
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * bin/strip-cache.mjs's cache of stripped modules, where berthd runs with it: the JavaScript of a `.ts` file, read from
 * the cache or stripped and written there. Through it, the modules stripped here for a thread are cached for the next
 * daemon's threads, which then load them through the hook without a stripper of their own.
 */
function stripCache(): ((path: string) => string) | undefined {
  const f = (globalThis as Record<symbol, unknown>)[Symbol.for('berth.strip-cache')];
  return typeof f === 'function' ? (f as (path: string) => string) : undefined;
}

/** Whether Node's type stripper is loaded in this thread (it stays loaded once a `.ts` module was stripped). */
function stripperLoaded(): boolean {
  const list = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? [];
  return list.some((m) => m.includes('amaro'));
}

/**
 * Node's stripper in strip mode, holding back the one ExperimentalWarning its first use emits (every other warning
 * passes as usual): the API is marked experimental, the stripping is the one Node applies to every `.ts` module.
 */
function strip(code: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.includes('stripTypeScriptTypes')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}
