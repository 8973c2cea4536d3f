import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { imageBuild, splitRepoTag } from '../client/index.ts';
import { PatternMatcher, readDockerignore } from '../util/dockerignore.ts';
import { BerthError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import type { ComposeContext } from './context.ts';
import { imageName, type Project, type Service } from './model.ts';

/**
 * The images a project needs: pulled (`pull_policy`), or built from `build:` through the engine's `POST /build`
 * (the classic builder, as the docker CLI without BuildKit), the context sent as a tar that leaves out what
 * `.dockerignore` lists.
 */

/** The image's ID, or undefined when the engine does not have it. */
export async function imageId(ctx: ComposeContext, name: string): Promise<string | undefined> {
  try {
    return (await ctx.client.imageInspect(name, { signal: ctx.signal })).Id;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export async function pullImage(ctx: ComposeContext, name: string, service: string): Promise<void> {
  const { repo, tag } = splitRepoTag(name.includes('@') ? name.slice(0, name.indexOf('@')) : name);
  const digest = name.includes('@') ? name.slice(name.indexOf('@') + 1) : undefined;
  ctx.reporter.event('Image', name, 'Pulling');
  const messages = await ctx.client.imagePull(repo, digest ?? tag ?? 'latest', { signal: ctx.signal });
  for await (const m of messages) {
    if (m.error !== undefined) throw new BerthError(`${service}: ${m.error}`);
  }
  ctx.reporter.event('Image', name, 'Pulled');
}

// ---- .dockerignore ----

/**
 * `.dockerignore` rules (moby's ignorefile and patternmatcher, src/util/dockerignore.ts): a path is left out when
 * it or a parent matches and no later `!` exception takes it back.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const matcher = new PatternMatcher(readDockerignore(text));
  return (path) => matcher.matches(path);
}

/** The build context as tar entries (the Dockerfile and .dockerignore always go). */
async function* contextEntries(
  dir: string,
  ignored: (p: string) => boolean,
  keep: Set<string>,
): AsyncGenerator<PackEntry> {
  const walk = async function* (abs: string): AsyncGenerator<PackEntry> {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const full = join(abs, name);
      const rel = relative(dir, full).split(sep).join('/');
      if (ignored(rel) && !keep.has(rel)) continue;
      const st = await lstat(full);
      const header = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), uid: 0, gid: 0 };
      if (st.isDirectory()) {
        yield { header: { ...header, name: `${rel}/`, type: 'directory' } };
        yield* walk(full);
      } else if (st.isSymbolicLink()) {
        yield { header: { ...header, name: rel, type: 'symlink', linkname: await readlink(full) } };
      } else if (st.isFile()) {
        yield { header: { ...header, name: rel, type: 'file' }, body: await readFile(full) };
      }
    }
  };
  yield* walk(dir);
}

export interface BuildOptions {
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  /** Extra build args (`build --build-arg`). */
  args?: Record<string, string>;
  /** Where the build's output lines go. */
  output?: (line: string) => void;
}

/**
 * `build.secrets` for `RUN --mount=type=secret`, by id (the reference's target, else its source), from the
 * project's file or environment secrets, as Docker Compose gives them to BuildKit. berthd takes them with the build
 * request; a classic builder that does not know them fails on the `--mount` as it would under docker-compose 1.x.
 */
async function buildSecrets(project: Project, s: Service): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const ref of s.build?.secrets ?? []) {
    const def = project.secrets[ref.source];
    if (def === undefined)
      throw new NotFoundError(`service "${s.name}" refers to undefined build secret ${ref.source}`);
    const id = ref.target ?? ref.source;
    if (def.file !== undefined) {
      try {
        out.set(id, await readFile(def.file));
      } catch (err) {
        throw new InvalidArgumentError(
          `build secret ${ref.source}: cannot read ${def.file}: ${(err as Error).message}`,
        );
      }
    } else if (def.environment !== undefined) {
      const v = project.environment[def.environment];
      if (v === undefined)
        throw new InvalidArgumentError(
          `build secret ${ref.source}: environment variable ${def.environment} is not set`,
        );
      out.set(id, Buffer.from(v));
    } else {
      throw new InvalidArgumentError(`build.secrets only supports environment or file-based secrets: "${ref.source}"`);
    }
  }
  return out;
}

