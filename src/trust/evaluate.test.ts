import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseReference } from '../oci/reference.ts';
import { evaluatePolicy, identityMatches, type SignatureSource, type SigstoreSignature } from './evaluate.ts';
import { gpgSign, gpgVerify } from './gpg.ts';
import { makeKeyring } from './testkit.ts';
import { generatePrivateKey, publicKeyPem } from './keys.ts';
import { ATOMIC_SIGNATURE_TYPE, buildPayload } from './payload.ts';
import { parsePolicy } from './policy.ts';
import { signPayload } from './sign.ts';

const D = `sha256:${'aa'.repeat(32)}`;
const OTHER = `sha256:${'bb'.repeat(32)}`;
const key = generatePrivateKey();
const otherKey = generatePrivateKey();
const files: Record<string, Buffer> = { '/k/a.pub': Buffer.from(publicKeyPem(key)) };
const policy = (doc: unknown) => parsePolicy(JSON.stringify(doc), 'p.json', (p) => files[p] ?? Buffer.alloc(0));
const cosignSig = (ref: string, digest: string, k = key, where = 'sha256-x.sig layer 1'): SigstoreSignature => {
  const payload = buildPayload({ dockerReference: ref, manifestDigest: digest });
  return { payload, signature: signPayload(k, payload), where };
};
const source = (
  sigs: SigstoreSignature[],
  gpg: Buffer[] = [],
  malformed: string[] = [],
): SignatureSource & { calls: number } => {
  const s = {
    calls: 0,
    sigstore: async () => {
      s.calls++;
      return { signatures: sigs, malformed };
    },
    gpg: async () => gpg.map((bytes, i) => ({ bytes, where: `lookaside signature-${i + 1}` })),
  };
  return s;
};
const img = (ref: string, digest = D) => ({ reference: parseReference(ref), manifestDigest: digest });
const sigstorePolicy = (identity?: unknown) =>
  policy({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'localhost:5000': [
          { type: 'sigstoreSigned', keyPath: '/k/a.pub', ...(identity ? { signedIdentity: identity } : {}) },
        ],
      },
    },
  });

test('accept anything and reject need no signatures', async () => {
  const s = source([]);
  const yes = await evaluatePolicy(
    policy({ default: [{ type: 'insecureAcceptAnything' }] }),
    img('busybox'),
    s,
    gpgVerify,
  );
  assert.equal(yes.allowed, true);
  const no = await evaluatePolicy(policy({ default: [{ type: 'reject' }] }), img('busybox'), s, gpgVerify);
  assert.equal(no.allowed, false);
  assert.equal(no.reason, 'reject: docker.io/library/busybox:latest is rejected by policy');
  assert.equal(s.calls, 0);
});

test('a cosign signature of the repository is accepted under matchRepository', async () => {
  const d = await evaluatePolicy(
    sigstorePolicy({ type: 'matchRepository' }),
    img('localhost:5000/app:v1'),
    source([cosignSig('localhost:5000/app', D)]),
    gpgVerify,
  );
  assert.equal(d.allowed, true, d.reason);
  assert.equal(d.scope, 'transports.docker["localhost:5000"]');
  assert.match(d.results[0]!.reason, /signed by \/k\/a.pub/);
});

