/**
 * The reference engine the peer and differential tests compare with: Debian's dockerd 20.10 on its own data root,
 * exec root, socket and pid file, with no default bridge and hands off the host's firewall and forwarding. Its
 * containerd is the one dockerd starts under the exec root, so stopping dockerd (by its PID) stops it too.
 *
 * Stopping also removes what dockerd leaves on the host by design: it keeps its user networks across restarts, so
 * their bridges (`br-<id>`) stay after it exits, and its data root stays mounted. Both are the test's to remove.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, run, waitFor } from './harness.ts';

export const DOCKERD = '/usr/sbin/dockerd';

export interface RefDockerd {
  dir: string;
  socket: string;
  host: string;
  dataRoot: string;
  /** What dockerd printed so far. */
  log(): string;
  alive(): boolean;
  /** Stops dockerd, removes the bridges of the networks it made and its mounts, and with `removeDir` its folder. */
  stop(): Promise<void>;
}

export interface RefOptions {
  /** dockerd's userland proxy for published ports (default on, as dockerd's own default). */
  userlandProxy?: boolean;
  /** Remove `dir` after stopping (default false: the caller owns it). */
  removeDir?: boolean;
}

export async function startRefDockerd(dir: string, opts: RefOptions = {}): Promise<RefDockerd> {
  const dataRoot = join(dir, 'data');
  const socket = join(dir, 'd.sock');
  await mkdir(dataRoot, { recursive: true });
  // The host's /etc/docker/daemon.json, if any, stays out of it.
  const config = join(dir, 'daemon.json');
  await writeFile(config, '{}\n');
  let out = '';
  const proc: ChildProcess = spawn(
    DOCKERD,
    [
      ...['--data-root', dataRoot, '--exec-root', join(dir, 'exec'), '-H', `unix://${socket}`],
      ...['--pidfile', join(dir, 'd.pid'), '--config-file', config],
      ...['--containerd-namespace', `berthref${process.pid}`],
      ...['--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false'],
      ...(opts.userlandProxy === false ? ['--userland-proxy=false'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const stop = async () => {
    const bridges = alive() ? await bridgesOf(socket) : [];
    if (alive()) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    for (const name of bridges) await run('ip', ['link', 'delete', name, 'type', 'bridge']);
    // Container mounts and the data root's own mount outlive dockerd; anything left keeps rm from removing them.
    await run('sh', ['-c', `grep -o ' ${dir}/[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    if (opts.removeDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'dockerd to answer',
      async () => {
        if (!alive()) throw new Error(`dockerd exited with ${proc.exitCode}:\n${out}`);
        return (await api(socket, 'GET', '/_ping').catch(() => ({ status: 0 }))).status === 200;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, socket, host: `unix://${socket}`, dataRoot, log: () => out, alive, stop };
}

/** The host interfaces of dockerd's bridge networks: the name it was given, else `br-` and the ID's first 12. */
async function bridgesOf(socket: string): Promise<string[]> {
  const r = await api(socket, 'GET', '/networks').catch(() => undefined);
  if (r?.status !== 200) return [];
  const names: string[] = [];
  for (const n of JSON.parse(r.body) as { Id: string; Driver: string; Options?: Record<string, string> }[]) {
    if (n.Driver !== 'bridge') continue;
    names.push(n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`);
  }
  return names;
}
