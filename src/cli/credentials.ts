import { dirname, join } from 'node:path';
import { BerthError, errorMessage } from '../util/errors.ts';

// node:fs's synchronous read rather than node:fs/promises, and node:child_process and the atomic writer only when a
// helper runs or the file is written: every `pull`, `push` and `run` reads this file, and node:fs/promises (with the
// readline and file-watching modules it loads) and node:child_process (with dgram) cost it ~3-5 ms of CPU at start
// for nothing (bench/README.md, "Data path"). The read is synchronous, as the docker CLI's is: an asynchronous one
// was the only thing on `berth pull`'s path that started libuv's thread pool (four threads; bench/README.md, Start
// path), for two small files read before the command has anything else to do.
const fs = process.getBuiltinModule('node:fs');
/** The home directory from the system, when $HOME is not set (node:os is not loaded otherwise). */
const home = (): string => process.getBuiltinModule('node:os').homedir();

/**
 * Registry credentials on the client side, as the docker CLI keeps them: a `config.json` with `auths`
 * (`{"host": {"auth": base64("user:pass")}}` or an `identitytoken`), `credsStore` and `credHelpers` naming
 * `docker-credential-<name>` programs. Berth's own file is `$BERTH_CONFIG/config.json` (default
 * `~/.berth/config.json`, mode 0600, written atomically); `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`) is read too, so a docker user's logins and helpers work as they are. Writes go to
 * Berth's file only. A password is never printed.
 */

/** Docker Hub's key in config files (docker's `registry.IndexServer`). */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export interface AuthEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress?: string;
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export function berthConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.BERTH_CONFIG || join(env.HOME || home(), '.berth'), 'config.json');
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || home(), '.docker'), 'config.json');
}

/** The key a registry is stored under: Docker Hub's legacy URL, else the bare `host[:port]`. */
export function registryKey(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === '' || host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io')
    return DOCKER_HUB_KEY;
  return host;
}

async function readConfig(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BerthError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  if (text.trim() === '') return {};
  try {
    const obj = JSON.parse(text) as unknown;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('not a JSON object');
    return obj as ConfigFile;
  } catch (err) {
    throw new BerthError(`loading config file: ${path}: ${errorMessage(err)}`);
  }
}

/** Writes the config file atomically with mode 0600 (temp file, fsync, rename). */
async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await fs.promises.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { writeFileAtomic } = await import('../util/atomic.ts');
  await writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, {
    tmp: `${path}.${process.pid}.tmp`,
    mode: 0o600,
    fsync: true,
  });
}

function helperFor(config: ConfigFile | undefined, key: string): string | undefined {
  return (
    config?.credHelpers?.[key] ??
    config?.credHelpers?.[key.replace(/^https?:\/\//, '')] ??
    (config?.credsStore || undefined)
  );
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; resolves with its stdout. */
function runHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new BerthError(`error getting credentials - err: ${errorMessage(e)}, out: \`\``)));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new BerthError(
            `error ${action === 'get' ? 'getting' : action === 'store' ? 'storing' : 'erasing'} credentials - err: exit status ${code}, out: \`${(out || err).trim()}\``,
          ),
        );
    });
    // A helper may exit without reading its input (a `get` that fails at once): its exit status is the answer,
    // so a broken pipe on the way in is not an error of its own.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

function decodeAuth(auth: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) throw new BerthError('invalid auth configuration file');
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

async function fromConfig(
  config: ConfigFile | undefined,
  key: string,
  env: NodeJS.ProcessEnv,
): Promise<AuthEntry | undefined> {
  if (config === undefined) return undefined;
  const helper = helperFor(config, key);
  if (helper !== undefined) {
    try {
      const out = await runHelper(helper, 'get', key, env);
      const got = JSON.parse(out) as { Username?: string; Secret?: string };
      if (!got.Secret) return undefined;
      return got.Username === '<token>'
        ? { identitytoken: got.Secret, serveraddress: key }
        : { username: got.Username ?? '', password: got.Secret, serveraddress: key };
    } catch (err) {
      if (/credentials not found/i.test(errorMessage(err))) return undefined;
      throw err;
    }
  }
  const entry =
    config.auths?.[key] ??
    (key === DOCKER_HUB_KEY ? undefined : (config.auths?.[`https://${key}`] ?? config.auths?.[`http://${key}`]));
  if (entry === undefined) return undefined;
  const out: AuthEntry = { serveraddress: key };
  if (entry.auth) Object.assign(out, decodeAuth(entry.auth));
  if (entry.username) out.username = entry.username;
  if (entry.password) out.password = entry.password;
  if (entry.identitytoken) out.identitytoken = entry.identitytoken;
  return out.username !== undefined || out.identitytoken !== undefined ? out : undefined;
}

/** The stored credentials for a registry: Berth's config first, then Docker's. */
export async function lookupAuth(server: string, env: NodeJS.ProcessEnv = process.env): Promise<AuthEntry | undefined> {
  const key = registryKey(server);
  return (
    (await fromConfig(await readConfig(berthConfigPath(env)), key, env)) ??
    (await fromConfig(await readConfig(dockerConfigPath(env)), key, env))
  );
}

/**
 * Stores credentials in Berth's config (or its credential helper). With an identity token, no password is kept.
 * Answers the config file's path and the helper that holds the secret, if one does.
 */
export async function storeAuth(
  server: string,
  entry: AuthEntry,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path: string; helper: string | undefined }> {
  const key = registryKey(server);
  const path = berthConfigPath(env);
  const config = (await readConfig(path)) ?? {};
  const helper = helperFor(config, key);
  const username = entry.identitytoken ? '<token>' : (entry.username ?? '');
  const secret = entry.identitytoken ?? entry.password ?? '';
  if (helper !== undefined) {
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }), env);
    config.auths ??= {};
    config.auths[key] = {};
  } else {
    config.auths ??= {};
    config.auths[key] = entry.identitytoken
      ? { auth: Buffer.from(`${entry.username ?? ''}:`).toString('base64'), identitytoken: entry.identitytoken }
      : { auth: Buffer.from(`${entry.username ?? ''}:${entry.password ?? ''}`).toString('base64') };
  }
  await writeConfig(path, config);
  return { path, helper };
}

/** Removes stored credentials; false when there were none in Berth's config. */
export async function eraseAuth(server: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const key = registryKey(server);
  const path = berthConfigPath(env);
  const config = await readConfig(path);
  if (config === undefined) return false;
  const helper = helperFor(config, key);
  const had = config.auths?.[key] !== undefined;
  if (helper !== undefined) await runHelper(helper, 'erase', key, env).catch(() => {});
  if (!had) return false;
  delete config.auths![key];
  await writeConfig(path, config);
  return true;
}

/** The `X-Registry-Auth` header value: base64url of the JSON auth config (docker's `EncodeAuthConfig`). */
export function encodeAuthHeader(entry: AuthEntry | undefined): string | undefined {
  if (entry === undefined) return undefined;
  const body: AuthEntry = {};
  if (entry.username !== undefined) body.username = entry.username;
  if (entry.password !== undefined) body.password = entry.password;
  if (entry.identitytoken !== undefined) body.identitytoken = entry.identitytoken;
  if (entry.serveraddress !== undefined) body.serveraddress = entry.serveraddress;
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}
