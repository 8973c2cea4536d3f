import { createHash } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import { ANONYMOUS, type AuthGate, type Principal } from './gate.ts';
import type { HtpasswdFile } from './passwords.ts';
import { parseBasic } from './token.ts';

const CACHE_MS = 10_000;

/**
 * `--auth htpasswd=FILE`: Basic auth against an htpasswd file (bcrypt), as distribution's htpasswd mode: a valid
 * user may do everything, nobody else anything. Checked credentials are remembered for ten seconds (bcrypt is slow
 * by design, and every request carries them), and requests that bring the same ones while they are being checked
 * wait for that check (a client's first requests come several at once: each would run bcrypt).
 */
export class HtpasswdGate implements AuthGate {
  readonly mode = 'htpasswd';
  readonly #file: HtpasswdFile;
  readonly #realm: string;
  /** Credentials checked, or being checked (the first requests of a client come several at once): the user or a refusal. */
  readonly #checked = new Map<string, { at: number; ok: Promise<boolean> }>();

  constructor(file: HtpasswdFile, realm: string) {
    this.#file = file;
    this.#realm = realm;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) return ANONYMOUS;
    const creds = parseBasic(header);
    if (!creds) throw new RegistryError('UNAUTHORIZED', 'Basic credentials required');
    const key = createHash('sha256').update(header).digest('base64');
    const now = Date.now();
    let c = this.#checked.get(key);
    if (!c || now - c.at >= CACHE_MS) {
      if (this.#checked.size > 10_000) this.#checked.clear();
      const ok = this.#file.check(creds.user, creds.password);
      const entry = { at: now, ok };
      this.#checked.set(key, entry);
      // A refusal or a failure is not remembered: the next request checks again.
      ok.then(
        (yes) => yes || this.#forget(key, entry),
        () => this.#forget(key, entry),
      );
      c = entry;
    }
    if (!(await c.ok)) throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
    return { name: creds.user, kind: 'user', admin: true };
  }

  #forget(key: string, entry: { at: number; ok: Promise<boolean> }): void {
    if (this.#checked.get(key) === entry) this.#checked.delete(key);
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
