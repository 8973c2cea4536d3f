import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../errors.ts';
import type { Handler } from '../http/server.ts';
import { sendError, sendJSON } from '../http/respond.ts';
import { isRepositoryName } from '../names.ts';
import { type Action, ANONYMOUS, type AuthGate, type Principal } from './gate.ts';
import type { JwtClaims, TokenKey } from './jwt.ts';
import { secretVersion } from './passwords.ts';
import { type Policy, principalOf } from './policy.ts';

interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenOptions {
  policy: Policy;
  key: TokenKey;
  /** The service name (`service=` in challenges, the tokens' audience and issuer). */
  service: string;
  /** Access token lifetime, seconds. */
  ttl: number;
}

const REFRESH_TTL = 30 * 86_400;
const unauthorized = (message: string) => new RegistryError('UNAUTHORIZED', message);

/** Decodes `Basic base64(user:password)`; undefined when the header is not Basic. */
export function parseBasic(header: string): { user: string; password: string } | undefined {
  if (!/^basic /i.test(header)) return undefined;
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) throw unauthorized('malformed Basic credentials');
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/**
 * `--auth token`: Docker's token flow. A 401 names `/token` as the realm; the client gets a JWT there for the
 * scopes it needs (anonymously, or with Basic credentials, or with a refresh token), then sends it as a bearer
 * token. Basic credentials are also accepted on the API itself. Every token is checked against the account as it
 * is now: a removed robot, an expired one, or a changed password voids the tokens issued before.
 */
export class TokenGate implements AuthGate {
  readonly mode = 'token';
  readonly #o: TokenOptions;
  readonly #verified = new Map<
    string,
    { claims: JwtClaims; granted: Map<string, Set<string>>; principal?: Principal; checkedAt: number; gen: number }
  >();

