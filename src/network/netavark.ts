/**
 * netavark 1.4 as Berth drives it: the JSON it takes on stdin (its `NetworkOptions`), the status it prints, and
 * `setup`/`teardown` of one container's network namespace. aardvark-dns is started and told of changes by
 * netavark itself (its `--config DIR/aardvark-dns` directory holds the records).
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { CanceledError, UnavailableError } from '../util/errors.ts';
import { findExecutable, isExecutable } from '../util/which.ts';

/** netavark's `Network` (one entry of `network_info`). */
export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: { subnet: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } }[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  options?: Record<string, string>;
  ipam_options: { driver: 'host-local' };
}

/** netavark's `PerNetworkOptions`. */
export interface NetavarkPerNetwork {
  interface_name: string;
  static_ips: string[];
  aliases?: string[];
  static_mac?: string;
}

/** netavark's `PortMapping`. */
export interface NetavarkPort {
  host_ip: string;
  container_port: number;
  host_port: number;
  protocol: string;
  range: number;
}

/** netavark's `NetworkOptions`: everything one `setup` or `teardown` call needs. */
export interface NetavarkInput {
  container_id: string;
  container_name: string;
  networks: Record<string, NetavarkPerNetwork>;
  network_info: Record<string, NetavarkNetwork>;
  port_mappings?: NetavarkPort[];
  dns_servers?: string[];
}

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

const CANDIDATES = ['/usr/libexec/podman', '/usr/lib/podman', '/usr/local/libexec/podman', '/usr/local/lib/podman'];

/** Finds an executable: the given path, else the podman helper directories, else $PATH. */
export function findHelper(name: string, given?: string, path = process.env.PATH ?? ''): string | undefined {
  if (given) return isExecutable(given) ? given : undefined;
  return findExecutable(name, CANDIDATES, path);
}

/** How to call netavark: its binary, aardvark-dns's, and the config directory (aardvark's records live under it). */
export interface NetavarkDriverOptions {
  netavark: string;
  aardvark?: string;
  configDir: string;
}

/** Runs netavark for one container namespace. */
export class NetavarkDriver {
  readonly #o: NetavarkDriverOptions;
  #ready = false;
  constructor(o: NetavarkDriverOptions) {
    this.#o = o;
  }

  /** `netavark setup NETNS`: creates the interfaces, firewall rules, port forwards and DNS records; returns the status. */
  async setup(netns: string, input: NetavarkInput, opts: { signal?: AbortSignal } = {}): Promise<NetavarkStatus> {
    const out = await this.#run('setup', netns, input, opts.signal);
    try {
      return JSON.parse(out) as NetavarkStatus;
    } catch {
      throw new UnavailableError(`netavark setup printed no status: ${JSON.stringify(out.slice(0, 200))}`);
    }
  }

  /** `netavark teardown NETNS`: undoes what `setup` with the same input did. */
  async teardown(netns: string, input: NetavarkInput, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#run('teardown', netns, input, opts.signal);
  }

  async #run(cmd: 'setup' | 'teardown', netns: string, input: NetavarkInput, signal?: AbortSignal): Promise<string> {
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
    if (signal?.aborted) return Promise.reject(new CanceledError(`netavark ${cmd} canceled`, { cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const child = spawn(this.#o.netavark, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const onAbort = () => child.kill('SIGKILL');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(new UnavailableError(`cannot run netavark (${this.#o.netavark}): ${e.message}`, { cause: e }));
      });
      child.stdin.on('error', () => {});
      child.stdin.end(JSON.stringify(input));
      child.once('close', (code) => {
        signal?.removeEventListener('abort', onAbort);
        const stdout = Buffer.concat(out).toString();
        if (signal?.aborted) return reject(new CanceledError(`netavark ${cmd} canceled`, { cause: signal.reason }));
        if (code === 0) return resolve(stdout);
        let message = stdout.trim() || Buffer.concat(err).toString().trim();
        try {
          message = (JSON.parse(stdout) as { error?: string }).error ?? message;
        } catch {
          // not JSON: keep the raw text
        }
        reject(new UnavailableError(`netavark ${cmd} failed (exit ${code}): ${message}`));
      });
    });
  }
}
