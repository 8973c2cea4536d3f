// Loaded by bin/berth and bin/berthd (through bin/strip-cache.mjs) with `node --import`, which worker threads
// inherit: resolves a relative import of a TypeScript file inside this tree's src/ to that file's URL at once.
//
// Node's own resolution would stat the file, realpath it and turn the path back into a URL, for each import of
// each module: some thousand at berthd's start, a hundred for `berth version`. Measured (bench/README.md, "Start
// path (issue 9)"): a CPU profile of `berth version` under load had 5-7 ms of its ~56 in it; in berthd, the path
// normalisation it runs got hot enough for TurboFan to compile it during every start, which alone made the
// compiler's code, ~5 MB of Node's binary, resident in the idle daemon. src/ holds no symbolic links and its imports name whole files with their
// extension, so the URL is the answer; a file that is not there still fails to load, as the import would.
// Everything else (packages, built-ins, other files) goes to Node's resolution as before.
const { registerHooks } = process.getBuiltinModule('node:module');

const srcURL = new URL('../src/', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (
      parent?.startsWith(srcURL) &&
      (specifier.startsWith('./') || specifier.startsWith('../')) &&
      specifier.endsWith('.ts')
    ) {
      const url = new URL(specifier, parent).href;
      if (url.startsWith(srcURL)) return { url, format: 'module-typescript', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
