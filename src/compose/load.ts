import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DotenvError, parseDotenv } from './dotenv.ts';
import { ComposeFileError, InvalidProjectError } from './errors.ts';
import { interpolate, InterpolationError, interpolateTree, type Lookup } from './interpolate.ts';
import { enforceUnique, mergeDocuments, mergeValues } from './merge.ts';
import type { Project, Service } from './model.ts';
import { normalizeService, type NormalizeContext } from './normalize.ts';
import { rebaseDocument, rebaseService } from './paths.ts';
import { checkConsistency, normalizeFileObjects, normalizeNetworks, normalizeVolumes } from './resources.ts';
import { validateSchema } from './schema.ts';
import { type ParsedFile, parseComposeYaml, Positions } from './source.ts';
import { withDependencies } from './graph.ts';
import { resolveEnvironment } from './environment.ts';
import { parseReadiness } from './ready-spec.ts';
import { goErrnoText } from '../util/errors.ts';

/**
 * Loading a project, in Docker Compose's order: find the files; read `.env` (or `--env-file`); for each file
 * and document: parse YAML (positions kept), interpolate, validate against the schema, apply `include` and
 * `extends`, merge over the files before it; then name the project, normalise to the model, apply profiles,
 * check references and cycles, and resolve each service's environment (`env_file`, bare variables).
 */

export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
const OVERRIDE_FILES = [
  'compose.override.yaml',
  'compose.override.yml',
  'docker-compose.override.yaml',
  'docker-compose.override.yml',
];

export interface LoadOptions {
  cwd: string;
  /** The process environment (wins over `.env`). */
  environment: Record<string, string | undefined>;
  home: string;
  /** `-f` (relative to cwd); default: COMPOSE_FILE, else compose.yaml & co. in cwd or a parent directory. */
  files?: readonly string[];
  projectDirectory?: string;
  /** `-p`. */
  projectName?: string;
  /** `--env-file`; default `.env` in the project directory. */
  envFiles?: readonly string[];
  /** `--profile`; default COMPOSE_PROFILES. */
  profiles?: readonly string[];
  /** Services named on the command line: enabled (with their dependencies) whatever their profiles. */
  services?: readonly string[];
  /** For `-f -`. */
  readStdin?: () => string;
}

export interface LoadResult {
  project: Project;
  /** Where every key of the merged files was written. */
  positions: Positions;
  warnings: string[];
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);
const RESOURCE_KINDS = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

/** Docker Compose's project-name rule: lower case, `[a-z0-9_-]`, starting with a letter or digit. */
export function normalizeProjectName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[_-]+/, '');
}

function findDefaultFiles(cwd: string): string[] {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const main = DEFAULT_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
    if (main !== undefined) {
      const override = OVERRIDE_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
      return override === undefined ? [main] : [main, override];
    }
    if (dirname(dir) === dir) break;
  }
  throw new ComposeFileError(
    undefined,
    '',
    `no configuration file provided: not found (looked for ${DEFAULT_FILES.join(', ')})`,
  );
}

class Loader {
  readonly warnings: string[] = [];
  readonly positions = new Positions();
  readonly #unset = new Set<string>();
  readonly #opts: LoadOptions;
  readonly #stdin: { text?: string } = {};

  constructor(opts: LoadOptions) {
    this.#opts = opts;
  }

  warn(msg: string): void {
    if (!this.warnings.includes(msg)) this.warnings.push(msg);
  }

  readonly #parsed = new Map<string, ParsedFile>();

