/** `POST /auth` (docker login): checks credentials against a registry's `/v2/`. */
import { InvalidArgumentError, UnauthorizedError } from '../../util/errors.ts';
import { registryErrorText } from './auth.ts';
import { openSession } from './client.ts';
import { Transport, endpointsFor } from './transport.ts';
import type { LoginResult, RegistryAuth, RegistryConfig } from './types.ts';

/** Docker Hub's server address, as `docker login` sends it. */
const HUB_ADDRESSES = new Set(['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io']);

/** The registry name (`host[:port]`) of a server address such as `https://host:5000/v2/` or `host:5000`. */
export function registryOfAddress(address: string | undefined): string {
  const a = (address ?? '').trim();
  if (a === '' || HUB_ADDRESSES.has(a)) return 'docker.io';
  const host = a.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
  if (!host || /[\s@]/.test(host)) throw new InvalidArgumentError(`invalid registry address "${address}"`);
  return HUB_ADDRESSES.has(host) ? 'docker.io' : host;
}

/**
 * Checks credentials as `docker login` does: pings `/v2/`; with a Basic challenge, repeats it with the
 * credentials; with a Bearer challenge, asks the realm for a token (no scope) with them. Resolves with
 * `Login Succeeded` (and the identity token a token service handed out), or rejects with UnauthorizedError.
 * The password never appears in a message.
 */
export async function checkLogin(registry: RegistryConfig, auth: RegistryAuth): Promise<LoginResult> {
  const name = registryOfAddress(auth.serveraddress);
  const transport = new Transport(registry);
  try {
    const session = await openSession(transport, endpointsFor(registry, name, false), auth);
    const c = session.authorizer.challenge;
    if (!c) return { Status: 'Login Succeeded' };
    if (!session.authorizer.hasCredentials)
      throw new UnauthorizedError('unauthorized: a username and password are required');
    if (c.scheme === 'bearer') {
      await session.authorizer.header([]);
      const token = session.authorizer.refreshToken;
      return token ? { Status: 'Login Succeeded', IdentityToken: token } : { Status: 'Login Succeeded' };
    }
    const res = await session.request('/v2/', { scopes: [] });
    const text = await res.text(1 << 16).catch(() => '');
    if (res.status >= 200 && res.status < 300) return { Status: 'Login Succeeded' };
    const detail = registryErrorText(text);
    throw new UnauthorizedError(
      `unauthorized: login attempt to ${session.endpoint.base}/v2/ failed with status: ${res.status}${detail ? ` (${detail})` : ''}`,
    );
  } finally {
    transport.close();
  }
}
