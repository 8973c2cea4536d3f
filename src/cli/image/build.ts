/**
 * `berth build`: sends a context to the engine's `POST /build` and draws the build's progress. A directory context
 * goes to berthd's kept context for that directory, so only the files whose content changed are sent; an engine
 * without kept contexts (Docker's) gets the whole context, as the docker CLI sends it. `-o type=local|tar` writes the
 * result's files (the image's filesystem, through a container that is created, exported and removed).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type EngineClient, imageBuild, type JSONMessage, planBuildContext } from '../../client/index.ts';
import type { BuildEvent } from '../../engine-api/build.ts';
import { errorMessage, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { ExitStatusError } from '../errors.ts';
import type { BuildDisplay } from './builddisplay.ts';
import { contextTar, keptContextId, localContext } from './buildctx.ts';

export interface BuildOptions {
  /** A directory, or `-` for a tar or a Dockerfile on stdin. */
  context: string;
  tags: string[];
  file: string;
  buildArgs: string[];
  target: string;
  noCache: boolean;
  pull: boolean;
  labels: string[];
  iidfile: string;
  quiet: boolean;
  network: string;
  secrets: string[];
  addHosts: string[];
  shmSize: string;
  progress: string;
  platform: string;
  outputs: string[];
  cacheFrom: string[];
}

export interface BuildIO {
  stdin: Readable & { isTTY?: boolean };
  out: OutStream;
  err: OutStream;
  env: NodeJS.ProcessEnv;
}

export async function buildImage(
  client: EngineClient,
  io: BuildIO,
  o: BuildOptions,
  signal: AbortSignal,
): Promise<void> {
  const outputs = o.outputs.map(parseOutput);
  if (o.context === '-' && o.file === '-')
    throw new InvalidArgumentError("invalid argument: can't use stdin for both build context and dockerfile");
  const mode = o.quiet ? undefined : progressMode(o.progress, io.err);
  const common = {
    tags: o.tags,
    buildArgs: buildArgs(o.buildArgs, io.env),
    labels: Object.fromEntries(o.labels.map((l) => splitKV(l))),
    ...(o.target ? { target: o.target } : {}),
    noCache: o.noCache,
    pull: o.pull,
    ...(o.network ? { networkMode: o.network } : {}),
    extraHosts: o.addHosts,
    ...(o.shmSize ? { shmSize: (await import('../../util/units.ts')).ramInBytes(o.shmSize) } : {}),
    ...(o.platform ? { platform: o.platform } : {}),
    cacheFrom: o.cacheFrom,
    secrets: await readSecrets(o.secrets, io.env),
    berthProgress: mode !== undefined,
    quiet: mode === undefined,
    signal,
  };
  let messages: AsyncGenerator<JSONMessage>;
  const sent = { bytes: 0, files: 0, of: 0 };
  const counted = async function* (src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of src) {
      sent.bytes += c.length;
      yield c;
    }
  };
  if (o.context === '-') {
    messages = await imageBuild(client, counted(io.stdin), { ...common, ...(o.file ? { dockerfile: o.file } : {}) });
  } else {
    const stdinDockerfile = o.file === '-' ? await readAll(io.stdin) : undefined;
    const ctx = await localContext(o.context, o.file && o.file !== '-' ? o.file : undefined, stdinDockerfile);
    const id = keptContextId(hostname(), ctx);
    let need: Set<string> | undefined;
    let planned: string | undefined;
    try {
      const plan = await planBuildContext(client, id, ctx.entries, { signal });
      need = new Set(plan.need);
      planned = plan.planned;
    } catch (err) {
      // an engine without kept contexts (Docker's): the whole context
      if (!(err instanceof NotFoundError) && !/page not found|404/.test(errorMessage(err))) throw err;
    }
    sent.of = ctx.entries.filter((e) => e.type !== 'directory').length;
    sent.files = need ? [...need].length + ctx.generated.size : sent.of;
    messages = await imageBuild(client, counted(contextTar(ctx, need, planned)), {
      ...common,
      ...(ctx.dockerfile ? { dockerfile: ctx.dockerfile } : {}),
      ...(need ? { keptContext: id, ...(planned ? { keptPlan: planned } : {}) } : {}),
    });
  }
  // the display, the tar reader (for -o) and the size parser are loaded only when used: a quiet build, the common
  // scripted case, starts with less
  const display: BuildDisplay | undefined = mode
    ? new (await import('./builddisplay.ts')).BuildDisplay(io.err, mode)
    : undefined;
  let imageId = '';
  try {
    for await (const m of messages) {
      const berth = (m as { berth?: BuildEvent }).berth;
      display?.context(sent.bytes, sent.files, sent.of);
      if (berth) display?.event(berth);
      else if (m.aux && typeof (m.aux as { ID?: unknown }).ID === 'string') imageId = (m.aux as { ID: string }).ID;
      else if (m.errorDetail)
        throw new ExitStatusError(m.errorDetail.message ?? m.error ?? 'build failed', m.errorDetail.code || 1);
      else if (!display && m.stream && /^sha256:[0-9a-f]{64}\n$/.test(m.stream)) imageId = m.stream.trim();
    }
  } catch (err) {
    display?.finish(false);
    throw err;
  }
  if (imageId === '') throw new InvalidArgumentError('the engine did not say which image it built');
  const made = [`writing image ${imageId}`, ...o.tags.map((t) => `naming to ${t}`)];
  display?.finish(true, made);
  if (o.iidfile) await writeFile(o.iidfile, imageId);
  for (const out of outputs) await exportImage(client, imageId, out, io.out, signal);
  if (o.quiet) io.out.write(`${imageId}\n`);
}

