import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gpgSign, gpgVerify } from './gpg.ts';
import { makeKeyring } from './testkit.ts';

let home = '';
let keys: { fingerprints: string[]; publicKeys: Buffer[] };
before(() => {
  home = mkdtempSync(join(tmpdir(), 'berth-gpgtest-'));
  keys = makeKeyring(home, ['alice', 'bob']);
});
after(() => {
  try {
    execFileSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore' });
  } catch {}
  rmSync(home, { recursive: true, force: true });
});

test('a message signed with gpg verifies against its public key and yields the payload and fingerprint', async () => {
  const payload = Buffer.from('{"x":1}');
  const sig = await gpgSign(payload, keys.fingerprints[0]!, { homedir: home });
  const v = await gpgVerify([keys.publicKeys[0]!], sig);
  assert.equal(v.fingerprint, keys.fingerprints[0]);
  assert.deepEqual(v.payload, payload);
  // Any one of several trusted keys will do.
  assert.equal((await gpgVerify([keys.publicKeys[1]!, keys.publicKeys[0]!], sig)).fingerprint, keys.fingerprints[0]);
});

test('another key, a tampered message and garbage are refused with the reason', async () => {
  const sig = await gpgSign(Buffer.from('payload'), keys.fingerprints[0]!, { homedir: home });
  await assert.rejects(gpgVerify([keys.publicKeys[1]!], sig), /does not trust/);
  const tampered = Buffer.from(sig);
  tampered[tampered.length - 8]! ^= 0x10;
  await assert.rejects(gpgVerify([keys.publicKeys[0]!], tampered), /BADSIG|does not verify/);
  await assert.rejects(gpgVerify([keys.publicKeys[0]!], Buffer.from('not a signature')), /does not verify/);
  await assert.rejects(gpgVerify([Buffer.from('not a key')], sig), /does not import/);
  await assert.rejects(gpgVerify([], sig), /no public keys/);
  await assert.rejects(gpgSign(Buffer.from('x'), 'F'.repeat(40), { homedir: home }), /gpg could not sign with key/);
});
