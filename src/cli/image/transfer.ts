import { open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isTempOpenError, writeFileAtomic } from '../../util/atomic.ts';
import { type BerthError, InvalidArgumentError, goErrnoText } from '../../util/errors.ts';
import type { EngineClient, JSONMessage } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { displayJSONMessages } from '../jsonmessage.ts';
import { byteProgress, type ByteProgress } from '../progress.ts';
import { referenceError } from './refs.ts';

/** Go's wording for a file that cannot be opened: `open /x: no such file or directory`. */
export function openError(op: string, path: string, err: unknown): BerthError {
  return new InvalidArgumentError(goErrnoText(err, path, op), { cause: err });
}

/** Opens a file for streaming, failing before any request is sent when it cannot be read. */
async function openInput(path: string): Promise<{ stream: Readable; size: number }> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw openError('open', path, err);
  });
  try {
    const { size } = await handle.stat();
    return { stream: handle.createReadStream(), size };
  } catch (err) {
    await handle.close();
    throw openError('stat', path, err);
  }
}

/**
 * The request body for an uploaded file: counted by a progress line on `err` when that is a terminal.
 * The line ends once the engine answers, so the engine's own messages start on a line of their own.
 */
async function upload(
  path: string,
  err: OutStream,
  quiet: boolean,
): Promise<{ body: AsyncIterable<Uint8Array>; progress: ByteProgress | undefined }> {
  const input = await openInput(path);
  const progress = byteProgress(err, 'Uploading', input.size, { quiet });
  return { body: progress === undefined ? input.stream : progress.count(input.stream), progress };
}

export interface LoadOptions {
  /** A tar file, or undefined for stdin. */
  input: string | undefined;
  quiet: boolean;
}

/**
 * `berth load`: streams a docker-archive tar to the engine. The engine's progress is drawn on stdout and
 * the upload of an `-i` file on stderr, each only on a terminal (and not with `-q`).
 */
export async function loadImages(
  client: EngineClient,
  stdin: Readable & { isTTY?: boolean },
  out: OutStream,
  err: OutStream,
  opts: LoadOptions,
  signal?: AbortSignal,
): Promise<void> {
  let body: AsyncIterable<Uint8Array>;
  let progress: ByteProgress | undefined;
  if (opts.input === undefined || opts.input === '') {
    if (stdin.isTTY === true) throw new InvalidArgumentError('requested load from stdin, but stdin is empty');
    body = stdin;
  } else {
    ({ body, progress } = await upload(opts.input, err, opts.quiet));
  }
  const quiet = opts.quiet || !out.isTerminal;
  let messages: AsyncIterable<JSONMessage>;
  try {
    messages = await client.imageLoad(body, { quiet, signal });
  } finally {
    progress?.finish();
  }
  await displayJSONMessages(messages, out);
}

export interface SaveOptions {
  images: string[];
  /** Output file, or undefined for stdout. */
  output: string | undefined;
}

/**
 * `berth save`: writes the engine's tar to a file (atomically: temp file then rename, mode 0600), with
 * the bytes written shown on stderr when that is a terminal, or to stdout, which must not be a terminal.
 */
export async function saveImages(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: SaveOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (opts.output === undefined || opts.output === '') {
    if (out.isTerminal)
      throw new InvalidArgumentError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const tar = await client.imageSave(opts.images, { signal });
    await pipeline(tar, out.stream, { end: false });
    return;
  }
  const target = opts.output;
  const dir = dirname(target);
  const st = await stat(dir).catch((err: unknown) => {
    throw new InvalidArgumentError(
      `failed to save image: invalid output path: ${openError('stat', dir, err).message}`,
      { cause: err },
    );
  });
  if (!st.isDirectory())
    throw new InvalidArgumentError(`failed to save image: invalid output path: ${dir} is not a directory`);
  const tar = await client.imageSave(opts.images, { signal });
  const temp = join(dir, `.${basename(target)}.${process.pid}.tmp`);
  // The engine streams the tar without a length: the line, drawn once the file is open, shows the bytes written.
  let progress = undefined as ByteProgress | undefined;
  const counted = (): AsyncIterable<Uint8Array> => {
    progress = byteProgress(err, 'Saving', 0);
    return progress === undefined ? tar : progress.count(tar);
  };
  try {
    await writeFileAtomic(target, counted, { tmp: temp, mode: 0o600, fsync: true });
  } catch (failure) {
    if (isTempOpenError(failure, temp))
      throw new InvalidArgumentError(`failed to save image: ${openError('open', temp, failure).message}`, {
        cause: failure,
      });
    throw failure;
  } finally {
    progress?.finish();
  }
}

export interface ImportOptions {
  /** A file path, `-` for stdin, or an http(s) URL the engine fetches. */
  source: string;
  reference: string | undefined;
  changes: string[];
  message: string;
}

/**
 * `berth import`: a root filesystem tarball becomes a one-layer image; prints the engine's messages. The
 * upload of a file is shown on stderr when that is a terminal.
 */
export async function importImage(
  client: EngineClient,
  stdin: Readable,
  out: OutStream,
  err: OutStream,
  opts: ImportOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (opts.reference !== undefined && opts.reference !== '') {
    const problem = referenceError(opts.reference);
    if (problem !== undefined) throw new InvalidArgumentError(problem);
  }
  let body: AsyncIterable<Uint8Array> | undefined;
  let progress: ByteProgress | undefined;
  let source = '-';
  if (opts.source === '-') body = stdin;
  else if (/^https?:\/\//.test(opts.source)) source = opts.source;
  else ({ body, progress } = await upload(opts.source, err, false));
  let messages: AsyncIterable<JSONMessage>;
  try {
    messages = await client.imageImport(body, {
      source,
      ...(opts.reference !== undefined && opts.reference !== '' ? { repo: opts.reference } : {}),
      ...(opts.message !== '' ? { message: opts.message } : {}),
      changes: opts.changes,
      signal,
    });
  } finally {
    progress?.finish();
  }
  await displayJSONMessages(messages, out);
}
