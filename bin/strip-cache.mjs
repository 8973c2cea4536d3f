// Loaded into berthd by bin/berthd (`node --import`, which its worker threads inherit): serves each TypeScript
// module of this tree from a cache of its type-stripped JavaScript. Node's compile cache would do that too, but it
// also keeps V8's code cache of every module, which deserialises into about 3 MB of berthd's heap for no faster a
// start (the runtime probes dominate it); without either, Node's stripper (amaro, a WebAssembly build of swc) stays
// loaded for the daemon's life, about 19 MB. See bench/README.md, "berthd's memory".
//
// The cache is keyed by the file's path, size and modification time, under the Node version whose stripper made it;
// stripping keeps every character's position ('strip' mode), so stack traces point at the same lines. Plain
// JavaScript, not TypeScript: it runs before any TypeScript can be loaded without the stripper.
// Built-in modules through getBuiltinModule: an ESM import would build a facade of each, at a cost on every start.
// Imports between the tree's own modules are resolved by bin/resolve-hook.mjs.
import './resolve-hook.mjs';

const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } =
  process.getBuiltinModule('node:fs');
const { registerHooks, stripTypeScriptTypes } = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}node_modules/.cache/berth-ts/${process.version}`;

/** The cached JavaScript of the TypeScript file at `path`, stripping (and caching) it when the file changed. */
function javascriptOf(path) {
  const st = statSync(path);
  const name = (path.startsWith(root) ? path.slice(root.length) : path).replaceAll('/', '%');
  const file = `${dir}/${name}.${st.size}.${st.mtimeMs}.js`;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // not cached yet, or changed since
  }
  // Node calls the stripper experimental and says so once per process; that is not this program's output.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  let js;
  try {
    js = stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
  try {
    mkdirSync(dir, { recursive: true });
    for (const old of readdirSync(dir)) if (old.startsWith(`${name}.`)) rmSync(`${dir}/${old}`, { force: true });
    writeFileSync(`${file}.${process.pid}.tmp`, js);
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    // an unwritable cache only costs the stripping next time
  }
  return js;
}

// The same cache for the modules the main thread strips for a worker thread itself (src/util/thread.ts does when this
// thread holds the stripper already, after a module of its own was stripped here): without it, a worker's modules
// stripped that way never reached the cache, and the next daemon's workers each loaded the stripper to strip them
// (~20 MiB of RSS per thread, at a load's peak: bench/README.md, "Data path").
globalThis[Symbol.for('berth.strip-cache')] = javascriptOf;

registerHooks({
  load(url, context, nextLoad) {
    if (!url.startsWith('file://') || !url.endsWith('.ts')) return nextLoad(url, context);
    return { format: 'module', source: javascriptOf(fileURLToPath(url)), shortCircuit: true };
  },
});
