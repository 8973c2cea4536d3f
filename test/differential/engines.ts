/**
 * The two engines a differential run compares: a berthd (test/harness.ts) and Debian's dockerd 20.10, each on its
 * own data root, exec root, socket and pid file, each seeded with the same busybox image (built here from
 * Debian's busybox-static and loaded through `POST /images/load`, so both hold the same image ID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../../src/daemon/busybox.ts';
import { collect, image, legacyArchive, MT, sha256, tarOf } from '../fixtures.ts';
import { api, run, startDaemon, waitFor, type Daemon } from '../harness.ts';

export type EngineKind = 'berth' | 'docker';

export interface Engine {
  kind: EngineKind;
  /** The engine's own temp dir (its roots and socket live under it). */
  dir: string;
  socket: string;
  host: string;
  dataRoot: string;
  log(): string;
  /** Whether the daemon process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export const DOCKERD = '/usr/sbin/dockerd';

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

/**
 * dockerd 20.10 with no default bridge and hands off the host's firewall and forwarding. Its containerd is the
 * one dockerd starts itself under the exec root, so stopping dockerd (by its PID) stops it too.
 */
export async function startDocker(archive: Buffer): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-dref-'));
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const socket = join(dir, 'docker.sock');
  await mkdir(dataRoot);
  const config = join(dir, 'daemon.json');
  await writeFile(config, '{}\n');
  let out = '';
  const proc: ChildProcess = spawn(
    DOCKERD,
    [
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '-H',
      `unix://${socket}`,
      '--pidfile',
      join(dir, 'docker.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip-forward=false',
      '--userland-proxy=false',
      // The host's /etc/docker/daemon.json, if any, stays out of it.
      '--config-file',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    // Container mounts under the data root go with dockerd; anything left keeps rm from removing them.
    await run('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'dockerd to answer',
      async () => {
        if (proc.exitCode !== null) throw new Error(`dockerd exited with ${proc.exitCode}:\n${out}`);
        return (await api(socket, 'GET', '/_ping').catch(() => ({ status: 0 }))).status === 200;
      },
      60_000,
    );
    const e: Engine = {
      kind: 'docker',
      dir,
      socket,
      host: `unix://${socket}`,
      dataRoot,
      log: () => out,
      alive: () => proc.exitCode === null && proc.signalCode === null,
      stop,
    };
    await seed(e, archive);
    return e;
  } catch (err) {
    await stop();
    throw err;
  }
}
