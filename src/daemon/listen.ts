/**
 * Where berthd serves the API: unix sockets (mode 0660, owned by the API group) and TCP listeners, which need
 * mutual TLS unless plain TCP was asked for explicitly. Also the warnings `info` shows for an API reachable
 * without authentication.
 */
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { TlsOptions } from 'node:tls';
import { FailedPreconditionError, InvalidArgumentError } from '../util/errors.ts';
import type { DaemonConfig, Listen } from './config.ts';

/** The group that owns the socket when none is configured, if it exists (as dockerd's `docker`). */
export const DEFAULT_GROUP = 'berth';

export async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A group's ID from /etc/group, or undefined when there is no such group. */
export function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  if (/^\d+$/.test(name)) return Number(name);
  return undefined;
}

/** The socket's group ID: the configured group (which must exist), else `berth` if it exists, else root's. */
export function socketGroup(c: DaemonConfig, groupFile = '/etc/group'): { name: string; gid: number } {
  if (c.group !== undefined) {
    const gid = groupId(c.group, groupFile);
    if (gid === undefined) throw new InvalidArgumentError(`group "${c.group}" does not exist (--group)`);
    return { name: c.group, gid };
  }
  const gid = groupId(DEFAULT_GROUP, groupFile);
  return gid === undefined ? { name: 'root', gid: 0 } : { name: DEFAULT_GROUP, gid };
}

/** The TLS options of TCP listeners, or undefined for plain TCP (only when `tls` is explicitly false). */
export async function serverTLS(c: DaemonConfig): Promise<TlsOptions | undefined> {
  if (!c.tlsVerify && c.tls !== true) return undefined;
  const read = async (what: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new InvalidArgumentError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const opts: TlsOptions = { cert: await read('certificate', c.tlsCert), key: await read('key', c.tlsKey) };
  if (c.tlsVerify) {
    opts.ca = await read('CA certificate', c.tlsCaCert);
    // A client without a certificate signed by the CA is refused in the handshake, before any request.
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
  }
  return opts;
}

/** What `info` warns about, as dockerd words it: TCP listeners that let in anyone who reaches them. */
export function exposureWarnings(c: DaemonConfig, listens: Listen[]): string[] {
  const out: string[] = [];
  for (const l of listens) {
    if (l.kind !== 'tcp') continue;
    const addr = `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
    if (!c.tlsVerify && c.tls !== true)
      out.push(
        `WARNING: API is accessible on http://${addr} without encryption.\n` +
          '         Access to the remote API is equivalent to root access on the host. Refer\n' +
          "         to the 'Docker daemon attack surface' section in the documentation for\n" +
          '         more information: https://docs.docker.com/go/attack-surface/',
      );
    else if (!c.tlsVerify) out.push(`WARNING: API is accessible on https://${addr} without TLS client verification.`);
  }
  return out;
}

/** Listens on a unix socket (0660, group `gid`) or a TCP address. */
export async function listen(server: Server, l: Listen, gid: number): Promise<void> {
  if (l.kind === 'unix') {
    await mkdir(dirname(l.path), { recursive: true, mode: 0o711 });
    if (await socketInUse(l.path))
      throw new FailedPreconditionError(`another daemon is already listening on unix://${l.path}`);
    await rm(l.path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (l.kind === 'unix') server.listen(l.path, () => resolve());
    else server.listen(l.port, l.host, () => resolve());
  });
  if (l.kind === 'unix') {
    await chown(l.path, 0, gid);
    await chmod(l.path, 0o660);
  }
}
