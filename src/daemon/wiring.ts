import type { Archives } from '../api/index.ts';
import { importRootfs, loadArchive, saveArchive } from '../distribution/index.ts';
import { parseReference } from '../oci/reference.ts';
import { errorMessage } from '../util/errors.ts';
import { busyboxRootfs } from './busybox.ts';
import type { Engine } from './engine.ts';
import type { Logger } from './log.ts';

/** The archive operations (src/distribution) bound to an engine, as the image handlers call them. */
export function archivesFor(engine: Engine): Archives {
  const deps = { content: engine.content, images: engine.images };
  return {
    load: (source, opts) => loadArchive(deps, source, opts),
    save: async (refs, opts) => saveArchive(deps, refs, opts),
    importRootfs: (source, opts) =>
      importRootfs(deps, source, {
        ...(opts.tag !== undefined ? { tag: parseReference(opts.tag) } : {}),
        changes: opts.changes,
        ...(opts.message !== undefined ? { message: opts.message } : {}),
        signal: opts.signal,
      }),
  };
}

/** First start: make `busybox:latest` from Debian's busybox-static, since no registry is reachable. */
export async function seedBusybox(engine: Engine, log: Logger): Promise<void> {
  const path = engine.config.busyboxPath;
  try {
    const img = await importRootfs({ content: engine.content, images: engine.images }, busyboxRootfs(path), {
      tag: parseReference('busybox:latest'),
      changes: ['CMD ["sh"]'],
      message: `Created by berthd from ${path} (Debian busybox-static)`,
    });
    log.info(`created busybox:latest (${img.record.configDigest.slice(7, 19)}) from ${path}`);
  } catch (err) {
    log.warn(`could not create busybox:latest from ${path}: ${errorMessage(err)} (install Debian's busybox-static)`);
  }
}