function progressMode(p: string, err: OutStream): 'tty' | 'plain' {
  if (p === '' || p === 'auto') return err.isTerminal ? 'tty' : 'plain';
  if (p === 'tty' || p === 'plain') return p;
  throw new InvalidArgumentError(`invalid progress mode "${p}": expected auto, plain or tty`);
}

function splitKV(s: string): [string, string] {
  const i = s.indexOf('=');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** `--build-arg K=V`, or `K` alone for the value in the environment (left out when unset, as docker). */
function buildArgs(list: readonly string[], env: NodeJS.ProcessEnv): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of list) {
    if (a.includes('=')) {
      const [k, v] = splitKV(a);
      out[k] = v;
    } else out[a] = env[a] ?? null;
  }
  return out;
}

/** `--secret id=ID[,src=FILE|,env=VAR]`: BuildKit's forms (neither: the variable named as the id). */
async function readSecrets(list: readonly string[], env: NodeJS.ProcessEnv): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const spec of list) {
    const fields = new Map(spec.split(',').map((f) => splitKV(f.trim())));
    const id = fields.get('id');
    if (!id) throw new InvalidArgumentError(`invalid secret "${spec}": id= is required`);
    const src = fields.get('src') ?? fields.get('source');
    if (src !== undefined) {
      out.set(
        id,
        await readFile(src).catch((e: unknown) => {
          throw new InvalidArgumentError(`failed to read secret ${id} from ${src}: ${errorMessage(e)}`);
        }),
      );
      continue;
    }
    const name = fields.get('env') ?? id;
    const v = env[name];
    if (v === undefined) throw new InvalidArgumentError(`secret ${id}: environment variable ${name} is not set`);
    out.set(id, Buffer.from(v));
  }
  return out;
}

interface Output {
  type: 'local' | 'tar';
  dest: string;
}

function parseOutput(spec: string): Output {
  if (spec === '-') return { type: 'tar', dest: '-' };
  const fields = new Map(spec.split(',').map((f) => splitKV(f.trim())));
  if (fields.size === 1 && !spec.includes('=')) return { type: 'local', dest: spec };
  const type = fields.get('type') ?? 'local';
  const dest = fields.get('dest') ?? fields.get('output') ?? '';
  if (type !== 'local' && type !== 'tar')
    throw new InvalidArgumentError(`output type "${type}" is not supported: use type=local or type=tar`);
  if (dest === '') throw new InvalidArgumentError(`output ${spec}: dest= is required`);
  return { type, dest };
}

/** The image's files to a directory or a tar (`-` for stdout), through a container created only to export. */
async function exportImage(
  client: EngineClient,
  image: string,
  o: Output,
  stdout: OutStream,
  signal: AbortSignal,
): Promise<void> {
  const { Id } = await client.containerCreate(
    { Image: image, Cmd: ['/'], Entrypoint: [''], NetworkDisabled: true },
    { signal },
  );
  try {
    const tar = await client.containerExport(Id, { signal });
    if (o.type === 'tar') {
      await pipeline(tar, o.dest === '-' ? stdout.stream : createWriteStream(o.dest), { signal });
      return;
    }
    await mkdir(o.dest, { recursive: true });
    await extractTo(tar, o.dest, signal);
  } finally {
    await client.containerRemove(Id, { force: true }).catch(() => {});
  }
}

async function extractTo(tar: Readable, dest: string, signal: AbortSignal): Promise<void> {
  const { extract } = await import('../../util/tar/index.ts');
  const { join, normalize } = await import('node:path');
  const { chmod, link, symlink, utimes } = await import('node:fs/promises');
  for await (const e of extract(tar, { signal })) {
    const name = normalize(`/${e.header.name}`);
    const path = join(dest, name);
    if (name === '/') continue;
    if (e.header.type === 'directory') {
      await mkdir(path, { recursive: true });
      await chmod(path, e.header.mode);
    } else if (e.header.type === 'file') {
      await rm(path, { force: true });
      await pipeline(e.body, createWriteStream(path, { mode: e.header.mode }));
      await utimes(path, e.header.mtime, e.header.mtime);
    } else if (e.header.type === 'symlink') {
      await rm(path, { force: true });
      await symlink(e.header.linkname, path);
    } else if (e.header.type === 'link') {
      await rm(path, { force: true });
      await link(join(dest, normalize(`/${e.header.linkname}`)), path);
    }
  }
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