test('each fault is refused with its reason', async () => {
  const p = sigstorePolicy({ type: 'matchRepository' });
  const cases: [SigstoreSignature[], RegExp][] = [
    [[], /no sigstore signature exists/],
    [[cosignSig('localhost:5000/app', D, otherKey)], /not signed by a key the policy trusts \(\/k\/a.pub\)/],
    [[cosignSig('localhost:5000/app', OTHER)], /signs manifest sha256:bb.*not sha256:aa.*changed after signing/],
    [
      [cosignSig('localhost:5000/other', D)],
      /signed identity "localhost:5000\/other" is not accepted .*matchRepository/,
    ],
    [[{ ...cosignSig('localhost:5000/app', D), signature: 'AAAA' }], /not signed by a key/],
    [[{ ...cosignSig('localhost:5000/app', D), signature: '***' }], /not signed by a key/],
  ];
  for (const [sigs, re] of cases) {
    const d = await evaluatePolicy(p, img('localhost:5000/app:v1'), source(sigs), gpgVerify);
    assert.equal(d.allowed, false);
    assert.match(d.reason, re);
  }
  // A payload that is not the simple-signing format, signed by the trusted key.
  const junk = Buffer.from('{"critical":{}}');
  const d = await evaluatePolicy(
    p,
    img('localhost:5000/app:v1'),
    source([{ payload: junk, signature: signPayload(key, junk), where: 'w' }]),
    gpgVerify,
  );
  assert.match(d.reason, /w: signature payload: missing field "optional"/);
  // Malformed layers are reported when nothing else is there.
  const m = await evaluatePolicy(
    p,
    img('localhost:5000/app:v1'),
    source([], [], ['layer X has no annotation']),
    gpgVerify,
  );
  assert.match(m.reason, /no sigstore signature exists \(layer X has no annotation\)/);
  // A source that fails is a refusal, never an acceptance.
  const failing: SignatureSource = {
    sigstore: async () => Promise.reject(new Error('registry down')),
    gpg: async () => [],
  };
  const f = await evaluatePolicy(p, img('localhost:5000/app:v1'), failing, gpgVerify);
  assert.equal(f.allowed, false);
  assert.match(f.reason, /reading signatures failed: registry down/);
});

test('one good signature among bad ones is enough; every requirement must accept', async () => {
  const p = sigstorePolicy({ type: 'matchRepository' });
  const d = await evaluatePolicy(
    p,
    img('localhost:5000/app'),
    source([cosignSig('localhost:5000/app', OTHER), cosignSig('localhost:5000/app', D)]),
    gpgVerify,
  );
  assert.equal(d.allowed, true);
  const both = policy({ default: [{ type: 'insecureAcceptAnything' }, { type: 'reject' }] });
  assert.equal((await evaluatePolicy(both, img('busybox'), source([]), gpgVerify)).allowed, false);
});

test('the default identity (matchRepoDigestOrExact) refuses cosign’s repository-only identity', async () => {
  const d = await evaluatePolicy(
    sigstorePolicy(),
    img('localhost:5000/app:v1'),
    source([cosignSig('localhost:5000/app', D)]),
    gpgVerify,
  );
  assert.equal(d.allowed, false);
  assert.match(d.reason, /matchRepoDigestOrExact/);
  const ok = await evaluatePolicy(
    sigstorePolicy(),
    img('localhost:5000/app:v1'),
    source([cosignSig('localhost:5000/app:v1', D)]),
    gpgVerify,
  );
  assert.equal(ok.allowed, true);
});

