/** Helpers for trust's tests: keyrings made by the machine's gpg. */
import { execFileSync } from 'node:child_process';

/** Signing keys made by gpg itself in the keyring `dir`, one per name: fingerprints and exported public keys. */
export function makeKeyring(dir: string, names: string[]): { fingerprints: string[]; publicKeys: Buffer[] } {
  const fingerprints: string[] = [];
  const publicKeys: Buffer[] = [];
  for (const n of names) {
    execFileSync(
      'gpg',
      [
        '--batch',
        '--homedir',
        dir,
        '--passphrase',
        '',
        '--quick-gen-key',
        `${n} <${n}@berth.test>`,
        'ed25519',
        'sign',
        'never',
      ],
      {
        stdio: 'ignore',
      },
    );
    const colons = execFileSync('gpg', [
      '--batch',
      '--homedir',
      dir,
      '--with-colons',
      '--list-keys',
      `${n}@berth.test`,
    ]).toString();
    const fpr = /^fpr:::::::::([0-9A-F]{40}):$/m.exec(colons)![1]!;
    fingerprints.push(fpr);
    publicKeys.push(execFileSync('gpg', ['--batch', '--homedir', dir, '--export', fpr]));
  }
  return { fingerprints, publicKeys };
}
