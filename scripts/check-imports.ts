/**
 * Fails when an import goes against the folder arrows of ARCHITECTURE.md, or reaches into another folder
 * past its index.ts (util/ and oci/ are libraries of small modules and may be imported file by file).
 * Run by `npm run check`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isBundled } from '../src/cli/compose/bundle.ts';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

/** Which folders each folder may import, besides itself, util and oci. */
export const ARROWS: Record<string, string[]> = {
  sys: [],
  util: ['sys'],
  oci: [],
  'engine-api': [],
  dockerfile: [],
  metadata: [],
  content: ['metadata'],
  snapshots: ['sys', 'metadata'],
  images: ['content', 'snapshots', 'metadata', 'dockerfile'],
  distribution: ['content', 'images', 'metadata'],
  runtime: ['sys'],
  network: ['metadata', 'sys'],
  volumes: ['metadata', 'sys'],
  containers: ['images', 'snapshots', 'runtime', 'network', 'volumes', 'metadata', 'content', 'sys'],
  build: ['containers', 'images', 'snapshots', 'content', 'metadata', 'runtime', 'network', 'sys', 'dockerfile'],
  registry: ['content', 'metadata', 'distribution', 'trust'],
  api: [
    'images',
    'distribution',
    'containers',
    'network',
    'volumes',
    'build',
    'registry',
    'trust',
    'metadata',
    'content',
    'snapshots',
  ],
  daemon: [
    'api',
    'trust',
    'images',
    'distribution',
    'containers',
    'network',
    'volumes',
    'build',
    'registry',
    'metadata',
    'content',
    'snapshots',
    'runtime',
    'sys',
  ],
  client: [],
  cli: ['client', 'registry', 'compose', 'trust'],
  compose: ['client'],
  cluster: ['client'],
  trust: ['content', 'images', 'distribution', 'snapshots'],
};
const EVERYONE = ['util', 'oci', 'engine-api'];
/** Folders below everything else: they take only their own arrows (util/ imports sys/, and neither oci/ nor engine-api/). */
const FOUNDATIONS = new Set(['sys', 'util']);
const FILE_BY_FILE = new Set(['util', 'oci', 'engine-api']);
/**
 * Arrows that may only be taken lazily, by `import()` (or `import type`): the CLI loads the signing code (keys,
 * payloads, gpg) only when a `berth trust` command runs, so that no other command pays for it; the registry server
 * loads it only when a project's trust policy needs it (signature checks, the scan worker), and the registry client
 * (distribution) only when a replication rule runs or a proxy project goes to its upstream; berthd loads the
 * builder, trust and the registry client on first use, so that a start loads none of them, and images/ the
 * Dockerfile frontend only for a `--change` to parse.
 */
const LAZY_ONLY: Record<string, string[]> = {
  cli: ['trust'],
  registry: ['trust', 'distribution'],
  api: ['build', 'trust', 'distribution'],
  daemon: ['build', 'trust', 'distribution'],
  images: ['dockerfile'],
};
/** Folders that hold types only: importing them must be `import type` / `export type`, so no code crosses. */
const TYPES_ONLY = new Set(['engine-api']);

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const IMPORT_RE = /(?:^|\n)\s*((?:import|export)\s[^'";]*?)from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const problems: string[] = [];
for (const file of walk(src)) {
  const folder = relative(src, file).split(sep)[0]!;
  const allowed = ARROWS[folder];
  if (!allowed) {
    problems.push(`${relative(root, file)}: folder src/${folder} is not in ARCHITECTURE.md`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[2] ?? m[3]!;
    const clause = m[1] ?? '';
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    const rel = relative(src, target);
    if (rel.startsWith('..')) {
      problems.push(`${relative(root, file)}: imports ${spec}, outside src/`);
      continue;
    }
    const isTest = /\.(test|suite|bench)\.ts$|\/testkit\.ts$/.test(file);
    // The compose command line runs as one bundle (src/cli/compose/bundle.ts): a module copied into it must not
    // also be loaded from source by a module left out of it, or a process would hold two copies of it and of its
    // classes. Only the loader may import it (the source it runs when there is no fresh bundle); types cross freely.
    if (
      isBundled(relative(root, target)) &&
      !isBundled(relative(root, file)) &&
      !isTest &&
      relative(root, file) !== join('src', 'cli', 'compose', 'bundle.ts') &&
      !/^(?:import|export)\s+type\s/.test(clause)
    ) {
      problems.push(
        `${relative(root, file)}: imports ${spec}, which runs inside the compose bundle; go through bundle.ts`,
      );
    }
    const to = rel.split(sep)[0]!;
    if (to === folder) continue;
    if (TYPES_ONLY.has(to) && !/^(?:import|export)\s+type\s/.test(clause)) {
      problems.push(`${relative(root, file)}: src/${to} holds types only; use \`import type\` (${spec})`);
    }
    if (
      LAZY_ONLY[folder]?.includes(to) &&
      m[3] === undefined &&
      !/^(?:import|export)\s+type\s/.test(clause) &&
      !isTest
    ) {
      problems.push(`${relative(root, file)}: src/${folder} may reach src/${to} only by a lazy import() (${spec})`);
    }
    if ((FOUNDATIONS.has(folder) || !EVERYONE.includes(to)) && !allowed.includes(to)) {
      if (!(isTest && to !== 'daemon' && to !== 'api' && to !== 'cli'))
        problems.push(`${relative(root, file)}: src/${folder} may not import src/${to} (${spec})`);
    }
    if (!FILE_BY_FILE.has(to) && rel !== join(to, 'index.ts') && !isTest) {
      problems.push(`${relative(root, file)}: imports ${spec}; other folders are reached through src/${to}/index.ts`);
    }
  }
}
if (problems.length) {
  process.stderr.write(`import check: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('import check: all imports follow the arrows\n');
