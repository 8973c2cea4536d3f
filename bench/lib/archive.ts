/**
 * Builds the image archives the load benchmarks feed to both engines: a docker-archive as `docker save` writes it
 * since Docker 25 (an OCI layout, `blobs/sha256/…`, plus `manifest.json`, which Docker 20.10 reads), layers of
 * random data as uncompressed tars (as `docker save` writes them) or gzip-compressed. Each layer tar (and its gzip
 * form) is kept as a file of its own, the input of the `tar -xf` / `tar -xzf` unpack floor.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MediaType } from '../../src/oci/mediatypes.ts';
import { pack, type PackEntry } from '../../src/util/tar/index.ts';

/** A layer's contents: directories, then regular files of random bytes. */
export interface LayerSpec {
  dirs: string[];
  files: { path: string; size: number }[];
}

export interface BuiltLayer {
  /** The uncompressed layer tar, and its size. */
  tar: string;
  tarBytes: number;
  /** Bytes of regular-file data in the layer. */
  fileBytes: number;
  files: number;
  /** The gzip-compressed tar, when the archive's layers are gzip-compressed. */
  gz?: string;
}

export interface BuiltImage {
  /** The docker-archive file. */
  archive: string;
  archiveBytes: number;
  /** The name it loads as (`name:latest`). */
  name: string;
  /** The image ID, `sha256:<config digest hex>`. */
  id: string;
  gzip: boolean;
  layers: BuiltLayer[];
}

const CHUNK = 1 << 20;

/** One layer of `mib` MiB: half in a single file, half in 64 KiB files spread over 32 directories. */
export function bigLayer(mib: number): LayerSpec {
  const half = Math.floor((mib * CHUNK) / 2);
  const small = 64 << 10;
  const count = Math.floor(half / small);
  const dirs = Array.from({ length: 32 }, (_, i) => `data/d${String(i).padStart(2, '0')}/`);
  const files = [{ path: 'data/big.bin', size: mib * CHUNK - count * small }];
  for (let i = 0; i < count; i++) files.push({ path: `${dirs[i % 32]}f${i}.bin`, size: small });
  return { dirs: ['data/', ...dirs], files };
}

/** `n` layers of `kib` KiB each, each 16 files in a directory of its own. */
export function manyLayers(n: number, kib: number): LayerSpec[] {
  const size = Math.max(1, Math.floor((kib << 10) / 16));
  return Array.from({ length: n }, (_, i) => ({
    dirs: [`layer${i}/`],
    files: Array.from({ length: 16 }, (_, j) => ({ path: `layer${i}/f${j}.bin`, size })),
  }));
}

async function* randomBody(size: number): AsyncGenerator<Uint8Array> {
  for (let left = size; left > 0; left -= CHUNK) yield randomFillSync(Buffer.allocUnsafe(Math.min(left, CHUNK)));
}

function* layerEntries(spec: LayerSpec): Generator<PackEntry> {
  for (const d of spec.dirs) yield { header: { name: d, type: 'directory', mode: 0o755, mtime: 1_700_000_000 } };
  for (const f of spec.files)
    yield { header: { name: f.path, size: f.size, mode: 0o644, mtime: 1_700_000_000 }, body: randomBody(f.size) };
}

/** Writes a stream to a file; returns the sha256 (hex) and size of what was written. */
async function writeHashed(
  source: AsyncIterable<Uint8Array> | Readable,
  path: string,
  via?: Transform,
): Promise<{ hex: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  if (via) await pipeline(source, via, tap, createWriteStream(path));
  else await pipeline(source, tap, createWriteStream(path));
  return { hex: h.digest('hex'), size };
}

/** Builds `<dir>/<name>.tar` from the layer specs (in order, lowest first). */
export async function buildImage(
  dir: string,
  name: string,
  specs: LayerSpec[],
  opts: { gzip: boolean },
): Promise<BuiltImage> {
  const layers: BuiltLayer[] = [];
  const diffIds: string[] = [];
  const descs: { mediaType: string; digest: string; size: number; file: string }[] = [];
  for (const [i, spec] of specs.entries()) {
    const tar = join(dir, `${name}-layer${i}.tar`);
    const t = await writeHashed(Readable.from(pack(layerEntries(spec))), tar);
    diffIds.push(`sha256:${t.hex}`);
    const layer: BuiltLayer = {
      tar,
      tarBytes: t.size,
      fileBytes: spec.files.reduce((s, f) => s + f.size, 0),
      files: spec.files.length,
    };
    if (opts.gzip) {
      // gzip's default level, as `gzip` and Docker's own compression use.
      const gz = `${tar}.gz`;
      const g = await writeHashed(createReadStream(tar, { highWaterMark: CHUNK }), gz, createGzip());
      layer.gz = gz;
      descs.push({ mediaType: MediaType.OciLayerGzip, digest: `sha256:${g.hex}`, size: g.size, file: gz });
    } else {
      descs.push({ mediaType: MediaType.OciLayer, digest: `sha256:${t.hex}`, size: t.size, file: tar });
    }
    layers.push(layer);
  }
  const created = '2024-01-01T00:00:00Z';
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created,
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: specs.map((_, i) => ({ created, created_by: `bench layer ${i}` })),
    }),
  );
  const configHex = createHash('sha256').update(config).digest('hex');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: `sha256:${configHex}`, size: config.length },
      layers: descs.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })),
    }),
  );
  const manifestHex = createHash('sha256').update(manifest).digest('hex');
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: MediaType.OciManifest,
          digest: `sha256:${manifestHex}`,
          size: manifest.length,
          annotations: {
            'io.containerd.image.name': `docker.io/library/${name}:latest`,
            'org.opencontainers.image.ref.name': 'latest',
          },
        },
      ],
    }),
  );
  const dockerManifest = Buffer.from(
    JSON.stringify([
      {
        Config: `blobs/sha256/${configHex}`,
        RepoTags: [`${name}:latest`],
        Layers: descs.map((d) => `blobs/sha256/${d.digest.slice(7)}`),
      },
    ]),
  );
  const seen = new Set<string>();
  async function* entries(): AsyncGenerator<PackEntry> {
    const m = 1_700_000_000;
    yield { header: { name: 'blobs/', type: 'directory', mtime: m } };
    yield { header: { name: 'blobs/sha256/', type: 'directory', mtime: m } };
    for (const d of descs) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      yield {
        header: { name: `blobs/sha256/${d.digest.slice(7)}`, size: d.size, mtime: m },
        body: createReadStream(d.file, { highWaterMark: CHUNK }),
      };
    }
    yield { header: { name: `blobs/sha256/${configHex}`, mtime: m }, body: config };
    yield { header: { name: `blobs/sha256/${manifestHex}`, mtime: m }, body: manifest };
    yield { header: { name: 'index.json', mtime: m }, body: index };
    yield { header: { name: 'manifest.json', mtime: m }, body: dockerManifest };
    yield { header: { name: 'oci-layout', mtime: m }, body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') };
  }
  const archive = join(dir, `${name}.tar`);
  await pipeline(Readable.from(pack(entries())), createWriteStream(archive));
  return {
    archive,
    archiveBytes: (await stat(archive)).size,
    name,
    id: `sha256:${configHex}`,
    gzip: opts.gzip,
    layers,
  };
}
