import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dropStale, writeCacheFile } from '../util/cache-files.ts';
import {
  BUNDLE_FORMAT,
  type BundleSpec,
  GIVE_UP,
  type GiveUp,
  inputStat,
  type InputStat,
  LOADER_FILES,
  type Manifest,
  START_SCRIPT,
} from './bundle.ts';

/**
 * Builds a program's bundle (see bundle.ts) with esbuild: the spec's entry and every module it reaches (statically
 * or by `import()`) that the spec copies in, as one CommonJS script in which the lazily loaded parts stay lazy. A
 * module left out is not copied in but required by its absolute path at run time, so it is the very module the
 * rest of the program loads. `import.meta.*` of each module is replaced by that module's own values, so paths
 * found from it (the install's root, `require` of packages) are the same as from source. The build is given up
 * (the source runs) when a module it copies in is not erasable TypeScript esbuild can read, or still uses
 * `import.meta`, or has top-level await, or reaches a module left out that the spec does not hand off to, or an
 * input changes during the build or less than a second before it. All but the last fail again on the same inputs:
 * those are recorded (bundle.ts's GiveUp), and runs do not build again until an input changes.
 */

/** `import.meta`'s fields as the module at `path` sees them. */
function withImportMeta(path: string, text: string): string {
  return text
    .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href))
    .replaceAll('import.meta.dirname', JSON.stringify(dirname(path)))
    .replaceAll('import.meta.filename', JSON.stringify(path))
    .replaceAll('import.meta.main', 'false');
}

/**
 * Builds the bundle of `spec` from the tree at `root` into `dir` and writes its manifest; returns the manifest, or
 * undefined when the build was given up. Throws when esbuild is missing or `dir` cannot be written (the caller runs
 * the source).
 */
export async function buildBundle(spec: BundleSpec, root: string, dir: string): Promise<Manifest | undefined> {
  const started = Date.now();
  const inputs = new Map<string, InputStat>();
  /** Modules to copy in that were imported but missing (the give-up record's `absent`). */
  const absent = new Set<string>();
  const record = (rel: string): void => {
    const st = inputStat(root, rel);
    if (st === undefined) throw new Error(`cannot stat ${rel}`);
    inputs.set(rel, st);
  };
  // The builder, the loader and the spec decide what the bundle is: a change to one makes it stale too.
  for (const rel of [...LOADER_FILES, ...spec.own]) record(rel);
  const requireFromRoot = createRequire(join(root, 'package.json'));
  const esbuild = requireFromRoot('esbuild') as typeof import('esbuild');
  // esbuild's own version too: another one may translate the same source differently.
  record(relative(root, requireFromRoot.resolve('esbuild/package.json')));
  /** One CommonJS script from `entry`, ASCII; undefined when esbuild could not make it. */
  const build = async (
    entry: string,
    bundled: (rel: string) => boolean,
    handOff: ReadonlySet<string> | undefined,
    dynamicImport: boolean,
  ): Promise<string | undefined> => {
    const plugin: import('esbuild').Plugin = {
      name: 'berth-bundle',
      setup(b) {
        b.onResolve({ filter: /^\./ }, (args) => {
          const path = resolve(dirname(args.importer), args.path);
          const rel = relative(root, path);
          if (bundled(rel)) {
            if (!existsSync(path)) absent.add(rel);
            return undefined;
          }
          if (handOff !== undefined && !handOff.has(rel)) {
            return { errors: [{ text: `${relative(root, args.importer)} reaches ${rel}, which is left out` }] };
          }
          return { path, external: true };
        });
        b.onLoad({ filter: /\.ts$/ }, (args) => {
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
        entryPoints: [join(root, entry)],
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: `node${process.versions.node.split('.')[0]}`,
        packages: 'external',
        keepNames: true,
        // ASCII, so that the loader reads it as a one-byte string (latin1: no UTF-8 decoding of ~0.6 MB each run).
        charset: 'ascii',
        // In the bundle, import() of a module outside it becomes require() (a script run by node:vm has no
        // import() without an experimental option); none of them has top-level await, which require() of an ES
        // module refuses. The start script is run by Node itself and keeps its import().
        ...(dynamicImport ? {} : { supported: { 'dynamic-import': false } }),
        write: false,
        metafile: true,
        absWorkingDir: root,
        logLevel: 'silent',
        tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
        plugins: [plugin],
      });
    } catch {
      return undefined; // a module esbuild cannot bundle: reported in its errors, the source runs
    }
    if (result.errors.length > 0 || result.outputFiles.length !== 1) return undefined;
    // Every input the output holds went through onLoad.
    const held = Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(root, p)));
    if (held.some((rel) => !inputs.has(rel))) return undefined;
    // esbuild escapes what is not ASCII in strings, templates and names; what is left is in the comments it keeps.
    return result.outputFiles[0]!.text.replace(
      /[^\0-\x7f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  };
  let body: string | undefined;
  let start: string | undefined;
  try {
    body = await build(spec.entry, spec.bundled, spec.handOff && new Set(spec.handOff), false);
    if (spec.start !== undefined) start = await build(spec.start.entry, spec.start.bundled, undefined, true);
  } finally {
    await esbuild.stop();
  }
  // The stats must not have moved during the build, nor be too recent to trust.
  const settled = [...inputs].every(([rel, before]) => {
    const now = inputStat(root, rel);
    return now !== undefined && now.join('\0') === before.join('\0') && now[3] <= started - 1000;
  });
  if (body === undefined || (spec.start !== undefined && start === undefined)) {
    // Given up for what the inputs are, unless they moved meanwhile (then the next run tries again).
    if (settled) {
      const record: GiveUp = { format: BUNDLE_FORMAT, root, inputs: [...inputs.values()], absent: [...absent] };
      writeCacheFile(join(dir, GIVE_UP), JSON.stringify(record));
    }
    return undefined;
  }
  if (!settled) return undefined;
  rmSync(join(dir, GIVE_UP), { force: true });
  // The module is wrapped as Node wraps one, so that the loader compiles the file's text as it reads it.
  const text = `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
  const { createHash } = process.getBuiltinModule('node:crypto');
  const prefix = `${spec.name}-`;
  const name = `${prefix}${createHash('sha256').update(text).digest('hex').slice(0, 16)}.js`;
  writeCacheFile(join(dir, name), text);
  // The start script before the manifest that names the bundle: a run that finds the manifest finds both. The script
  // is an input too: should another build's replace it before this manifest lands, the pair is stale (rebuilt).
  if (start !== undefined) {
    writeCacheFile(join(dir, START_SCRIPT), start);
    record(relative(root, join(dir, START_SCRIPT)));
  }
  const manifest: Manifest = { format: BUNDLE_FORMAT, root, bundle: name, inputs: [...inputs.values()] };
  writeCacheFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  // Older bundles go; this one's code caches (a rebuild of unchanged code has the same name) stay.
  dropStale(
    dir,
    prefix,
    readdirSync(dir).filter((n) => n === name || n.startsWith(`${name}.`)),
  );
  return manifest;
}
