import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../../src/daemon/busybox.ts';
import { collect, image, legacyArchive, MT, sha256, tarOf } from '../fixtures.ts';
import { api, startDaemon, type Daemon } from '../harness.ts';
import { DOCKERD, type RefDockerd, startRefDockerd } from '../refdockerd.ts';

export type EngineKind = 'berth' | 'docker';

/** Either engine as the tests drive it: the reference dockerd's handle (its own temp dir holds its roots and socket). */
export interface Engine extends RefDockerd {
  kind: EngineKind;
}

export { DOCKERD } from '../refdockerd.ts';

/** Why the reference engine cannot run here, or undefined when it can. */
export function referenceMissing(): string | undefined {
  if (!existsSync(DOCKERD))
    return `${DOCKERD} is not installed (Debian's docker.io: scripts/setup.sh --test installs it)`;
  if (process.getuid?.() !== 0) return 'the reference dockerd needs root';
  return undefined;
}

/** The busybox image both engines are seeded with: a docker-archive tagged busybox:latest. */
export async function busyboxArchive(): Promise<Buffer> {
  const tar = await collect(busyboxRootfs('/bin/busybox'));
  const digest = sha256(tar);
  const img = image([{ tar, blob: tar, diffId: digest, digest, mediaType: MT.ociLayer }], {
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'busybox-static rootfs' }],
  });
  return tarOf(legacyArchive([{ image: img, tags: ['busybox:latest'] }]));
}

async function seed(e: Engine, archive: Buffer): Promise<void> {
  const r = await api(e.socket, 'POST', '/images/load?quiet=1', archive, { 'Content-Type': 'application/x-tar' });
  if (r.status !== 200 || r.body.includes('"error"'))
    throw new Error(`${e.kind}: loading busybox failed: ${r.status} ${r.body}`);
}

export async function startBerth(archive: Buffer): Promise<Engine> {
  const d: Daemon = await startDaemon({ seed: false });
  const e: Engine = {
    kind: 'berth',
    dir: d.dir,
    socket: d.socket,
    host: d.host,
    dataRoot: d.dataRoot,
    log: d.log,
    alive: () => d.proc.exitCode === null && d.proc.signalCode === null,
    stop: () => d.cleanup(),
  };
  await seed(e, archive);
  return e;
}

/** dockerd 20.10 (test/refdockerd.ts) without the userland proxy, seeded with the same busybox as berthd. */
export async function startDocker(archive: Buffer): Promise<Engine> {
  const ref = await startRefDockerd(await mkdtemp(join(tmpdir(), 'berth-dref-')), {
    userlandProxy: false,
    removeDir: true,
  });
  const e: Engine = { kind: 'docker', ...ref };
  try {
    await seed(e, archive);
    return e;
  } catch (err) {
    await ref.stop();
    throw err;
  }
}