test('signedIdentity kinds, as containers/image matches them', () => {
  const r = parseReference;
  const t = (m: Parameters<typeof identityMatches>[0], intended: string, signed: string) =>
    identityMatches(m, r(intended), signed);
  assert.equal(t({ type: 'matchExact' }, 'a.io/x:1', 'a.io/x:1'), true);
  assert.equal(t({ type: 'matchExact' }, 'a.io/x:1', 'a.io/x:2'), false);
  assert.equal(t({ type: 'matchExact' }, 'a.io/x:1', 'a.io/x'), false);
  assert.equal(t({ type: 'matchRepoDigestOrExact' }, `a.io/x@${D}`, 'a.io/x:whatever'), true);
  assert.equal(t({ type: 'matchRepoDigestOrExact' }, 'a.io/x:1', 'a.io/x:1'), true);
  assert.equal(t({ type: 'matchRepoDigestOrExact' }, 'a.io/x:1', 'a.io/x'), false);
  assert.equal(t({ type: 'matchRepository' }, 'a.io/x:1', 'a.io/x:9'), true);
  assert.equal(t({ type: 'matchRepository' }, 'a.io/x:1', 'a.io/y'), false);
  assert.equal(t({ type: 'matchRepository' }, 'busybox', 'docker.io/library/busybox'), true);
  assert.equal(t({ type: 'exactReference', dockerReference: r('b.io/y:2') }, 'a.io/x:1', 'b.io/y:2'), true);
  assert.equal(t({ type: 'exactReference', dockerReference: r('b.io/y:2') }, 'a.io/x:1', 'a.io/x:1'), false);
  assert.equal(t({ type: 'exactRepository', dockerRepository: r('b.io/y') }, 'a.io/x:1', 'b.io/y:7'), true);
  const remap = { type: 'remapIdentity', prefix: 'mirror.io/ns', signedPrefix: 'origin.io/team' } as const;
  assert.equal(t(remap, 'mirror.io/ns/app:1', 'origin.io/team/app:1'), true);
  assert.equal(t(remap, 'mirror.io/ns/app:1', 'mirror.io/ns/app:1'), false);
  assert.equal(
    t(remap, 'mirror.io/nsx/app:1', 'mirror.io/nsx/app:1'),
    true,
    'no prefix match: plain matchRepoDigestOrExact',
  );
  assert.equal(t({ type: 'matchExact' }, 'a.io/x:1', 'NOT A REF'), false);
});

let home = '';
let gpgKeys: { fingerprints: string[]; publicKeys: Buffer[] };
before(() => {
  home = mkdtempSync(join(tmpdir(), 'berth-gpgeval-'));
  gpgKeys = makeKeyring(home, ['carol', 'dave']);
});
after(() => {
  try {
    execFileSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore' });
  } catch {}
  rmSync(home, { recursive: true, force: true });
});

test('signedBy: a GPG atomic signature by a trusted key, for the exact reference and digest', async () => {
  files['/k/carol.gpg'] = gpgKeys.publicKeys[0]!;
  const p = policy({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k/carol.gpg' }] });
  const atomic = (ref: string, digest: string) =>
    buildPayload({
      dockerReference: ref,
      manifestDigest: digest,
      type: ATOMIC_SIGNATURE_TYPE,
      optional: { creator: 'berth', timestamp: 1 },
    });
  const good = await gpgSign(atomic('localhost:5000/app:v1', D), gpgKeys.fingerprints[0]!, { homedir: home });
  const d = await evaluatePolicy(p, img('localhost:5000/app:v1'), source([], [good]), gpgVerify);
  assert.equal(d.allowed, true, d.reason);
  assert.match(d.results[0]!.reason, new RegExp(`signed by GPG key ${gpgKeys.fingerprints[0]}`));
  const byDave = await gpgSign(atomic('localhost:5000/app:v1', D), gpgKeys.fingerprints[1]!, { homedir: home });
  assert.match(
    (await evaluatePolicy(p, img('localhost:5000/app:v1'), source([], [byDave]), gpgVerify)).reason,
    /does not trust/,
  );
  const otherDigest = await gpgSign(atomic('localhost:5000/app:v1', OTHER), gpgKeys.fingerprints[0]!, {
    homedir: home,
  });
  assert.match(
    (await evaluatePolicy(p, img('localhost:5000/app:v1'), source([], [otherDigest]), gpgVerify)).reason,
    /signs manifest sha256:bb/,
  );
  const cosignType = await gpgSign(
    buildPayload({ dockerReference: 'localhost:5000/app:v1', manifestDigest: D }),
    gpgKeys.fingerprints[0]!,
    { homedir: home },
  );
  assert.match(
    (await evaluatePolicy(p, img('localhost:5000/app:v1'), source([], [cosignType]), gpgVerify)).reason,
    /unrecognized signature type/,
  );
  assert.match(
    (await evaluatePolicy(p, img('localhost:5000/app:v1'), source([], []), gpgVerify)).reason,
    /no GPG signature exists/,
  );
});
