/**
 * Image archives for the integration tests, built in memory (or streamed to a file for the big one) with the
 * project's own tar writer, plus helpers to look at what a data root holds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack, type PackEntry } from '../src/util/tar/index.ts';

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export async function tarOf(entries: PackEntry[]): Promise<Buffer> {
  return collect(pack(entries));
}

/** A tar entry for a file (`name`), a directory (`name/`), or any header given in full. */
export function file(name: string, body: string | Buffer, mode = 0o644): PackEntry {
  return { header: { name, mode, mtime: 1_600_000_000 }, body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
}
export function dir(name: string, mode = 0o755): PackEntry {
  return { header: { name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mode, mtime: 1_600_000_000 } };
}

export interface Layer {
  /** The uncompressed tar (its digest is the diff ID). */
  tar: Buffer;
  /** What goes in the archive: the tar, or its gzip. */
  blob: Buffer;
  diffId: string;
  digest: string;
  mediaType: string;
}

export async function layer(entries: PackEntry[], opts: { gzip?: boolean } = {}): Promise<Layer> {
  const tar = await tarOf(entries);
  const blob = opts.gzip ? gzipSync(tar) : tar;
  return { tar, blob, diffId: sha256(tar), digest: sha256(blob), mediaType: opts.gzip ? MT.ociLayerGzip : MT.ociLayer };
}

export interface Image {
  layers: Layer[];
  config: Buffer;
  /** The image ID. */
  configDigest: string;
}

export function image(layers: Layer[], config: Record<string, unknown> = {}, diffIds?: string[]): Image {
  const body = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds ?? layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
      ...config,
    }),
  );
  return { layers, config: body, configDigest: sha256(body) };
}

/** A docker-archive as Docker 20.10 writes it: `<id>/layer.tar`, `<config>.json`, `manifest.json`. */
export function legacyArchive(images: { image: Image; tags: string[] }[]): PackEntry[] {
  const out: PackEntry[] = [];
  const manifest = images.map(({ image: img, tags }) => {
    const paths = img.layers.map((l) => {
      const id = l.digest.slice(7);
      if (!out.some((e) => e.header.name === `${id}/layer.tar`))
        out.push(dir(id), file(`${id}/VERSION`, '1.0'), file(`${id}/layer.tar`, l.blob));
      return `${id}/layer.tar`;
    });
    out.push(file(`${img.configDigest.slice(7)}.json`, img.config));
    return { Config: `${img.configDigest.slice(7)}.json`, RepoTags: tags, Layers: paths };
  });
  out.push(file('manifest.json', JSON.stringify(manifest)));
  return out;
}

export function ociManifest(img: Image, layerTypes?: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: img.configDigest, size: img.config.length },
      layers: img.layers.map((l, i) => ({
        mediaType: layerTypes?.[i] ?? l.mediaType,
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  );
}

/**
 * An oci-archive: `blobs/sha256/*`, `index.json` naming each manifest (with a `ref.name` tag annotation and the
 * containerd image-name annotation), `oci-layout`. `blobs` may add, replace (same name) or drop (undefined) blobs.
 */
export function ociArchive(
  manifests: { manifest: Buffer; name?: string; mediaType?: string }[],
  images: Image[],
  blobs: Record<string, Buffer | undefined> = {},
): PackEntry[] {
  const all = new Map<string, Buffer | undefined>();
  for (const img of images) {
    all.set(img.configDigest, img.config);
    for (const l of img.layers) all.set(l.digest, l.blob);
  }
  for (const m of manifests) all.set(sha256(m.manifest), m.manifest);
  for (const [d, b] of Object.entries(blobs)) all.set(d, b);
  const out: PackEntry[] = [file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), dir('blobs'), dir('blobs/sha256')];
  for (const [d, b] of all) if (b) out.push(file(`blobs/sha256/${d.slice(7)}`, b));
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: manifests.map((m) => ({
      mediaType: m.mediaType ?? MT.ociManifest,
      digest: sha256(m.manifest),
      size: m.manifest.length,
      ...(m.name
        ? {
            annotations: {
              'io.containerd.image.name': `docker.io/library/${m.name}`,
              'org.opencontainers.image.ref.name': m.name.split(':')[1],
            },
          }
        : {}),
    })),
  };
  out.push(file('index.json', JSON.stringify(index)));
  return out;
}