/** Builds a service's image; resolves with its ID. */
export async function buildImage(
  ctx: ComposeContext,
  project: Project,
  s: Service,
  opts: BuildOptions = {},
): Promise<string> {
  const b = s.build;
  if (b === undefined) throw new InvalidArgumentError(`service "${s.name}" has no build section`);
  if (/^[a-z]+:\/\/|^git@/.test(b.context)) {
    throw new InvalidArgumentError(`service "${s.name}": remote build contexts are not supported: ${b.context}`);
  }
  const secrets = await buildSecrets(project, s);
  const name = imageName(project, s);
  let ignoreText = '';
  try {
    ignoreText = await readFile(join(b.context, '.dockerignore'), 'utf8');
  } catch {
    // No .dockerignore.
  }
  let dockerfile = b.dockerfile ?? 'Dockerfile';
  const inline: PackEntry[] = [];
  if (b.dockerfile_inline !== undefined) {
    dockerfile = '.berth-compose.Dockerfile';
    inline.push({ header: { name: dockerfile, mode: 0o644 }, body: Buffer.from(b.dockerfile_inline) });
  } else if (dockerfile.startsWith('/')) {
    const rel = relative(b.context, dockerfile);
    if (rel.startsWith('..')) {
      dockerfile = '.berth-compose.Dockerfile';
      inline.push({ header: { name: dockerfile, mode: 0o644 }, body: await readFile(b.dockerfile!) });
    } else dockerfile = rel;
  }
  try {
    await lstat(b.context);
  } catch {
    throw new NotFoundError(`service "${s.name}": build context ${b.context} not found`);
  }
  const keep = new Set([dockerfile, '.dockerignore']);
  const entries = async function* (): AsyncGenerator<PackEntry> {
    yield* inline;
    yield* contextEntries(b.context, dockerignore(ignoreText), keep);
  };
  ctx.reporter.event('Image', name, 'Building');
  const messages = await imageBuild(
    ctx.client,
    Readable.from(pack(entries(), ctx.signal !== undefined ? { signal: ctx.signal } : {})),
    {
      tags: [name, ...b.tags],
      dockerfile,
      buildArgs: { ...b.args, ...(opts.args ?? {}) },
      labels: b.labels,
      ...(b.target !== undefined ? { target: b.target } : {}),
      cacheFrom: b.cache_from,
      noCache: opts.noCache === true || b.no_cache === true,
      pull: opts.pull === true || b.pull === true,
      ...(b.network !== undefined ? { networkMode: b.network } : {}),
      extraHosts: b.extra_hosts,
      ...(b.shm_size !== undefined ? { shmSize: b.shm_size } : {}),
      ...(secrets.size > 0 ? { secrets } : {}),
      signal: ctx.signal,
    },
  );
  let id: string | undefined;
  for await (const m of messages) {
    if (m.error !== undefined) throw new BerthError(`failed to build service "${s.name}": ${m.error}`);
    if (typeof m.stream === 'string' && !opts.quiet) {
      for (const line of m.stream.split('\n')) if (line.trim() !== '') opts.output?.(line);
      const built = /^Successfully built ([0-9a-f]+)/m.exec(m.stream);
      if (built !== null) id ??= built[1];
    }
    const aux = m.aux as { ID?: string } | undefined;
    if (aux?.ID !== undefined) id = aux.ID;
  }
  ctx.reporter.event('Image', name, 'Built');
  return id ?? (await imageId(ctx, name)) ?? name;
}

export type PullPolicy = 'always' | 'missing' | 'never' | 'build' | 'if_not_present' | 'daily' | 'weekly';

export interface EnsureImagesOptions {
  /** `--build`: always build services that have `build:`; `--no-build`: never. */
  build?: 'always' | 'never' | 'missing';
  /** `--pull`: always, missing (default) or never. */
  pull?: 'always' | 'missing' | 'never';
  output?: (line: string) => void;
}

/** Makes sure every service's image is there; returns image IDs by service. */
export async function ensureImages(
  ctx: ComposeContext,
  project: Project,
  services: readonly string[],
  opts: EnsureImagesOptions = {},
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  // One inspect per image, however many services run it; the inspects run at once.
  const known = new Map<string, Promise<string | undefined>>();
  const lookup = (name: string) => {
    let p = known.get(name);
    if (p === undefined) known.set(name, (p = imageId(ctx, name)));
    return p;
  };
  for (const n of services) lookup(imageName(project, project.services[n]!)).catch(() => {});
  for (const n of services) {
    const s = project.services[n]!;
    const name = imageName(project, s);
    const policy = (opts.pull === 'always' ? 'always' : (s.pull_policy ?? 'missing')) as PullPolicy;
    let id = policy === 'always' && s.build === undefined ? undefined : await lookup(name);
    const wantBuild =
      s.build !== undefined &&
      (opts.build === 'always' || policy === 'build' || (id === undefined && opts.build !== 'never'));
    if (wantBuild) {
      id = await buildImage(ctx, project, s, { ...(opts.output !== undefined ? { output: opts.output } : {}) });
      known.set(name, Promise.resolve(id));
    } else if (id === undefined || policy === 'always') {
      if (policy === 'never' || opts.pull === 'never' || (s.build !== undefined && opts.build === 'never')) {
        if (id === undefined) throw new NotFoundError(`No such image: ${name}`);
      } else {
        await pullImage(ctx, name, n);
        id = await imageId(ctx, name);
        known.set(name, Promise.resolve(id));
      }
    }
    if (id !== undefined) ids[n] = id;
  }
  return ids;
}
