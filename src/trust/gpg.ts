/**
 * GPG "simple signing" through the machine's gpg, as containers/image does through gpgme: a signature is an
 * OpenPGP signed message (binary, not detached, not armored) whose literal data is the payload.
 *
 * - signing uses the caller's keyring (`--homedir` or GNUPGHOME), so private keys stay where gpg keeps them;
 * - verification imports the policy's public keys into a fresh temporary keyring and trusts only those, reading
 *   gpg's machine-readable status lines (VALIDSIG with the signing key's fingerprint, BADSIG, ERRSIG, NO_PUBKEY).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../util/errors.ts';

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function run(
  args: string[],
  input: Buffer | undefined,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('gpg', args, { env, stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new UnavailableError('gpg is not installed (it is needed for GPG signatures)') : e),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

function lastError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('[GNUPG:]'));
  return lines.at(-1) ?? 'gpg failed';
}

/**
 * Signs `payload` with the secret key `keyId` (a fingerprint) in the user's keyring (`homedir`, else GNUPGHOME or
 * ~/.gnupg). Returns the binary signed message.
 */
export async function gpgSign(
  payload: Buffer,
  keyId: string,
  opts: { homedir?: string; passphrase?: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<Buffer> {
  if (!/^[0-9A-Fa-f]{8,40}$|^[^\s-][^\n]*$/.test(keyId)) throw new InvalidArgumentError(`invalid GPG key "${keyId}"`);
  const args = ['--batch', '--no-tty', '--yes'];
  if (opts.homedir) args.push('--homedir', opts.homedir);
  if (opts.passphrase !== undefined) args.push('--pinentry-mode', 'loopback', '--passphrase-fd', '3');
  args.push('--local-user', keyId, '--sign', '--output', '-');
  const env = { ...(opts.env ?? process.env) };
  const res =
    opts.passphrase !== undefined
      ? await runWithFd3(args, payload, opts.passphrase, env)
      : await run(args, payload, env, opts.signal);
  if (res.code !== 0 || res.stdout.length === 0) {
    throw new FailedPreconditionError(`gpg could not sign with key "${keyId}": ${lastError(res.stderr)}`);
  }
  return res.stdout;
}

function runWithFd3(args: string[], input: Buffer, secret: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('gpg', args, { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
    const fd3 = child.stdio[3] as NodeJS.WritableStream;
    fd3.on('error', () => {});
    fd3.end(`${secret}\n`);
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

/** The fingerprints of the (primary) keys in some exported public key material, via a throwaway keyring. */
async function importKeys(home: string, keys: Buffer[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const fprs: string[] = [];
  for (const k of keys) {
    const res = await run(['--batch', '--no-tty', '--homedir', home, '--status-fd', '2', '--import'], k, env);
    const ok = [...res.stderr.matchAll(/^\[GNUPG:\] IMPORT_OK \d+ ([0-9A-F]{40})$/gm)].map((m) => m[1]!);
    if (ok.length === 0) throw new InvalidArgumentError(`a GPG public key does not import: ${lastError(res.stderr)}`);
    fprs.push(...ok);
  }
  return fprs;
}

/** The primary key fingerprints of exported public key material (binary or armored); InvalidArgument when none. */
export async function gpgKeyFingerprints(key: Buffer): Promise<string[]> {
  const home = await mkdtemp(join(tmpdir(), 'berth-gpg-'));
  try {
    return await importKeys(home, [key], { ...process.env, GNUPGHOME: home });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * Verifies a signed message against `keys` (exported public keys, binary or armored) and nothing else. Returns
 * the signer's primary key fingerprint and the signed payload; throws with gpg's reason otherwise.
 */
export async function gpgVerify(keys: Buffer[], signature: Buffer): Promise<{ fingerprint: string; payload: Buffer }> {
  if (keys.length === 0) throw new InvalidArgumentError('no public keys imported');
  const home = await mkdtemp(join(tmpdir(), 'berth-gpg-'));
  const env = { ...process.env, GNUPGHOME: home };
  try {
    const trusted = await importKeys(home, keys, env);
    const res = await run(
      [
        '--batch',
        '--no-tty',
        '--homedir',
        home,
        '--trust-model',
        'always',
        '--status-fd',
        '2',
        '--decrypt',
        '--output',
        '-',
      ],
      signature,
      env,
    );
    const status = res.stderr;
    if (/^\[GNUPG:\] BADSIG /m.test(status)) throw new InvalidArgumentError('the GPG signature is invalid (BADSIG)');
    if (/^\[GNUPG:\] NO_PUBKEY /m.test(status) || /^\[GNUPG:\] ERRSIG .* 9 /m.test(status)) {
      throw new InvalidArgumentError('signed by a GPG key the policy does not trust');
    }
    const valid = /^\[GNUPG:\] VALIDSIG ([0-9A-F]{40}) .* ([0-9A-F]{40})$/m.exec(status);
    if (res.code !== 0 || !valid) {
      throw new InvalidArgumentError(`the GPG signature does not verify: ${lastError(status)}`);
    }
    const primary = valid[2]!;
    if (!trusted.includes(primary))
      throw new InvalidArgumentError(`signed by GPG key ${primary}, which the policy does not trust`);
    return { fingerprint: primary, payload: res.stdout };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