/** A small distinct image (its content depends on `seed`) as a legacy docker-archive. */
export async function smallImageArchive(seed: string, tags: string[]): Promise<{ archive: Buffer; image: Image }> {
  const l = await layer([dir('etc'), file('etc/seed', seed), file(`data-${seed}`, randomBytes(64))]);
  const img = image([l], { created: '2024-02-02T00:00:00Z' });
  return { archive: await tarOf(legacyArchive([{ image: img, tags }])), image: img };
}

/**
 * Streams a legacy docker-archive with one layer holding `size` bytes of random data to `path`, hashing as it
 * goes (memory stays small). Returns the image ID.
 */
export async function writeBigArchive(
  path: string,
  size: number,
  tag: string,
): Promise<{ id: string; diffId: string }> {
  const inner = (async function* () {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 1 << 20);
      left -= n;
      yield randomBytes(n);
    }
  })();
  const layerHash = createHash('sha256');
  const layerTar = (async function* () {
    for await (const c of pack([{ header: { name: 'big.bin', size, mode: 0o644 }, body: inner }])) {
      layerHash.update(c);
      yield c;
    }
  })();
  const tarSize = 512 + size + ((512 - (size % 512)) % 512) + 1024;
  const id = 'bigl0000';
  let result: { id: string; diffId: string } | undefined;
  const entries = (function* (): Generator<PackEntry> {
    yield dir(id);
    yield { header: { name: `${id}/layer.tar`, size: tarSize, mode: 0o644 }, body: layerTar };
    // Only evaluated after the layer body has streamed, so the hash is final.
    const diffId = `sha256:${layerHash.digest('hex')}`;
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '2024-03-03T00:00:00Z',
        config: {},
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    );
    const configId = sha256(config);
    result = { id: configId, diffId };
    yield file(`${configId.slice(7)}.json`, config);
    yield file(
      'manifest.json',
      JSON.stringify([{ Config: `${configId.slice(7)}.json`, RepoTags: [tag], Layers: [`${id}/layer.tar`] }]),
    );
  })();
  await pipeline(Readable.from(pack(entries)), createWriteStream(path));
  return result!;
}

// ---- looking at a data root --------------------------------------------------------------------------------

export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Digests (`sha256:…`) of the blob files on disk. */
export async function blobFiles(dataRoot: string): Promise<string[]> {
  return (await listDir(join(dataRoot, 'blobs', 'sha256'))).map((h) => `sha256:${h}`);
}

/**
 * The snapshots' directories by id. Removed snapshots' directories kept aside a while (`.removed-<id>`, empty of
 * files: src/snapshots/removed.ts) are not snapshots; `storeProblems` checks they hold no file.
 */
export async function snapshotDirs(dataRoot: string): Promise<string[]> {
  return (await listDir(join(dataRoot, 'snapshots'))).filter((n) => !n.startsWith('.removed-'));
}

/** Paths of the non-directories under the removed snapshots' kept directories (none expected). */
export async function filesInRemovedSnapshots(dataRoot: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else found.push(join(dir, e.name));
    }
  };
  for (const n of await listDir(join(dataRoot, 'snapshots'))) {
    if (n.startsWith('.removed-')) await walk(join(dataRoot, 'snapshots', n));
  }
  return found;
}

export interface StoreState {
  /** Image records: manifest digest → config digest. */
  images: Map<string, string>;
  tags: Map<string, string>;
  /** Snapshot records: key (chain ID) → directory id. */
  snapshots: Map<string, string>;
  /** Blobs the images need: manifests (and indexes' children), configs, layers. */
  neededBlobs: Set<string>;
  /** Chain IDs the images need. */
  neededChains: Set<string>;
}

