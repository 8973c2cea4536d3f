import { applyChanges } from '../images/index.ts';
import { hostPlatform, type Image } from '../images/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Reference } from '../oci/reference.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import { autoDecompress } from '../util/compression.ts';
import { coalesce } from '../util/chunks.ts';
import { AheadUnpacks, layerLike, peek } from './ahead.ts';
import { archiveError, runImageWork, type ArchiveDeps, type ImageWork } from './work.ts';

export interface ImportOptions {
  /** The name to give the image (`docker import - busybox:latest`). */
  tag?: Reference;
  /** `--change` Dockerfile lines (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR). */
  changes?: string[];
  /** The commit message; `Imported from -` when empty. */
  message?: string;
  signal?: AbortSignal;
}

/**
 * `docker import`: makes a one-layer image of a root filesystem tar (plain, gzip or zstd). The tar is stored
 * decompressed, streaming, as one `application/vnd.docker.image.rootfs.diff.tar` blob (so its digest is its diff
 * ID); the config has this host's platform, the time of the import and Docker's history entry; `changes` are
 * applied to its run config. On failure nothing is left behind.
 *
 * The source's chunks are the import's to free, as a load's are (load.ts): a chunk that goes whole to the unpack is
 * detached once copied on (`releaseChunk`), so a source must not use its chunks again.
 */
export async function importRootfs(
  deps: ArchiveDeps,
  source: AsyncIterable<Uint8Array>,
  opts: ImportOptions = {},
): Promise<Image> {
  const runConfig = await applyChanges({}, opts.changes ?? []); // a bad change fails before any byte is read
  return runImageWork(deps, async (work) => {
    // The tar is stored and unpacked in one pass (ahead.ts), where the snapshotter allows.
    const ahead = AheadUnpacks.possible(deps.images) ? new AheadUnpacks(deps.images, opts.signal) : undefined;
    try {
      return await importLayer(deps, work, source, opts, runConfig, ahead);
    } finally {
      await ahead?.discardUnused();
    }
  });
}

async function importLayer(
  deps: ArchiveDeps,
  work: ImageWork,
  source: AsyncIterable<Uint8Array>,
  opts: ImportOptions,
  runConfig: NonNullable<ImageConfig['config']>,
  ahead: AheadUnpacks | undefined,
): Promise<Image> {
  const signal = opts.signal ? { signal: opts.signal } : {};
  let layer: { digest: `${string}:${string}`; size: number };
  try {
    // As a load's (load.ts): the socket's pieces go to the unpack thread as they come; store writes are gathered.
    const { head, all } = await peek(autoDecompress(source), 512);
    const plain = ahead && layerLike(head) === 'none';
    layer = plain
      ? await ahead.store(work, all, 'none', {}, { release: true })
      : await work.ingest(coalesce(all), {}, opts.signal);
    await ahead?.settle();
  } catch (err) {
    throw archiveError(err, 'reading the imported file system');
  }
  const created = new Date().toISOString();
  const comment = opts.message || 'Imported from -';
  const platform = hostPlatform();
  const config: ImageConfig = {
    architecture: platform.architecture,
    comment,
    config: runConfig,
    created,
    history: [{ created, comment }],
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const configBlob = await work.put(Buffer.from(JSON.stringify(config)));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, size: configBlob.size, digest: configBlob.digest },
    layers: [{ mediaType: MediaType.OciLayer, size: layer.size, digest: layer.digest }],
  };
  // An OCI manifest, as for archives without one (see load.ts), so that saved layouts are readable by OCI tools.
  const m = await work.put(Buffer.from(JSON.stringify(manifest)));
  await work.noteChains(config);
  try {
    await deps.images.unpack(manifest, config, {
      ...signal,
      prepared: ahead?.prepared(manifest, config) ?? new Map(),
    });
    await work.durable();
    const img = await deps.images.register(
      { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size },
      { tags: opts.tag ? [opts.tag] : [], event: 'import', ...signal },
    );
    work.keep(img.record.manifestDigest, img.manifest);
    return img;
  } catch (err) {
    throw archiveError(err, 'importing the file system');
  }
}
