import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { InvalidArgumentError } from '../../util/errors.ts';

/**
 * Password hashes. Users' passwords are hashed with scrypt (node:crypto, run on libuv's pool so the event loop
 * keeps serving): `$scrypt$<N>$<salt b64>$<hash b64>`. htpasswd files hold bcrypt hashes (`$2y$…`), which
 * node:crypto cannot check, so they go through bcryptjs. Robot secrets are 32 random bytes: a SHA-256 of them
 * is enough (nothing to guess), and checking one costs nothing.
 */
const SCRYPT_N = 16384;
const KEY_LEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LEN, { N: n, r: 8, p: 1, maxmem: 64 << 20 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  if (password === '') throw new InvalidArgumentError('the password is empty');
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT_N);
  return `$scrypt$${SCRYPT_N}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checks a password against a hash made by `hashPassword`, a bcrypt hash, or a robot secret's hash. */
export async function checkPassword(password: string, hash: string): Promise<boolean> {
  if (hash.startsWith('$scrypt$')) {
    const [, , n, salt, key] = hash.split('$');
    const want = Buffer.from(key ?? '', 'base64');
    const got = await scryptAsync(password, Buffer.from(salt ?? '', 'base64'), Number(n));
    return want.length === got.length && timingSafeEqual(want, got);
  }
  if (/^\$2[aby]\$/.test(hash)) return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
  if (hash.startsWith('$sha256$')) {
    const want = Buffer.from(hash.slice(8), 'hex');
    const got = createHash('sha256').update(password).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  return false;
}

/** A robot's secret and the hash kept of it. */
export function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: `$sha256$${createHash('sha256').update(secret).digest('hex')}` };
}

/** A short fingerprint of a stored hash: tokens carry it, so changing a password or secret voids them. */
export function secretVersion(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 12);
}

/** An htpasswd file (`user:bcrypt-hash` lines), re-read when it changes. */
export class HtpasswdFile {
  readonly path: string;
  #mtime = -1;
  #users = new Map<string, string>();
  constructor(path: string) {
    this.path = path;
  }

  async #load(): Promise<void> {
    const st = await stat(this.path);
    if (st.mtimeMs === this.#mtime) return;
    const users = new Map<string, string>();
    for (const line of (await readFile(this.path, 'utf8')).split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      const i = t.indexOf(':');
      if (i > 0) users.set(t.slice(0, i), t.slice(i + 1));
    }
    this.#users = users;
    this.#mtime = st.mtimeMs;
  }

  async check(user: string, password: string): Promise<boolean> {
    await this.#load();
    const hash = this.#users.get(user);
    if (hash === undefined || !/^\$2[aby]\$/.test(hash)) return false;
    return checkPassword(password, hash);
  }
}
