/**
 * A COPY's layer tar packed from its entry list, for both places that make one: a cold COPY's layer (layer.ts
 * `applyTar`: every chunk handed to the unpack, hashed with its marks on the way) and a linked COPY's digest
 * (linked.ts `listDigest`: hashed only, from the first entry the previous layer's marks do not cover). One plain
 * loop over util/tar's `TarPacker` (the bytes `pack` writes): it waits only for a body whose window is not read
 * yet and for the consumer of its chunks, rather than at a few async steps per entry.
 */
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { DataLossError } from '../util/errors.ts';
import { type PackEntry, TarPacker } from '../util/tar/index.ts';
import { contentBytes, type MarkedHash } from './tarmarks.ts';

/** A file's content: bytes, at once or once their window is read, or streamed. */
export type Body = Uint8Array | Promise<Uint8Array> | AsyncIterable<Uint8Array>;

export interface PackListOptions {
  /** The first entry packed (`MarkedHash.start`: the ones before it are hashed already). 0 when not given. */
  from?: number;
  /** Told of each entry before its head (its marks) and given every byte. */
  hash?: MarkedHash | undefined;
  /** The body of a file of some bytes (the entry's own body when not given, and for every other entry). */
  bodyOf?: ((e: PackEntry) => Body) | undefined;
  /**
   * Takes each chunk. A chunk may be a window's memory, read into again once a later body is asked for: the packer
   * asks for none before the promise returned (if any) has resolved.
   */
  out?: ((chunk: Uint8Array) => void | Promise<void>) | undefined;
}

/** Entries between two turns of the event loop (the links' callbacks and the windows' reads run in it). */
const TURN = 256;

/** Packs `list`; returns the content bytes (file bodies, symbolic link targets) of the entries packed. */
export async function packList(list: readonly PackEntry[], o: PackListOptions): Promise<number> {
  const { hash, out, bodyOf } = o;
  const packer = new TarPacker();
  let contentSize = 0;
  const emit = (c: Uint8Array): void | Promise<void> => {
    hash?.update(c);
    return out?.(c);
  };
  for (let i = o.from ?? 0; i < list.length; i++) {
    const e = list[i]!;
    if (i % TURN === TURN - 1) await yieldLoop();
    hash?.enter(e);
    const h = e.header;
    contentSize += contentBytes(h);
    let body: Body | undefined = bodyOf && h.type === 'file' && h.size ? bodyOf(e) : e.body;
    if (body instanceof Promise) body = await body;
    const { head, inline, size } = packer.head(body === e.body || body === undefined ? e : { header: h, body });
    let wait = emit(head);
    if (wait) await wait;
    // (a streamed body of no bytes is still read to its end, so that its source is closed)
    if (body === undefined || (inline && body instanceof Uint8Array)) continue;
    if (body instanceof Uint8Array) {
      wait = emit(body);
      if (wait) await wait;
      continue;
    }
    let n = 0;
    for await (const c of body) {
      n += c.length;
      if (n > size) break;
      wait = emit(c);
      if (wait) await wait;
    }
    if (n !== size) throw new DataLossError(`the body of layer entry ${h.name} is not the ${size} bytes listed`);
  }
  const wait = emit(packer.end());
  if (wait) await wait;
  return contentSize;
}

/**
 * The chunks `run` gives its `out` as an async iterable, handed over one at a time: `out`'s promise resolves once the
 * consumer asks for the next chunk (so it is done with the last), and rejects when the consumer stops early, which
 * stops `run`. `run`'s failure is the iteration's.
 */
export async function* handedOver(
  run: (out: (chunk: Uint8Array) => Promise<void>) => Promise<unknown>,
): AsyncGenerator<Uint8Array> {
  let chunk: Uint8Array | undefined;
  let taken: { resolve: () => void; reject: (err: Error) => void } | undefined;
  let wake: (() => void) | undefined;
  let ended = false;
  let stopped = false;
  let failure: { err: unknown } | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const running = run((c) =>
    stopped
      ? Promise.reject(new Error('the layer tar is no longer read'))
      : new Promise<void>((resolve, reject) => {
          chunk = c;
          taken = { resolve, reject };
          signal();
        }),
  ).then(
    () => {
      ended = true;
      signal();
    },
    (err: unknown) => {
      failure = { err };
      ended = true;
      signal();
    },
  );
  try {
    for (;;) {
      if (chunk === undefined && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (chunk !== undefined) {
        const c = chunk;
        chunk = undefined;
        yield c;
        // (kept until here: the consumer that stops at the yield leaves it to the finally below to reject)
        const t = taken!;
        taken = undefined;
        t.resolve();
        continue;
      }
      if (failure) throw failure.err;
      return;
    }
  } finally {
    // stopped early (the consumer's failure, or the iteration returned): the packer stops at its next chunk
    if (!ended) {
      stopped = true;
      taken?.reject(new Error('the layer tar is no longer read'));
      taken = undefined;
      await running;
    }
  }
}
