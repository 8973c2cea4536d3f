import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dropStale, writeCacheFile } from '../../util/cache-files.ts';
import { BUNDLE_FORMAT, BUNDLE_PREFIX, inputStat, type InputStat, type Manifest } from './bundle.ts';

/**
 * Builds the compose command line's bundle (see bundle.ts) with esbuild: `src/cli/compose/main.ts` and every
 * module of src/cli/compose and src/compose it reaches (statically or by `import()`), as one CommonJS script in
 * which the lazily loaded parts stay lazy. A module outside those folders is not copied in but required by its
 * absolute path at run time, so it is the very module the rest of the CLI loads. `import.meta.*` of each module
 * is replaced by that module's own values, so paths found from it (the install's root, `require` of packages)
 * are the same as from source. The build is given up (the source runs) when a module it copies in is not
 * erasable TypeScript esbuild can read, or still uses `import.meta`, or an input changes during the build or less
 * than a second before it.
 */

/** The folders copied into the bundle, from the root; the loader, the builder and the plugin's entry stay out. */
const BUNDLED = [`src${sep}compose${sep}`, `src${sep}cli${sep}compose${sep}`];
const LEFT_OUT = new Set(
  ['bundle.ts', 'bundle-build.ts', 'plugin.ts'].map((f) => `src${sep}cli${sep}compose${sep}${f}`),
);

/** Whether the module at `rel` (from the root) is copied into the bundle. */
export function isBundled(rel: string): boolean {
  return BUNDLED.some((d) => rel.startsWith(d)) && !LEFT_OUT.has(rel) && !/\.test\.ts$/.test(rel);
}

/** `import.meta`'s fields as the module at `path` sees them. */
function withImportMeta(path: string, text: string): string {
  return text
    .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href))
    .replaceAll('import.meta.dirname', JSON.stringify(dirname(path)))
    .replaceAll('import.meta.filename', JSON.stringify(path))
    .replaceAll('import.meta.main', 'false');
}

/**
 * Builds the bundle into `dir` and writes its manifest; returns the manifest, or undefined when the build was
 * given up. Throws when esbuild is missing or `dir` cannot be written (the caller runs the source).
 */
export async function buildBundle(root: string, dir: string): Promise<Manifest | undefined> {
  const esbuild = createRequire(join(root, 'package.json'))('esbuild') as typeof import('esbuild');
  const started = Date.now();
  const inputs = new Map<string, InputStat>();
  const record = (rel: string): void => {
    const st = inputStat(root, rel);
    if (st === undefined) throw new Error(`cannot stat ${rel}`);
    inputs.set(rel, st);
  };
  // The builder and the loader decide what the bundle is: a change to either makes it stale too.
  record(join('src', 'cli', 'compose', 'bundle-build.ts'));
  record(join('src', 'cli', 'compose', 'bundle.ts'));
  const plugin: import('esbuild').Plugin = {
    name: 'berth-compose-bundle',
    setup(build) {
      build.onResolve({ filter: /^\./ }, (args) => {
        const path = resolve(dirname(args.importer), args.path);
        if (isBundled(relative(root, path))) return undefined;
        return { path, external: true };
      });
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        const rel = relative(root, args.path);
        record(rel); // before reading: a write after it changes the change time
        const contents = withImportMeta(args.path, readFileSync(args.path, 'utf8'));
        if (contents.includes('import.meta')) throw new Error(`${rel} uses import.meta`);
        return { contents, loader: 'ts' };
      });
    },
  };
  let result: import('esbuild').BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [join(root, 'src', 'cli', 'compose', 'main.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      keepNames: true,
      // import() of a module outside the bundle becomes require() (a script run by node:vm has no import() without
      // an experimental option); none of them has top-level await, which require() of an ES module refuses.
      supported: { 'dynamic-import': false },
      write: false,
      metafile: true,
      absWorkingDir: root,
      logLevel: 'silent',
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
      plugins: [plugin],
    });
  } finally {
    await esbuild.stop();
  }
  if (result.errors.length > 0 || result.outputFiles.length !== 1) return undefined;
  // Every input the bundle holds went through onLoad; the stats must not have moved, nor be too recent to trust.
  for (const [rel, before] of inputs) {
    const now = inputStat(root, rel);
    if (now === undefined || now.join('\0') !== before.join('\0')) return undefined;
    if (Number(BigInt(now[3]) / 1_000_000n) > started - 1000) return undefined;
  }
  const held = Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(root, p)));
  if (held.some((rel) => !inputs.has(rel))) return undefined;
  const text = result.outputFiles[0]!.text;
  const { createHash } = process.getBuiltinModule('node:crypto');
  const name = `${BUNDLE_PREFIX}${createHash('sha256').update(text).digest('hex').slice(0, 16)}.cjs`;
  writeCacheFile(join(dir, name), text);
  const manifest: Manifest = { format: BUNDLE_FORMAT, root, bundle: name, inputs: [...inputs.values()] };
  writeCacheFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  // Older bundles go; this one's code caches (a rebuild of unchanged code has the same name) stay.
  dropStale(
    dir,
    BUNDLE_PREFIX,
    readdirSync(dir).filter((n) => n === name || n.startsWith(`${name}.`)),
  );
  return manifest;
}
