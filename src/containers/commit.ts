import { applyChanges, type ImageService } from '../images/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import { parseReference } from '../oci/reference.ts';
import type { ImageConfig, ImageRunConfig, Manifest } from '../oci/types.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { lgetxattr } from '../sys/index.ts';
import { NotImplementedError } from '../util/errors.ts';
import { pack } from '../util/tar/index.ts';
import { layerEntries } from './archive.ts';
import { runtimeMountPoints } from './files.ts';
import type { Row } from './model.ts';

/** `docker commit`'s options (`-c`, `-m`, `-a`, `--pause`) and the config the API may send. */
export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  pause?: boolean;
  config?: ImageRunConfig;
}

/**
 * The container's changes (its overlay upper directory, less the runtime's mount points) as a new layer on its
 * image, with its run config (`changes` applied as Dockerfile lines), registered as a new image and tagged
 * `repo:tag` when given. Returns the new image's ID. The caller pauses the container around it.
 */
export async function commitContainer(
  deps: { images: ImageService; snapshotter: Snapshotter },
  r: Row,
  o: CommitOptions,
): Promise<string> {
  const { images, snapshotter } = deps;
  const mounts = await snapshotter.mounts(r.snapshot);
  const m = mounts[0];
  const upper =
    m?.type === 'overlay'
      ? m.options.find((x) => x.startsWith('upperdir='))?.slice('upperdir='.length)
      : m?.type === 'bind' && snapshotter.name === 'overlay'
        ? m.source
        : undefined;
  if (!upper) throw new NotImplementedError(`docker commit is not available with the ${snapshotter.name} snapshotter`);
  const base = await images.load(images.resolve(r.imageId));
  const cfg = await applyChanges({ ...r.config.Config, ...(o.config ?? {}) }, o.changes ?? []);
  return images.withLease(async (lease) => {
    const isOpaque = (p: string) => lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y';
    const layer = await images.content.ingest(pack(layerEntries(upper, runtimeMountPoints(r), isOpaque)));
    lease(layer.digest);
    const now = new Date().toISOString();
    const config: ImageConfig = {
      ...base.config,
      created: now,
      ...(o.author ? { author: o.author } : {}),
      ...(o.comment ? { comment: o.comment } : {}),
      container: r.id,
      config: imageRunConfig(cfg),
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.digest] },
      history: [
        ...(base.config.history ?? []),
        {
          created: now,
          created_by: [r.config.Path, ...r.config.Args].join(' '),
          ...(o.author ? { author: o.author } : {}),
          ...(o.comment ? { comment: o.comment } : {}),
        },
      ],
    };
    const cblob = await images.content.put(Buffer.from(JSON.stringify(config)));
    lease(cblob.digest);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cblob.digest, size: cblob.size },
      layers: [...base.manifest.layers, { mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size }],
    };
    const mblob = await images.content.put(Buffer.from(JSON.stringify(manifest)));
    lease(mblob.digest);
    const tags = o.repo ? [parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo)] : [];
    const img = await images.register(
      { mediaType: MediaType.OciManifest, digest: mblob.digest, size: mblob.size },
      { tags },
    );
    return img.record.configDigest;
  });
}

/** A container's config as an image's: without what belongs to one container (hostname, stdio, TTY, image). */
function imageRunConfig(cfg: ImageRunConfig & { StopTimeout?: number }): ImageRunConfig {
  const {
    StopTimeout: _st,
    Hostname: _h,
    Domainname: _d,
    AttachStdin: _a1,
    AttachStdout: _a2,
    AttachStderr: _a3,
    Tty: _t,
    OpenStdin: _o,
    StdinOnce: _s,
    Image: _i,
    ...runConfig
  } = cfg;
  void [_st, _h, _d, _a1, _a2, _a3, _t, _o, _s, _i];
  return runConfig;
}
