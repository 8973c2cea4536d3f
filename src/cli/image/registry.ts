import type { EngineClient } from '../../client/index.ts';
import {
  familiarString,
  parseReference,
  referenceString,
  withDefaultTag,
  type Reference,
} from '../../oci/reference.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { encodeAuthHeader, lookupAuth } from '../credentials.ts';
import { awaitJSONMessages, displayJSONMessages } from '../jsonmessage.ts';
import { referenceError } from './refs.ts';

/**
 * `berth pull` and `berth push` (docker/cli `image/pull.go`, `image/push.go`): the engine does the work and
 * streams JSON messages; the CLI sends the stored credentials of the image's registry (`X-Registry-Auth`),
 * draws the progress (per-layer lines on a terminal, plain lines elsewhere) and ends with the reference.
 */

function parseNamed(name: string): Reference {
  const problem = referenceError(name);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return parseReference(name);
}

/** The `X-Registry-Auth` header for an image's registry, from Berth's or Docker's config. */
export async function registryAuthFor(domain: string): Promise<string | undefined> {
  return encodeAuthHeader(await lookupAuth(domain));
}

export interface PullOptions {
  name: string;
  allTags: boolean;
  platform: string;
  quiet: boolean;
}

export async function pullImage(
  client: EngineClient,
  out: OutStream,
  opts: PullOptions,
  signal?: AbortSignal,
): Promise<void> {
  let ref = parseNamed(opts.name);
  if (opts.allTags && (ref.tag !== undefined || ref.digest !== undefined))
    throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
  // The engine's ping (the API version's negotiation) goes out now, once the arguments are known to be good: what
  // is left before the request (the default tag's line, which builds stdout, and the credentials' files) runs while
  // the engine answers it, instead of before it. Its failure is the request's, reported below.
  const negotiated = client.apiVersion({ signal });
  negotiated.catch(() => {});
  if (!opts.allTags && ref.tag === undefined && ref.digest === undefined) {
    ref = withDefaultTag(ref);
    if (!opts.quiet) out.write('Using default tag: latest\n');
  }
  const registryAuth = await registryAuthFor(ref.domain);
  await negotiated;
  const messages = await client.imagePull(
    `${ref.domain}/${ref.path}`,
    opts.allTags ? undefined : (ref.digest ?? ref.tag),
    {
      signal,
      ...(opts.platform !== '' ? { platform: opts.platform.toLowerCase() } : {}),
      ...(registryAuth !== undefined ? { registryAuth } : {}),
    },
  );
  if (opts.quiet) await awaitJSONMessages(messages);
  else await displayJSONMessages(messages, out);
  out.write(`${opts.allTags ? `${ref.domain}/${ref.path}` : referenceString(ref)}\n`);
}

export interface PushOptions {
  name: string;
  allTags: boolean;
  quiet: boolean;
}

export async function pushImage(
  client: EngineClient,
  out: OutStream,
  opts: PushOptions,
  signal?: AbortSignal,
): Promise<void> {
  let ref = parseNamed(opts.name);
  if (ref.digest !== undefined) throw new InvalidArgumentError('cannot push a digest reference');
  if (opts.allTags && ref.tag !== undefined) throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
  if (!opts.allTags && ref.tag === undefined) {
    ref = withDefaultTag(ref);
    if (!opts.quiet) out.write('Using default tag: latest\n');
  }
  const registryAuth = await registryAuthFor(ref.domain);
  const repo: Reference = { domain: ref.domain, path: ref.path };
  const messages = await client.imagePush(familiarString(repo), opts.allTags ? undefined : ref.tag, {
    signal,
    ...(registryAuth !== undefined ? { registryAuth } : {}),
  });
  if (opts.quiet) await awaitJSONMessages(messages, { onAux: () => {} });
  else await displayJSONMessages(messages, out, { onAux: () => {} });
  if (opts.quiet) out.write(`${familiarString(opts.allTags ? repo : ref)}\n`);
}