  /** A file parsed once, whoever asks (the project name is looked up before the files are loaded). */
  parse(file: string): ParsedFile {
    let parsed = this.#parsed.get(file);
    if (parsed === undefined) {
      parsed = parseComposeYaml(file === '-' ? join(this.#opts.cwd, '(stdin)') : file, this.read(file));
      this.#parsed.set(file, parsed);
    }
    return parsed;
  }

  read(file: string): string {
    if (file === '-') {
      this.#stdin.text ??= this.#opts.readStdin?.() ?? '';
      return this.#stdin.text;
    }
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ComposeFileError(undefined, '', goErrnoText(err, file));
    }
  }

  /** Interpolates and validates one parsed document. */
  prepare(doc: Dict, positions: Positions, env: Lookup): Dict {
    const out = interpolateTree(doc, env, {
      onUnset: (name) => {
        if (this.#unset.has(name)) return;
        this.#unset.add(name);
        this.warn(`The "${name}" variable is not set. Defaulting to a blank string.`);
      },
      onError: (path, err) => {
        throw positions.error(path, err.message);
      },
    }) as Dict;
    const bad = validateSchema(out, positions);
    if (bad !== undefined) throw bad;
    return out;
  }

  /** Loads and merges files into one raw document (interpolated, validated, include and extends applied). */
  loadFiles(files: readonly string[], env: Lookup, chain: readonly string[]): Dict {
    let acc: Dict = {};
    for (const file of files) {
      if (chain.includes(file)) {
        throw new ComposeFileError(
          { file: chain.at(-1)! },
          'include',
          `include cycle detected: ${[...chain, file].join(' -> ')}`,
        );
      }
      const parsed = this.parse(file);
      this.positions.absorb(parsed.positions);
      for (const raw of parsed.documents) {
        const doc = this.prepare(raw, parsed.positions, env);
        if (Array.isArray(doc.include))
          acc = this.applyInclude(acc, doc, file, parsed.positions, env, [...chain, file]);
        if (isDict(doc.services)) {
          const services: Dict = {};
          for (const name of Object.keys(doc.services)) {
            services[name] = this.resolveExtends(doc, name, file, parsed.positions, env, []);
          }
          doc.services = services;
        }
        delete doc.include;
        acc = mergeDocuments(acc, doc);
      }
    }
    return acc;
  }

  applyInclude(acc: Dict, doc: Dict, file: string, positions: Positions, env: Lookup, chain: string[]): Dict {
    const dir = dirname(file);
    let out = acc;
    for (const [i, entry] of (doc.include as unknown[]).entries()) {
      const e: Dict = typeof entry === 'string' ? { path: entry } : isDict(entry) ? entry : {};
      const paths = (Array.isArray(e.path) ? e.path : [e.path]).map((p) => resolve(dir, String(p)));
      const projectDir =
        e.project_directory !== undefined ? resolve(dir, String(e.project_directory)) : dirname(paths[0]!);
      const envFiles =
        e.env_file !== undefined
          ? (Array.isArray(e.env_file) ? e.env_file : [e.env_file]).map((p) => resolve(dir, String(p)))
          : [join(projectDir, '.env')].filter((p) => existsSync(p));
      const own = this.readEnvFiles(envFiles, false);
      const lookup: Lookup = (name) => this.#opts.environment[name] ?? own.get(name) ?? env(name);
      const sub = rebaseDocument(this.loadFiles(paths, lookup, chain), projectDir, this.#opts.home);
      for (const kind of RESOURCE_KINDS) {
        const imported = sub[kind];
        if (!isDict(imported)) continue;
        const mine = isDict(doc[kind]) ? doc[kind] : {};
        const before = isDict(out[kind]) ? out[kind] : {};
        for (const [key, value] of Object.entries(imported)) {
          const clash = key in mine ? mine[key] : key in before ? before[key] : undefined;
          if (clash !== undefined && !isDeepStrictEqual(clash, value)) {
            throw positions.error(
              ['include', i],
              `imported compose file ${paths[0]} defines conflicting ${kind.slice(0, -1)} "${key}"`,
            );
          }
        }
        out = mergeDocuments(out, { [kind]: imported });
      }
    }
    return out;
  }

  resolveExtends(doc: Dict, name: string, file: string, positions: Positions, env: Lookup, chain: string[]): Dict {
    const services = doc.services as Dict;
    const svc = services[name];
    if (!isDict(svc) || svc.extends === undefined) return isDict(svc) ? svc : {};
    const ext = typeof svc.extends === 'string' ? { service: svc.extends } : (svc.extends as Dict);
    const base = String(ext.service);
    const key = `${file}#${name}`;
    if (chain.includes(key)) {
      throw positions.error(
        ['services', name, 'extends'],
        `circular reference with extends: ${[...chain, key].map((k) => k.split('#')[1]).join(' -> ')}`,
      );
    }
    let resolved: Dict;
    if (ext.file !== undefined) {
      const target = isAbsolute(String(ext.file)) ? String(ext.file) : resolve(dirname(file), String(ext.file));
      const parsed = this.parse(target);
      this.positions.absorb(parsed.positions);
      const other = parsed.documents.reduce<Dict>(
        (acc, d) => mergeDocuments(acc, this.prepare(d, parsed.positions, env)),
        {},
      );
      if (!isDict(other.services) || !isDict(other.services[base])) {
        throw positions.error(
          ['services', name, 'extends'],
          `cannot extend service "${name}": service "${base}" not found in ${target}`,
        );
      }
      resolved = rebaseService(
        this.resolveExtends(other, base, target, parsed.positions, env, [...chain, key]),
        dirname(target),
        this.#opts.home,
      );
    } else {
      if (!isDict(services[base])) {
        throw positions.error(
          ['services', name, 'extends'],
          `cannot extend service "${name}": service "${base}" not found`,
        );
      }
      resolved = this.resolveExtends(doc, base, file, positions, env, [...chain, key]);
    }
    const own: Dict = { ...svc };
    delete own.extends;
    const merged = mergeValues(resolved, own, ['services', name]) as Dict;
    return (enforceUnique({ services: { [name]: merged } }) as { services: Dict }).services[name] as Dict;
  }

  readEnvFiles(files: readonly string[], required: boolean): Map<string, string> {
    const out = new Map<string, string>();
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (err) {
        if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new ComposeFileError(undefined, '', `couldn't find env file: ${f}`, { cause: err });
      }
      try {
        for (const [k, v] of parseDotenv(text, (n) => this.#opts.environment[n] ?? out.get(n))) out.set(k, v);
      } catch (err) {
        if (err instanceof DotenvError)
          throw new ComposeFileError({ file: f, line: err.line, column: 1 }, '', err.message);
        throw err;
      }
    }
    return out;
  }
}

/** Loads a project (see the module comment). Throws ComposeFileError or InvalidProjectError; nothing is started. */
export function loadProject(opts: LoadOptions): LoadResult {
  const loader = new Loader(opts);
  const procEnv = opts.environment;
  const sep = procEnv.COMPOSE_PATH_SEPARATOR ?? ':';
  const given =
    opts.files !== undefined && opts.files.length > 0
      ? opts.files
      : procEnv.COMPOSE_FILE !== undefined && procEnv.COMPOSE_FILE !== ''
        ? procEnv.COMPOSE_FILE.split(sep)
        : undefined;
  const files =
    given === undefined ? findDefaultFiles(opts.cwd) : given.map((f) => (f === '-' ? f : resolve(opts.cwd, f)));
  const workingDir =
    opts.projectDirectory !== undefined
      ? resolve(opts.cwd, opts.projectDirectory)
      : files[0] === '-'
        ? opts.cwd
        : dirname(files[0]!);
  const envFiles =
    opts.envFiles !== undefined && opts.envFiles.length > 0
      ? opts.envFiles.map((f) => resolve(opts.cwd, f))
      : [join(workingDir, '.env')].filter((f) => existsSync(f));
  const dotenv = loader.readEnvFiles(envFiles, opts.envFiles !== undefined && opts.envFiles.length > 0);
  const environment: Record<string, string> = Object.fromEntries(dotenv);
  for (const [k, v] of Object.entries(procEnv)) if (v !== undefined) environment[k] = v;

  // The project name comes first: files may interpolate ${COMPOSE_PROJECT_NAME}.
  let name: string;
  if (opts.projectName !== undefined && opts.projectName !== '') {
    name = opts.projectName;
    if (normalizeProjectName(name) !== name) {
      throw new InvalidProjectError(
        `invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
      );
    }
  } else if (environment.COMPOSE_PROJECT_NAME !== undefined && environment.COMPOSE_PROJECT_NAME !== '') {
    name = normalizeProjectName(environment.COMPOSE_PROJECT_NAME);
  } else {
    name = normalizeProjectName(nameFromFiles(loader, files, environment) ?? basename(workingDir));
  }
  if (name === '') throw new InvalidProjectError('project name must not be empty');
  environment.COMPOSE_PROJECT_NAME = name;

  const lookup: Lookup = (n) => environment[n];
  const raw = loader.loadFiles(files, lookup, []);
  if ('version' in raw) {
    loader.warn(
      `${files[0]}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`,
    );
  }
  const positions = loader.positions;
  const ctx: NormalizeContext = {
    workingDir,
    home: opts.home,
    error: (path, reason) => positions.error(path, reason),
  };
  const services: Record<string, Service> = {};
  for (const [svcName, def] of Object.entries(isDict(raw.services) ? raw.services : {})) {
    services[svcName] = normalizeService(svcName, isDict(def) ? def : {}, ctx);
  }
  const project: Project = {
    name,
    workingDir,
    configFiles: files.map((f) => (f === '-' ? join(opts.cwd, '(stdin)') : f)),
    environment,
    envFiles,
    services: {},
    disabledServices: {},
    networks: normalizeNetworks(raw.networks, name, ctx),
    volumes: normalizeVolumes(raw.volumes, name, ctx),
    secrets: normalizeFileObjects('secrets', raw.secrets, name, ctx),
    configs: normalizeFileObjects('configs', raw.configs, name, ctx),
    extensions: Object.fromEntries(Object.entries(raw).filter(([k]) => k.startsWith('x-'))),
  };
  applyProfiles(project, services, opts, loader);
  if (Object.values(project.services).some((s) => 'default' in s.networks) && project.networks.default === undefined) {
    project.networks.default = { name: `${name}_default`, driver_opts: {}, labels: {} };
  }
  checkConsistency(project, positions, (m) => loader.warn(m));
  for (const s of Object.values(project.services)) parseReadiness(s, (path, reason) => positions.error(path, reason));
  for (const s of Object.values(project.services)) resolveEnvironment(s, lookup, positions);
  return { project, positions, warnings: loader.warnings };
}

function nameFromFiles(loader: Loader, files: readonly string[], env: Record<string, string>): string | undefined {
  let found: string | undefined;
  for (const file of files) {
    const parsed = loader.parse(file);
    for (const doc of parsed.documents) {
      if (typeof doc.name !== 'string' || doc.name === '') continue;
      try {
        found = interpolate(doc.name, (n) => env[n]);
      } catch (err) {
        if (err instanceof InterpolationError) throw parsed.positions.error(['name'], err.message);
        throw err;
      }
    }
  }
  return found;
}

/** Keeps the services whose profiles are active (or that have none, or were named, or are needed by those). */
function applyProfiles(project: Project, services: Record<string, Service>, opts: LoadOptions, loader: Loader): void {
  const fromEnv = opts.environment.COMPOSE_PROFILES ?? project.environment.COMPOSE_PROFILES;
  const active = new Set(
    opts.profiles !== undefined && opts.profiles.length > 0
      ? opts.profiles
      : (fromEnv ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== ''),
  );
  for (const n of opts.services ?? []) {
    if (services[n] === undefined) throw new InvalidProjectError(`no such service: ${n}`);
  }
  const named = withDependencies(services, opts.services ?? []);
  for (const [n, s] of Object.entries(services)) {
    const enabled = s.profiles.length === 0 || active.has('*') || s.profiles.some((p) => active.has(p)) || named.has(n);
    if (enabled) project.services[n] = s;
    else project.disabledServices[n] = s;
  }
  if (active.size > 0 && !active.has('*')) {
    const known = new Set(Object.values(services).flatMap((s) => s.profiles));
    for (const p of active) if (!known.has(p)) loader.warn(`no service uses profile "${p}"`);
  }
}
