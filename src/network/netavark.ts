/**
 * netavark 1.4 as a network backend: `setup`/`teardown` of one container's network namespace, the input passed on
 * stdin as it is (a `ContainerNetworks` is netavark's `NetworkOptions`), the status it prints. aardvark-dns is
 * started and told of changes by netavark itself (its `--config DIR/aardvark-dns` directory holds the records).
 *
 * netavark removes a network's port-forwarding chain (`NETAVARK-DN-<hash>`, nat table) only in a teardown that both
 * is the network's last (its bridge goes) and has port mappings: when the last container with a published port
 * goes before one without, the chain stays behind, empty and unreferenced. So after a teardown that took a
 * network's bridge, the backend deletes that network's chain itself; the kernel refuses to delete a chain that holds
 * rules or is jumped to, so a chain some other user of the same network name (another daemon, Podman) still fills
 * stays.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { CanceledError, UnavailableError } from '../util/errors.ts';
import { type ProcessResult, runProcess } from '../util/process.ts';
import type { ContainerNetworks, NetworkBackend } from './backend.ts';
import { findExecutable, isExecutable } from '../util/which.ts';

/** netavark's `StatusBlock` per network, as `setup` prints it. */
export type NetavarkStatus = Record<
  string,
  {
    dns_search_domains?: string[] | null;
    dns_server_ips?: string[] | null;
    interfaces?: Record<
      string,
      { mac_address: string; subnets?: { ipnet: string; gateway?: string | null }[] | null }
    > | null;
  }
>;

/**
 * netavark's name for a network's port-forwarding chain: `NETAVARK-DN-` and the first 13 hex digits (upper case) of
 * the SHA-512 of the network's name (netavark 1.4's `create_network_hash`).
 */
export function dnatChain(networkName: string): string {
  return `NETAVARK-DN-${createHash('sha512').update(networkName).digest('hex').slice(0, 13).toUpperCase()}`;
}

const CANDIDATES = ['/usr/libexec/podman', '/usr/lib/podman', '/usr/local/libexec/podman', '/usr/local/lib/podman'];

/** Finds an executable: the given path, else the podman helper directories, else $PATH. */
export function findHelper(name: string, given?: string, path = process.env.PATH ?? ''): string | undefined {
  if (given) return isExecutable(given) ? given : undefined;
  return findExecutable(name, CANDIDATES, path);
}

/**
 * How to call netavark: its binary (undefined when none is installed: every call then fails as Unavailable),
 * aardvark-dns's, and the config directory (aardvark's records live under it).
 */
export interface NetavarkOptions {
  netavark: string | undefined;
  aardvark?: string | undefined;
  configDir: string;
}

/** The netavark backend: runs netavark for one container namespace per call. */
export class NetavarkBackend implements NetworkBackend {
  readonly name = 'netavark' as const;
  readonly #o: NetavarkOptions;
  #ready = false;
  constructor(o: NetavarkOptions) {
    this.#o = o;
  }

  /** `netavark setup NETNS`: creates the interfaces, firewall rules, port forwards and DNS records; returns the status. */
  async setup(netns: string, input: ContainerNetworks, opts: { signal?: AbortSignal } = {}): Promise<NetavarkStatus> {
    const out = await this.#run('setup', netns, input, opts.signal);
    try {
      return JSON.parse(out) as NetavarkStatus;
    } catch {
      throw new UnavailableError(`netavark setup printed no status: ${JSON.stringify(out.slice(0, 200))}`);
    }
  }

  /**
   * `netavark teardown NETNS`: undoes what `setup` with the same input did; then, for each network whose bridge it
   * removed, the port-forwarding chain netavark may have left (see the head of this file).
   */
  async teardown(netns: string, input: ContainerNetworks, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#run('teardown', netns, input, opts.signal);
    for (const n of Object.values(input.network_info)) {
      if (existsSync(`/sys/class/net/${n.network_interface}`)) continue; // other endpoints: netavark kept it in use
      await dropChain('iptables', dnatChain(n.name));
      if (n.subnets.some((s) => s.subnet.includes(':'))) await dropChain('ip6tables', dnatChain(n.name));
    }
  }

  async #run(
    cmd: 'setup' | 'teardown',
    netns: string,
    input: ContainerNetworks,
    signal?: AbortSignal,
  ): Promise<string> {
    const netavark = this.#o.netavark;
    if (!netavark)
      throw new UnavailableError(
        'netavark not found: install it (Debian package netavark) or set the "netavark" daemon option',
      );
    // netavark makes `<config>/aardvark-dns` but not its parent.
    if (!this.#ready) {
      await mkdir(this.#o.configDir, { recursive: true, mode: 0o700 });
      this.#ready = true;
    }
    const args = [
      '--config',
      this.#o.configDir,
      ...(this.#o.aardvark ? ['--aardvark-binary', this.#o.aardvark] : []),
      cmd,
      netns,
    ];
    let r: ProcessResult;
    try {
      // Aborted: SIGTERM and SIGKILL at once, as it could not be made to stop half-way in any better state.
      r = await runProcess(netavark, args, {
        input: JSON.stringify(input),
        ...(signal ? { signal } : {}),
        killGraceMs: 0,
      });
    } catch (e) {
      if (e instanceof CanceledError) throw new CanceledError(`netavark ${cmd} canceled`, { cause: signal?.reason });
      throw new UnavailableError(`cannot run netavark (${netavark}): ${(e as Error).message}`, { cause: e });
    }
    if (r.code === 0) return r.stdout;
    let message = r.stdout.trim() || r.stderr.trim();
    try {
      message = (JSON.parse(r.stdout) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    throw new UnavailableError(`netavark ${cmd} failed (exit ${r.code}): ${message}`);
  }
}

/**
 * `iptables -t nat -X CHAIN`: deletes the chain if it exists, is empty and nothing jumps to it (the kernel refuses
 * otherwise, and then the chain stays: not an error).
 */
async function dropChain(cmd: 'iptables' | 'ip6tables', chain: string): Promise<void> {
  await runProcess(cmd, ['-w', '-t', 'nat', '-X', chain]).catch(() => {});
}
