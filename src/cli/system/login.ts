import type { Readable } from 'node:stream';
import type { EngineClient } from '../../client/index.ts';
import { BerthError, InvalidArgumentError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { DOCKER_HUB_KEY, eraseAuth, lookupAuth, registryKey, storeAuth } from '../credentials.ts';
import { readLine } from '../prompt.ts';

/**
 * `berth login` and `berth logout` (docker/cli `registry/login.go`, `logout.go`). The engine checks the
 * credentials against the registry (`POST /auth`); only then are they stored, in Berth's config file (0600) or
 * the credential helper it names. A password given with `-p` draws docker's warning; none is ever printed.
 */

export interface LoginOptions {
  server: string | undefined;
  username: string;
  password: string;
  passwordStdin: boolean;
}

type Input = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Reads a password from a terminal without echoing it. */
export async function readSecret(input: Input, err: OutStream, prompt: string): Promise<string> {
  err.write(prompt);
  const raw = typeof input.setRawMode === 'function';
  if (!raw) return (await readLine(input)) ?? '';
  input.setRawMode!(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            input.off('end', onEnd);
            input.pause();
            resolve(buf);
            return;
          }
          if (ch === '\x03' || ch === '\x04') {
            input.off('data', onData);
            input.off('end', onEnd);
            reject(new BerthError(ch === '\x03' ? 'interrupted' : 'Error: Password Required'));
            return;
          }
          if (ch === '\x7f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      const onEnd = (): void => {
        input.off('data', onData);
        reject(new BerthError('Error: Password Required'));
      };
      input.on('data', onData);
      input.once('end', onEnd);
      input.resume();
    });
  } finally {
    input.setRawMode!(false);
    err.write('\n');
  }
}

export async function login(
  client: EngineClient,
  input: Input,
  out: OutStream,
  err: OutStream,
  opts: LoginOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (opts.password !== '' && opts.passwordStdin)
    throw new InvalidArgumentError('--password and --password-stdin are mutually exclusive');
  if (opts.passwordStdin && opts.username === '')
    throw new InvalidArgumentError('Must provide --username with --password-stdin');
  const key = registryKey(opts.server ?? '');
  const serverAddress = key;
  let username = opts.username.trim();
  let password = opts.password;
  if (password !== '') err.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (opts.passwordStdin) {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (username === '' || password === '') {
    if (input.isTTY !== true) throw new BerthError('Cannot perform an interactive login from a non TTY device');
    const stored = await lookupAuth(key);
    if (username === '') {
      out.write(stored?.username ? `Username (${stored.username}): ` : 'Username: ');
      username = ((await readLine(input)) ?? '').trim() || stored?.username || '';
      if (username === '') throw new InvalidArgumentError('Error: Non-null Username Required');
    }
    if (password === '') {
      password = await readSecret(input, out, 'Password: ');
      if (password === '') throw new InvalidArgumentError('Error: Password Required');
    }
  }
  const answer = await client.systemAuth({ username, password, serveraddress: serverAddress }, { signal });
  const stored = await storeAuth(
    key,
    answer.IdentityToken ? { username, identitytoken: answer.IdentityToken } : { username, password },
  );
  if (stored.helper === undefined)
    err.write(
      `WARNING! Your password will be stored unencrypted in ${stored.path}.\nConfigure a credential helper to remove this warning.\n\n`,
    );
  out.write(`${answer.Status || 'Login Succeeded'}\n`);
}

export async function logout(out: OutStream, server: string | undefined): Promise<void> {
  const key = registryKey(server ?? '');
  const shown =
    server === undefined || key === DOCKER_HUB_KEY ? key : server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!(await eraseAuth(key))) {
    out.write(`Not logged in to ${shown}\n`);
    return;
  }
  out.write(`Removing login credentials for ${shown}\n`);
}
