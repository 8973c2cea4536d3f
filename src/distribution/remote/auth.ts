/**
 * Registry authentication: `WWW-Authenticate` challenges (Basic and Bearer), bearer tokens from the realm
 * (anonymous, with Basic credentials, or with an identity token as OAuth2 refresh token), cached by scope
 * until they expire, and dropped when the registry answers 401 so the next try fetches a fresh one.
 */
import { UnauthorizedError } from '../../util/errors.ts';
import type { Endpoint, Transport } from './transport.ts';
import type { RegistryAuth } from './types.ts';

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses `WWW-Authenticate` (RFC 7235): one or more challenges, each a scheme and comma-separated
 * `key=value` or `key="quoted value"` parameters.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: Challenge[] = [];
  const param = /[\s,]*([\w!#$%&'*+.^`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/y;
  const scheme = /[\s,]*([A-Za-z][\w!#$%&'*+.^`|~-]*)/y;
  let cur: Challenge | undefined;
  let pos = 0;
  while (pos < text.length) {
    param.lastIndex = pos;
    const p = cur ? param.exec(text) : null;
    if (p) {
      cur!.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      pos = param.lastIndex;
      continue;
    }
    scheme.lastIndex = pos;
    const s = scheme.exec(text);
    if (!s) break;
    cur = { scheme: s[1]!.toLowerCase(), params: {} };
    out.push(cur);
    pos = scheme.lastIndex;
  }
  return out;
}

/** Username and password (or identity token) from Docker's AuthConfig forms. */
export function credentials(auth: RegistryAuth | undefined): {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
} {
  if (!auth) return {};
  const out: { username?: string; password?: string; identityToken?: string; registryToken?: string } = {};
  if (auth.username) out.username = auth.username;
  if (auth.password) out.password = auth.password;
  if (!out.username && auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      out.username = decoded.slice(0, i);
      out.password = decoded.slice(i + 1);
    }
  }
  if (auth.identitytoken) out.identityToken = auth.identitytoken;
  if (auth.registrytoken) out.registryToken = auth.registrytoken;
  return out;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** The scope string of a repository (`repository:a/b:pull,push`). */
export function repoScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

/**
 * Authorizes requests to one endpoint: learns the challenge from the `/v2/` ping, then adds `Authorization`
 * to each request for the scopes it needs. Tokens are cached per scope set.
 */
export class Authorizer {
  readonly #transport: Transport;
  readonly #ep: Endpoint;
  readonly #creds: ReturnType<typeof credentials>;
  #challenge: Challenge | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  /** A refresh token the token service handed out (returned by login as IdentityToken). */
  refreshToken: string | undefined;

  constructor(transport: Transport, ep: Endpoint, auth: RegistryAuth | undefined) {
    this.#transport = transport;
    this.#ep = ep;
    this.#creds = credentials(auth);
  }

  get hasCredentials(): boolean {
    return Boolean(this.#creds.username || this.#creds.identityToken || this.#creds.registryToken);
  }

  /** Records the challenge of a 401 answer (Bearer preferred over Basic). */
  learn(header: string | string[] | undefined): void {
    const all = parseChallenges(header);
    this.#challenge =
      all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic') ?? this.#challenge;
  }

  get challenge(): Challenge | undefined {
    return this.#challenge;
  }

  /** Forgets cached tokens for these scopes (after a 401 with a token that should have worked). */
  invalidate(scopes: string[]): void {
    this.#tokens.delete(scopes.slice().sort().join(' '));
  }

  /** The `Authorization` header for requests needing `scopes`, or undefined when the registry asks for none. */
  async header(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const c = this.#challenge;
    if (this.#creds.registryToken) return `Bearer ${this.#creds.registryToken}`;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      if (!this.#creds.username) return undefined;
      return `Basic ${Buffer.from(`${this.#creds.username}:${this.#creds.password ?? ''}`).toString('base64')}`;
    }
    if (c.scheme !== 'bearer') return undefined;
    const key = scopes.slice().sort().join(' ');
    const cached = this.#tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.#fetchToken(c, scopes, signal);
    this.#tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  async #fetchToken(c: Challenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const realm = c.params.realm;
    if (!realm) throw new UnauthorizedError(`unauthorized: the registry's bearer challenge names no realm`);
    const service = c.params.service;
    const started = Date.now();
    let res;
    const creds = this.#creds;
    if (creds.identityToken) {
      // OAuth2 refresh-token grant, as Docker does with an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'berth',
        ...(service ? { service } : {}),
      });
      if (scopes.length) form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      res = await this.#transport.request(this.#ep, realm, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length) },
        body,
        signal,
      });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds.username) {
        url.searchParams.set('account', creds.username);
        // Docker asks for a refresh token on login (offline_token) so it can store an identity token.
        url.searchParams.set('offline_token', 'true');
        url.searchParams.set('client_id', 'berth');
      }
      const headers: Record<string, string> = {};
      if (creds.username)
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      res = await this.#transport.request(this.#ep, url.href, { headers, signal });
    }
    const text = await res.text(1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw new UnauthorizedError(`unauthorized: ${registryErrorText(text) ?? 'incorrect username or password'}`);
    }
    if (res.status !== 200)
      throw new UnauthorizedError(
        `unauthorized: the token service ${realm} answered ${res.status}${registryErrorText(text) ? `: ${registryErrorText(text)}` : ''}`,
      );
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string; refresh_token?: string };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw new UnauthorizedError(`unauthorized: the token service ${realm} sent no valid JSON`);
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new UnauthorizedError(`unauthorized: the token service ${realm} sent no token`);
    if (doc.refresh_token) this.refreshToken = doc.refresh_token;
    const lifetime = Math.max(60, doc.expires_in ?? 60) * 1000;
    const issued = doc.issued_at ? Date.parse(doc.issued_at) : NaN;
    const base = Number.isFinite(issued) && Math.abs(issued - started) < 600_000 ? issued : started;
    // Renew a little early so a token never expires in flight.
    return { token, expires: base + lifetime - Math.min(10_000, lifetime / 10) };
  }
}

/** The message of a registry's JSON error body (`{"errors":[{"code","message","detail"}]}`), if it has one. */
export function registryErrorText(text: string): string | undefined {
  try {
    const doc = JSON.parse(text) as {
      errors?: { code?: string; message?: string }[];
      details?: string;
      error?: string;
    };
    const first = doc.errors?.[0];
    if (first) {
      const code = (first.code ?? '').toLowerCase().replace(/_/g, ' ');
      const msg = first.message ?? '';
      return code && msg ? `${code}: ${msg}` : msg || code || undefined;
    }
    return doc.details ?? doc.error;
  } catch {
    const t = text.trim();
    return t && t.length < 300 ? t : undefined;
  }
}