function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** Reads the metadata database (read-only, while the daemon runs or not) and what the images need. */
export async function storeState(dataRoot: string): Promise<StoreState> {
  const db = new DatabaseSync(join(dataRoot, 'berth.db'), { readOnly: true });
  let images: Map<string, string>, tags: Map<string, string>, snapshots: Map<string, string>;
  try {
    images = new Map(
      db
        .prepare('SELECT manifest_digest, config_digest FROM images')
        .all()
        .map((r) => [String(r.manifest_digest), String(r.config_digest)]),
    );
    tags = new Map(
      db
        .prepare('SELECT name, manifest_digest FROM tags')
        .all()
        .map((r) => [String(r.name), String(r.manifest_digest)]),
    );
    snapshots = new Map(
      db
        .prepare('SELECT key, id FROM snapshots')
        .all()
        .map((r) => [String(r.key), String(r.id)]),
    );
  } finally {
    db.close();
  }
  const neededBlobs = new Set<string>();
  const neededChains = new Set<string>();
  const blob = async (d: string) => JSON.parse(await readFile(join(dataRoot, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const visit = async (digest: string): Promise<void> => {
    neededBlobs.add(digest);
    const m = await blob(digest);
    if (Array.isArray(m.manifests)) {
      // An index keeps only the manifests present (one platform, say).
      for (const c of m.manifests) await visit(c.digest).catch(() => neededBlobs.delete(c.digest));
      return;
    }
    neededBlobs.add(m.config.digest);
    for (const l of m.layers) neededBlobs.add(l.digest);
    const config = await blob(m.config.digest);
    for (const c of chainIds(config.rootfs.diff_ids)) neededChains.add(c);
  };
  for (const m of images.keys()) await visit(m);
  return { images, tags, snapshots, neededBlobs, neededChains };
}

/**
 * Asserts-ready summary of whether the store is consistent: every blob on disk is needed and present, every
 * snapshot directory has a record and every record is needed, nothing is left in ingest/.
 */
export async function storeProblems(dataRoot: string): Promise<string[]> {
  const s = await storeState(dataRoot);
  const problems: string[] = [];
  const onDisk = new Set(await blobFiles(dataRoot));
  for (const b of onDisk) if (!s.neededBlobs.has(b)) problems.push(`orphan blob ${b}`);
  for (const b of s.neededBlobs) if (!onDisk.has(b)) problems.push(`missing blob ${b}`);
  const dirs = new Set(await snapshotDirs(dataRoot));
  const recorded = new Set(s.snapshots.values());
  for (const d of dirs) if (!recorded.has(d)) problems.push(`snapshot dir without record ${d}`);
  for (const [key, id] of s.snapshots) {
    if (!s.neededChains.has(key)) problems.push(`orphan snapshot ${key} (${id})`);
    if (!dirs.has(id)) problems.push(`snapshot record without dir ${key} (${id})`);
  }
  for (const c of s.neededChains) if (!s.snapshots.has(c)) problems.push(`missing snapshot ${c}`);
  for (const i of await listDir(join(dataRoot, 'ingest'))) problems.push(`left in ingest: ${i}`);
  for (const f of await filesInRemovedSnapshots(dataRoot)) problems.push(`file left in a removed snapshot: ${f}`);
  return problems;
}

/** The snapshot directory (`snapshots/<id>/fs`) holding the given chain ID. */
export async function snapshotFs(dataRoot: string, chainId: string): Promise<string> {
  const s = await storeState(dataRoot);
  const id = s.snapshots.get(chainId);
  if (id === undefined) throw new Error(`no snapshot for ${chainId}`);
  return join(dataRoot, 'snapshots', id, 'fs');
}

/** Every path under `root`: 'd 755 0:0', 'f 4755 0:0 <size> <sha256 prefix>', 'l 777 0:0 -> target'. */
export async function listing(root: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await listDir(join(root, rel))) {
    const p = rel ? `${rel}/${name}` : name;
    const full = join(root, p);
    const st = await lstat(full);
    const own = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) {
      out.set(p, `d ${own}`);
      for (const [k, v] of await listing(root, p)) out.set(k, v);
    } else if (st.isSymbolicLink()) out.set(p, `l -> ${await readlink(full)}`);
    else if (st.isFile()) out.set(p, `f ${own} ${st.size} ${sha256(await readFile(full)).slice(7, 19)}`);
    else out.set(p, `other ${st.mode.toString(8)} ${own}`);
  }
  return out;
}
