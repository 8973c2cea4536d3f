/** Who made a request, once its credentials were checked. */
export interface Principal {
  /** The user or robot name; '' for anonymous. */
  name: string;
  kind: 'anonymous' | 'user' | 'robot';
  /** A registry administrator: every action on every repository and the whole admin API. */
  admin: boolean;
  /** Set when the request carried a bearer token: what the token grants, repository name → actions. */
  granted?: ReadonlyMap<string, ReadonlySet<string>>;
}

export type Action = 'pull' | 'push' | 'delete';

export const ANONYMOUS: Principal = { name: '', kind: 'anonymous', admin: false };

/**
 * Authentication and authorization of the distribution API, in one of three modes: `none` (everyone may do
 * everything), `htpasswd` (Basic auth against a file; any valid user may do everything) and `token` (users,
 * robots, projects and roles from the metadata; bearer tokens from the registry's own token service).
 */
export interface AuthGate {
  readonly mode: 'none' | 'htpasswd' | 'token';
  /** The principal behind an Authorization header; UNAUTHORIZED when credentials are given and wrong. */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** Passes when `p` may do `action` on `repo`; UNAUTHORIZED (anonymous, or a token lacking it) or DENIED. */
  require(p: Principal, repo: string, action: Action): Promise<void>;
  /** Whether `p` may do `action` on `repo`, without throwing. */
  allows(p: Principal, repo: string, action: Action): Promise<boolean>;
  /** `/v2/` and the catalog: UNAUTHORIZED unless authenticated (modes with auth) . */
  requireLogin(p: Principal): void;
  /** The WWW-Authenticate value for a 401, given the base URL the client used and the scope it lacked. */
  challenge(baseUrl: string, scope?: string): string | undefined;
}

/** `--auth none`: no credentials asked, everything allowed. */
export class OpenGate implements AuthGate {
  readonly mode = 'none';
  async authenticate(): Promise<Principal> {
    return ANONYMOUS;
  }
  async require(): Promise<void> {}
  async allows(): Promise<boolean> {
    return true;
  }
  requireLogin(): void {}
  challenge(): string | undefined {
    return undefined;
  }
}
