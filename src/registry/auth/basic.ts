import { createHash } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import { ANONYMOUS, type AuthGate, type Principal } from './gate.ts';
import type { HtpasswdFile } from './passwords.ts';
import { parseBasic } from './token.ts';

const CACHE_MS = 10_000;

/**
 * `--auth htpasswd=FILE`: Basic auth against an htpasswd file (bcrypt), as distribution's htpasswd mode: a valid
 * user may do everything, nobody else anything. Checked credentials are remembered for ten seconds (bcrypt is slow
 * by design, and every request carries them).
 */
export class HtpasswdGate implements AuthGate {
  readonly mode = 'htpasswd';
  readonly #file: HtpasswdFile;
  readonly #realm: string;
  readonly #checked = new Map<string, { at: number; user: string }>();

  constructor(file: HtpasswdFile, realm: string) {
    this.#file = file;
    this.#realm = realm;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) return ANONYMOUS;
    const creds = parseBasic(header);
    if (!creds) throw new RegistryError('UNAUTHORIZED', 'Basic credentials required');
    const key = createHash('sha256').update(header).digest('base64');
    const c = this.#checked.get(key);
    const now = Date.now();
    if (c && now - c.at < CACHE_MS) return { name: c.user, kind: 'user', admin: true };
    if (!(await this.#file.check(creds.user, creds.password)))
      throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
    if (this.#checked.size > 10_000) this.#checked.clear();
    this.#checked.set(key, { at: now, user: creds.user });
    return { name: creds.user, kind: 'user', admin: true };
  }

  async require(p: Principal): Promise<void> {
    this.requireLogin(p);
  }

  async allows(p: Principal): Promise<boolean> {
    return p.kind !== 'anonymous';
  }

  requireLogin(p: Principal): void {
    if (p.kind === 'anonymous') throw new RegistryError('UNAUTHORIZED', 'authentication required');
  }

  challenge(): string {
    return `Basic realm="${this.#realm}"`;
  }
}