  constructor(o: TokenOptions) {
    this.#o = o;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) return ANONYMOUS;
    const basic = parseBasic(header);
    if (basic) {
      const key = createHash('sha256').update(header).digest('base64');
      const account = await this.#o.policy.login(basic.user, basic.password, key);
      if (!account) throw unauthorized('invalid username or password');
      return principalOf(account);
    }
    if (!/^bearer /i.test(header)) throw unauthorized('unsupported authorization scheme');
    const token = header.slice(7).trim();
    let v = this.#verified.get(token);
    const now = Math.floor(Date.now() / 1000);
    if (!v || v.claims.exp <= now) {
      const claims = this.#o.key.verify(token, now);
      if (!claims || claims.aud !== this.#o.service || claims.typ !== 'access')
        throw unauthorized('invalid or expired token');
      const granted = new Map<string, Set<string>>();
      for (const a of (claims.access as AccessEntry[] | undefined) ?? []) {
        if (a.type !== 'repository') continue;
        const set = granted.get(a.name) ?? new Set<string>();
        for (const x of a.actions) set.add(x);
        granted.set(a.name, set);
      }
      v = { claims, granted, checkedAt: 0, gen: -1 };
      if (this.#verified.size > 10_000) this.#verified.clear();
      this.#verified.set(token, v);
    }
    // The account behind the token is looked at again at most once a second (revocation, expiry).
    const ms = Date.now();
    const gen = this.#o.policy.generation;
    if (v.principal && v.gen === gen && ms - v.checkedAt <= 1000) return v.principal;
    if (v.claims.sub === '') v.principal = { ...ANONYMOUS, granted: v.granted };
    else {
      const account = await this.#o.policy.account(v.claims.sub);
      if (!account || secretVersion(account.secret) !== v.claims.sv) {
        this.#verified.delete(token);
        throw unauthorized('the token was revoked');
      }
      v.principal = { ...principalOf(account), granted: v.granted };
    }
    v.checkedAt = ms;
    v.gen = gen;
    return v.principal;
  }

  async require(p: Principal, repo: string, action: Action): Promise<void> {
    const now = await this.#o.policy.allowed(p, repo);
    const inToken = p.granted === undefined || p.granted.get(repo)?.has(action) || p.granted.get(repo)?.has('*');
    if (inToken && now.has(action)) return;
    if ((p.kind === 'anonymous' && !now.has(action)) || (p.granted !== undefined && now.has(action)))
      throw unauthorized(`authentication required for ${action} on ${repo}`);
    throw new RegistryError('DENIED', `requested access to the resource is denied: ${action} on ${repo}`);
  }

  async allows(p: Principal, repo: string, action: Action): Promise<boolean> {
    return (await this.#o.policy.allowed(p, repo)).has(action);
  }

  requireLogin(p: Principal): void {
    if (p.kind === 'anonymous' && p.granted === undefined) throw unauthorized('authentication required');
  }

  challenge(base: string, scope?: string): string {
    return `Bearer realm="${base}/token",service="${this.#o.service}"${scope ? `,scope="${scope}"` : ''}`;
  }

  /** Grants the requested scopes as far as `p` is allowed them now. */
  async grant(p: Principal, scopes: string[]): Promise<AccessEntry[]> {
    const out: AccessEntry[] = [];
    for (const scope of scopes) {
      const parts = scope.split(':');
      if (parts.length < 3) continue;
      const type = parts[0]!.replace(/\(.*\)$/, '');
      const actions = parts[parts.length - 1]!.split(',').filter((a) => a !== '');
      const name = parts.slice(1, -1).join(':');
      if (type === 'registry' && name === 'catalog') {
        if (p.kind !== 'anonymous') out.push({ type, name, actions: ['*'] });
        continue;
      }
      if (type !== 'repository' || !isRepositoryName(name)) continue;
      const allowed = await this.#o.policy.allowed(p, name);
      const want = actions.includes('*') ? ['pull', 'push', 'delete'] : actions;
      const granted = want.filter((a) => allowed.has(a as Action));
      out.push({ type, name, actions: granted });
    }
    return out;
  }

  issue(p: Principal, access: AccessEntry[], sv: string | undefined, typ: 'access' | 'refresh'): string {
    const now = Math.floor(Date.now() / 1000);
    return this.#o.key.sign({
      iss: this.#o.service,
      sub: p.name,
      aud: this.#o.service,
      exp: now + (typ === 'access' ? this.#o.ttl : REFRESH_TTL),
      nbf: now - 5,
      iat: now,
      jti: randomBytes(12).toString('base64url'),
      typ,
      ...(sv ? { sv } : {}),
      ...(typ === 'access' ? { access } : {}),
    });
  }

  /** The account behind a refresh token, or undefined when it is not one or was voided. */
  async refresh(token: string): Promise<Principal | undefined> {
    const claims = this.#o.key.verify(token);
    if (claims?.typ !== 'refresh' || claims.aud !== this.#o.service || !claims.sub) return undefined;
    const account = await this.#o.policy.account(claims.sub);
    if (!account || secretVersion(account.secret) !== claims.sv) return undefined;
    return principalOf(account);
  }

  get policy(): Policy {
    return this.#o.policy;
  }
  get ttl(): number {
    return this.#o.ttl;
  }
}

/** `/token`: GET (Basic or anonymous, Docker's flow) and POST (OAuth2 password and refresh_token grants). */
export class TokenService implements Handler {
  readonly #gate: TokenGate;
  constructor(gate: TokenGate) {
    this.#gate = gate;
  }

  /**
   * With `mirror` (the request came as `/<project>/token`, the realm of a mirror path's challenges), the
   * repositories the scopes name are the project's: `repository:<repo>` is granted as `repository:<project>/<repo>`.
   */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    _path: string,
    query: URLSearchParams,
    _base?: string,
    mirror?: string,
  ): Promise<void> {
    try {
      let params = query;
      if (req.method === 'POST') {
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of req) {
          n += (c as Buffer).length;
          if (n > 64 << 10) throw new RegistryError('UNSUPPORTED', 'token request too large', { status: 400 });
          chunks.push(c as Buffer);
        }
        params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      } else if (req.method !== 'GET') {
        throw new RegistryError('UNSUPPORTED', `method ${req.method} is not allowed on /token`);
      }
      const scopes = params
        .getAll('scope')
        .flatMap((s) => s.split(' '))
        .filter((s) => s !== '')
        .map((s) => (mirror !== undefined && s.startsWith('repository:') ? `repository:${mirror}/${s.slice(11)}` : s));
      let p: Principal = ANONYMOUS;
      const grant = params.get('grant_type');
      if (req.method === 'POST' && grant === 'refresh_token') {
        const r = await this.#gate.refresh(params.get('refresh_token') ?? '');
        if (!r) throw unauthorized('invalid or expired refresh token');
        p = r;
      } else if (req.method === 'POST' && grant === 'password') {
        const a = await this.#gate.policy.login(params.get('username') ?? '', params.get('password') ?? '');
        if (!a) throw unauthorized('invalid username or password');
        p = principalOf(a);
      } else if (req.method === 'POST') {
        throw new RegistryError('UNSUPPORTED', `unsupported grant_type "${grant ?? ''}"`, { status: 400 });
      } else if (req.headers.authorization) {
        p = await this.#gate.authenticate(req.headers.authorization);
        if (p.granted) throw unauthorized('a token cannot be exchanged for a token');
      }
      const account = p.kind === 'anonymous' ? undefined : await this.#gate.policy.account(p.name);
      const sv = account ? secretVersion(account.secret) : undefined;
      const access = await this.#gate.grant(p, scopes);
      const token = this.#gate.issue(p, access, sv, 'access');
      const body: Record<string, unknown> = {
        token,
        access_token: token,
        expires_in: this.#gate.ttl,
        issued_at: new Date().toISOString(),
      };
      const offline = params.get('offline_token') === 'true' || params.get('access_type') === 'offline';
      if (account && (offline || grant === 'password')) body.refresh_token = this.#gate.issue(p, [], sv, 'refresh');
      if (grant) body.scope = scopes.join(' ');
      sendJSON(req, res, 200, body, { 'Cache-Control': 'no-store' });
    } catch (err) {
      sendError(req, res, err);
    }
  }
}
