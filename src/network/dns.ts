/**
 * Container DNS through aardvark-dns 1.4, driven directly: its config directory holds one file per network
 * (first line: the gateway IPs it listens on, comma-separated; then one line per container:
 * `ID IPV4S IPV6S NAMES`, each list comma-separated, an empty list an empty field), and SIGHUP makes it reload.
 * `aardvark-dns --config DIR -p 53 run` puts itself in the background and writes `DIR/aardvark.pid`. One per
 * daemon, started with the first DNS network in use and stopped when the last goes.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/atomic.ts';
import { UnavailableError, isErrno } from '../util/errors.ts';
import { KeyedMutex } from '../util/lock.ts';
import { readPidSync } from '../util/pidfile.ts';

/** One container's line in a network's file. */
export interface DnsEntry {
  id: string;
  ipv4: string[];
  ipv6: string[];
  /** Name and aliases (the first is the container's name). */
  names: string[];
}

/** A network's file: the listen line and the entries' lines. */
export function dnsFile(listen: readonly string[], entries: readonly DnsEntry[]): string {
  return `${listen.join(',')}\n${entries.map((e) => `${e.id} ${e.ipv4.join(',')} ${e.ipv6.join(',')} ${e.names.join(',')}\n`).join('')}`;
}

/** Reads a network's file back (lines that do not parse are dropped). */
export function parseDnsFile(text: string): { listen: string[]; entries: DnsEntry[] } {
  const [first = '', ...rest] = text.split('\n');
  const list = (s: string | undefined) => (s ? s.split(',').filter(Boolean) : []);
  const entries: DnsEntry[] = [];
  for (const l of rest) {
    const f = l.split(' ');
    if (f.length < 4 || !f[0]) continue;
    entries.push({ id: f[0], ipv4: list(f[1]), ipv6: list(f[2]), names: list(f[3]) });
  }
  return { listen: list(first.split(' ')[0]), entries };
}

const PID = 'aardvark.pid';

/** A DNS query for `name` (type A) as bytes. */
export function dnsQuery(name: string, id = 0x4245): Buffer {
  const labels = name
    .split('.')
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]));
  const head = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** Whether the DNS server at `server:port` answers an A query for `name` with at least one record (within 25 ms). */
function answers(server: string, port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (v: boolean) => {
      clearTimeout(t);
      s.close();
      resolve(v);
    };
    const t = setTimeout(() => done(false), 25);
    s.on('message', (m) => done(m.length >= 8 && m.readUInt16BE(6) > 0));
    s.on('error', () => done(false));
    s.send(dnsQuery(name), port, server);
  });
}

/**
 * aardvark-dns for one daemon: `dir` is its config directory (under the exec root). Its files are a few hundred
 * bytes, read and written on the calling thread (well under a millisecond): through libuv's pool, each of the ~8
 * steps of an add or remove waited behind the directory removals of the containers going at the same time, 15–30
 * ms per container in a `down`, while its network's lock was held.
 */
export class AardvarkDns {
  readonly #bin: string;
  readonly #dir: string;
  readonly #port: number;
  readonly #lock = new KeyedMutex();

  constructor(o: { binary: string; dir: string; port?: number }) {
    this.#bin = o.binary;
    this.#dir = o.dir;
    this.#port = o.port ?? 53;
  }

  /**
   * Adds (or replaces) a container's entry on a network, makes aardvark-dns serve it, and waits (up to
   * `waitMs`) until it answers for the name: aardvark drops queries while it reloads (~50 ms measured here), and a
   * container's resolver would only retry after seconds.
   */
  async add(network: string, listen: readonly string[], entry: DnsEntry, waitMs = 2000): Promise<void> {
    await this.#lock.run('dns', async () => {
      const cur = this.#read(network);
      const entries = [...(cur?.entries ?? []).filter((e) => e.id !== entry.id), entry];
      this.#write(network, dnsFile(listen, entries));
      await this.#reload();
    });
    const server = listen.find((ip) => !ip.includes(':'));
    const name = entry.names[0];
    if (!server || !name || !entry.ipv4.length || !waitMs) return;
    const until = Date.now() + waitMs;
    while (Date.now() < until) if (await answers(server, this.#port, name)) return;
  }

  /** Removes a container's entry; a network without entries loses its file, and with no file left aardvark stops. */
  async remove(network: string, containerId: string): Promise<void> {
    await this.#lock.run('dns', async () => {
      const cur = this.#read(network);
      if (!cur) return;
      const entries = cur.entries.filter((e) => e.id !== containerId);
      if (entries.length === cur.entries.length) return;
      if (entries.length) this.#write(network, dnsFile(cur.listen, entries));
      else rmSync(join(this.#dir, network), { force: true });
      await this.#reload();
    });
  }

  /** `docker rename`: the container's entries on every network answer to `name` instead of its old name. */
  async rename(containerId: string, name: string): Promise<void> {
    await this.#lock.run('dns', async () => {
      let changed = false;
      for (const network of readDir(this.#dir)) {
        if (network === PID || network.endsWith('.tmp')) continue;
        const cur = this.#read(network);
        const entry = cur?.entries.find((e) => e.id === containerId);
        if (!cur || !entry) continue;
        entry.names = [name, ...entry.names.slice(1).filter((n) => n !== name)];
        this.#write(network, dnsFile(cur.listen, cur.entries));
        changed = true;
      }
      if (changed) await this.#reload();
    });
  }

  /** The PID of the running aardvark-dns, if any. */
  pid(): number | undefined {
    let pid = 0;
    try {
      pid = readPidSync(join(this.#dir, PID));
    } catch {
      // unreadable: none
    }
    if (!pid) return undefined;
    try {
      process.kill(pid, 0);
    } catch {
      return undefined;
    }
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // gone meanwhile
    }
    return cmd.includes(this.#dir) ? pid : undefined;
  }

  /** Stops aardvark-dns (daemon stop with no DNS network in use, tests). */
  async stop(): Promise<void> {
    await this.#lock.run('dns', () => this.#stop());
  }

  #stop(): void {
    const pid = this.pid();
    if (pid) process.kill(pid, 'SIGTERM');
    rmSync(join(this.#dir, PID), { force: true });
  }

  #read(network: string): { listen: string[]; entries: DnsEntry[] } | undefined {
    try {
      return parseDnsFile(readFileSync(join(this.#dir, network), 'utf8'));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  #write(network: string, text: string): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    writeFileAtomicSync(join(this.#dir, network), text);
  }

  /** SIGHUP to the running aardvark-dns, or a start when none runs; a stop when no network file is left. */
  async #reload(): Promise<void> {
    const files = readDir(this.#dir).filter((f) => f !== PID && !f.endsWith('.tmp'));
    if (!files.length) return this.#stop();
    const pid = this.pid();
    if (pid) {
      process.kill(pid, 'SIGHUP');
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(this.#bin, ['--config', this.#dir, '-p', String(this.#port), 'run'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.once('error', (e) =>
        reject(new UnavailableError(`cannot run aardvark-dns (${this.#bin}): ${e.message}`, { cause: e })),
      );
      child.once('close', (code) => {
        const msg = err
          .split('\n')
          .filter((l) => l && !l.includes('syslog'))
          .join('; ');
        if (code === 0) resolve();
        else reject(new UnavailableError(`aardvark-dns failed to start (exit ${code}): ${msg}`));
      });
    });
  }
}

/** A directory's names; none when it cannot be read (not made yet). */
function readDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
