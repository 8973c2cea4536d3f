/**
 * Helpers for the distribution tests: image archives built in memory, and (from images/testkit.ts) the test
 * engine in a temp dir.
 */
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { MediaType } from '../oci/mediatypes.ts';
import type { Compression } from '../util/compression.ts';
import { type Digest, sha256 } from '../util/digest.ts';
import { type PackEntry, pack } from '../util/tar/index.ts';

export { describeTree, type TestEngine, testEngine } from '../images/testkit.ts';

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export async function* chunks(data: Uint8Array, size = 7000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export function compress(data: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(data);
  if (c === 'zstd') return zstdCompressSync(data);
  return data;
}

/** A layer: its (maybe compressed) blob, digest, diff ID and the media types for it. */
export interface TestLayer {
  tar: Buffer;
  blob: Buffer;
  digest: Digest;
  diffId: Digest;
  compression: Compression;
}

/** A layer tar of the given files (`dir/` for a directory), compressed as asked. */
export async function makeLayer(files: Record<string, string>, compression: Compression = 'none'): Promise<TestLayer> {
  const entries: PackEntry[] = Object.entries(files).map(([name, body]) =>
    name.endsWith('/')
      ? { header: { name, mtime: 1_600_000_000 } }
      : { header: { name, mtime: 1_600_000_000 }, body: Buffer.from(body) },
  );
  const tar = await collect(pack(entries));
  const blob = compress(tar, compression);
  return { tar, blob, digest: sha256(blob), diffId: sha256(tar), compression };
}

export interface TestImage {
  layers: TestLayer[];
  config: Buffer;
  configDigest: Digest;
}

export function makeImage(layers: TestLayer[], extra: Record<string, unknown> = {}): TestImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
      ...extra,
    }),
  );
  return { layers, config, configDigest: sha256(config) };
}

const file = (name: string, body: Buffer | string): PackEntry => ({
  header: { name, mode: 0o644 },
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
});

/**
 * A docker-archive as Docker 20.10 writes it: `<id>/layer.tar`, `<id>/VERSION`, `<id>/json`, `<config hex>.json`,
 * `manifest.json` and `repositories`. A layer used twice is a symlink the second time, as Docker writes it.
 */
export function legacyArchive(
  images: { image: TestImage; tags: string[] }[],
  opts: { manifestFirst?: boolean } = {},
): PackEntry[] {
  const layerFiles: PackEntry[] = [];
  const seen = new Map<string, string>();
  const manifest = images.map(({ image, tags }) => {
    const paths = image.layers.map((l, i) => {
      const id = sha256(`${image.configDigest} ${i}`).slice(7);
      const path = `${id}/layer.tar`;
      layerFiles.push({ header: { name: `${id}/`, type: 'directory', mode: 0o755 } });
      layerFiles.push(file(`${id}/VERSION`, '1.0'));
      layerFiles.push(file(`${id}/json`, JSON.stringify({ id })));
      const first = seen.get(l.digest);
      if (first) layerFiles.push({ header: { name: path, type: 'symlink', linkname: `../${first}` } });
      else {
        layerFiles.push(file(path, l.blob));
        seen.set(l.digest, path);
      }
      return path;
    });
    layerFiles.push(file(`${image.configDigest.slice(7)}.json`, image.config));
    return { Config: `${image.configDigest.slice(7)}.json`, RepoTags: tags, Layers: paths };
  });
  const meta = [file('manifest.json', JSON.stringify(manifest)), file('repositories', '{}')];
  return opts.manifestFirst ? [...meta, ...layerFiles] : [...layerFiles, ...meta];
}

const LAYER_TYPE: Record<Compression, string> = {
  none: MediaType.OciLayer,
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
};

export function ociManifest(image: TestImage): { manifest: Buffer; digest: Digest } {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: image.configDigest, size: image.config.length },
      layers: image.layers.map((l) => ({
        mediaType: LAYER_TYPE[l.compression],
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  );
  return { manifest, digest: sha256(manifest) };
}

/**
 * An OCI layout archive: `blobs/sha256/*`, `index.json` (one entry per image, with the given annotations),
 * `oci-layout`, and with `docker: true` also Docker's `manifest.json` (as Docker 25+ writes).
 */
export function ociArchive(
  images: { image: TestImage; annotations?: Record<string, string>; tags?: string[] }[],
  opts: { docker?: boolean; extraBlobs?: Buffer[]; index?: unknown } = {},
): PackEntry[] {
  const blobs = new Map<string, Buffer>();
  const index: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] = [];
  for (const { image, annotations } of images) {
    const m = ociManifest(image);
    blobs.set(m.digest, m.manifest);
    blobs.set(image.configDigest, image.config);
    for (const l of image.layers) blobs.set(l.digest, l.blob);
    index.push({
      mediaType: MediaType.OciManifest,
      digest: m.digest,
      size: m.manifest.length,
      ...(annotations ? { annotations } : {}),
    });
  }
  for (const b of opts.extraBlobs ?? []) blobs.set(sha256(b), b);
  const entries: PackEntry[] = [...blobs].map(([d, b]) => file(`blobs/sha256/${d.slice(7)}`, b));
  entries.push(
    file(
      'index.json',
      JSON.stringify(opts.index ?? { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }),
    ),
  );
  entries.push(file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'));
  if (opts.docker) {
    entries.push(
      file(
        'manifest.json',
        JSON.stringify(
          images.map(({ image, tags }) => ({
            Config: `blobs/sha256/${image.configDigest.slice(7)}`,
            RepoTags: tags ?? [],
            Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
          })),
        ),
      ),
    );
  }
  return entries;
}

export async function archive(entries: PackEntry[]): Promise<Buffer> {
  return collect(pack(entries));
}
