import { open, type FileHandle } from 'node:fs/promises';
import type { Image } from '../images/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import {
  familiarName,
  familiarString,
  fullName,
  parseReference,
  referenceString,
  type Reference,
} from '../oci/reference.ts';
import type { Descriptor, Index } from '../oci/types.ts';
import { type Digest, digestAlgorithm, digestHex } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from './load.ts';
import type { ArchiveDeps } from './work.ts';

type ImageRecord = Image['record'];

export interface SaveOptions {
  signal?: AbortSignal;
}

interface SavedImage {
  record: ImageRecord;
  layers: Descriptor[];
  /** Tagged names it is saved under (none when asked for by ID or digest). */
  names: Reference[];
}

interface OpenBlob {
  digest: Digest;
  size: number;
  fh: FileHandle;
}

/**
 * `docker save`: a tar stream of the images named by `refs`, as Docker 25+ writes it (moby
 * image/tarexport/save.go): every manifest, config and layer blob once under `blobs/<alg>/<hex>` exactly as
 * stored (so every digest survives a load), an `index.json` with one entry per image and name, `oci-layout`,
 * and Docker's `manifest.json` and `repositories`.
 *
 * A name without a tag saves every tag of that repository (`docker save busybox`); an ID or digest saves the
 * image without names. Images are resolved and their blobs opened before the first byte, so NotFoundError
 * comes from the first `next()`, and an image deleted while the stream runs still saves whole.
 */
export async function* saveArchive(deps: ArchiveDeps, refs: string[], opts: SaveOptions = {}): AsyncGenerator<Buffer> {
  if (refs.length === 0) throw new InvalidArgumentError('no images to save');
  const blobs = new Map<string, OpenBlob>();
  try {
    const images = await deps.images.withLease(async () => {
      const saved = resolveImages(deps, refs);
      for (const img of saved) {
        const manifest = await deps.images.readManifest(img.record.manifestDigest as Digest);
        img.layers = manifest.layers;
        const wanted: Descriptor[] = [
          {
            mediaType: img.record.mediaType,
            digest: img.record.manifestDigest as Digest,
            size: img.record.manifestSize,
          },
          manifest.config,
          ...manifest.layers,
        ];
        for (const d of wanted) {
          if (blobs.has(d.digest)) continue;
          blobs.set(d.digest, await openBlob(deps, d));
        }
      }
      return saved;
    });
    yield* pack(archiveEntries(images, blobs), opts.signal ? { signal: opts.signal } : {});
  } finally {
    for (const b of blobs.values()) await b.fh.close().catch(() => {});
  }
}

async function openBlob(deps: ArchiveDeps, d: Descriptor): Promise<OpenBlob> {
  let fh: FileHandle;
  try {
    fh = await open(await deps.content.file(d.digest), 'r');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw new NotFoundError(`blob ${d.digest} not found`);
    throw err;
  }
  const size = (await fh.stat()).size;
  if (size !== d.size) {
    await fh.close();
    throw new DataLossError(`blob ${d.digest} is ${size} bytes, but its descriptor says ${d.size}`);
  }
  return { digest: d.digest, size, fh };
}

/** The images to save, each once, with every name asked for. */
function resolveImages(deps: ArchiveDeps, refs: string[]): SavedImage[] {
  const out = new Map<string, SavedImage>();
  const add = (record: ImageRecord, name?: Reference) => {
    let s = out.get(record.manifestDigest);
    if (!s) {
      s = { record, layers: [], names: [] };
      out.set(record.manifestDigest, s);
    }
    if (name && !s.names.some((n) => referenceString(n) === referenceString(name))) s.names.push(name);
  };
  for (const s of refs) {
    let ref: Reference | undefined;
    try {
      ref = parseReference(s);
    } catch {
      ref = undefined; // an ID
    }
    if (ref && ref.tag === undefined && ref.digest === undefined) {
      // A repository: all of its tags.
      const repo = fullName(ref);
      const tags = deps.images.records.tags().filter((t) => fullName(parseReference(t.name)) === repo);
      if (tags.length > 0) {
        for (const t of tags) {
          const rec = deps.images.records.get(t.manifestDigest);
          if (rec) add(rec, parseReference(t.name));
        }
        continue;
      }
    }
    const record = deps.images.resolve(s);
    if (
      ref?.tag !== undefined &&
      ref.digest === undefined &&
      deps.images.records.tag(referenceString(ref))?.manifestDigest === record.manifestDigest
    ) {
      add(record, ref);
    } else {
      add(record);
    }
  }
  return [...out.values()];
}

/** A blob's bytes from its open handle (positional reads: no stream is left behind if the reader stops). */
async function* readBlob(b: OpenBlob): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < b.size) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, b.size - pos));
    const { bytesRead } = await b.fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) throw new DataLossError(`blob ${b.digest} ended after ${pos} of its ${b.size} bytes`);
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

function blobPath(d: Digest): string {
  return `blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
}

async function* archiveEntries(images: SavedImage[], blobs: Map<string, OpenBlob>): AsyncGenerator<PackEntry> {
  const dir = (name: string): PackEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
  const algorithms = [...new Set([...blobs.keys()].map((d) => digestAlgorithm(d as Digest)))].sort();
  yield dir('blobs/');
  for (const alg of algorithms) {
    yield dir(`blobs/${alg}/`);
    for (const b of [...blobs.values()]
      .filter((x) => digestAlgorithm(x.digest) === alg)
      .sort((x, y) => (x.digest < y.digest ? -1 : 1))) {
      yield {
        header: { name: blobPath(b.digest), size: b.size, mode: 0o644 },
        body: readBlob(b),
      };
    }
  }
  const file = (name: string, value: unknown): PackEntry => ({
    header: { name, mode: 0o644 },
    body: Buffer.from(JSON.stringify(value)),
  });
  yield file('index.json', indexOf(images));
  yield file(
    'manifest.json',
    images.map((img) => ({
      Config: blobPath(img.record.configDigest as Digest),
      RepoTags: img.names.length > 0 ? img.names.map((n) => familiarString(n)) : null,
      Layers: img.layers.map((l) => blobPath(l.digest)),
    })),
  );
  yield file('oci-layout', { imageLayoutVersion: '1.0.0' });
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const top = img.layers[img.layers.length - 1];
    if (!top) continue;
    for (const n of img.names) (repositories[familiarName(n)] ??= {})[n.tag!] = digestHex(top.digest);
  }
  if (Object.keys(repositories).length > 0) yield file('repositories', repositories);
}

function indexOf(images: SavedImage[]): Index {
  const manifests: Descriptor[] = [];
  for (const img of images) {
    const base: Descriptor = {
      mediaType: img.record.mediaType,
      digest: img.record.manifestDigest as Digest,
      size: img.record.manifestSize,
    };
    if (img.names.length === 0) manifests.push(base);
    for (const n of img.names) {
      manifests.push({
        ...base,
        annotations: { [ANNOTATION_IMAGE_NAME]: referenceString(n), [ANNOTATION_REF_NAME]: n.tag! },
      });
    }
  }
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
}
