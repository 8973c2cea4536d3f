import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReference } from '../oci/reference.ts';
import { generatePrivateKey, publicKeyPem } from './keys.ts';
import { dockerScopes, needsSignatures, parsePolicy, requirementsFor } from './policy.ts';

const pub = publicKeyPem(generatePrivateKey());
const files: Record<string, Buffer> = {
  '/keys/a.pub': Buffer.from(pub),
  '/keys/ops.gpg': Buffer.from('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGV\n'),
  '/keys/junk.gpg': Buffer.from('junk'),
  '/keys/bad.pub': Buffer.from('junk'),
};
const read = (p: string) => {
  const f = files[p];
  if (!f) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
  return f;
};
const parse = (doc: unknown) =>
  parsePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc), '/etc/policy.json', read);

test('a full policy parses: default, docker scopes, every requirement and identity kind', () => {
  const p = parse({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'localhost:5000/app': [
          { type: 'sigstoreSigned', keyPath: '/keys/a.pub', signedIdentity: { type: 'matchRepository' } },
        ],
        'localhost:5000/data': [{ type: 'sigstoreSigned', keyData: Buffer.from(pub).toString('base64') }],
        'localhost:5000/multi': [{ type: 'sigstoreSigned', keyPaths: ['/keys/a.pub'], keyDatas: undefined }],
        'localhost:5000': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/keys/ops.gpg' }],
        'docker.io/library/busybox:1': [{ type: 'insecureAcceptAnything' }],
        'r.example/x': [
          {
            type: 'signedBy',
            keyType: 'GPGKeys',
            keyData: 'mQEN',
            signedIdentity: { type: 'exactReference', dockerReference: 'r.example/y:1' },
          },
          {
            type: 'sigstoreSigned',
            keyPath: '/keys/a.pub',
            signedIdentity: { type: 'exactRepository', dockerRepository: 'r.example/y' },
          },
          {
            type: 'sigstoreSigned',
            keyPath: '/keys/a.pub',
            signedIdentity: { type: 'remapIdentity', prefix: 'r.example', signedPrefix: 'q.example/mirror' },
          },
          { type: 'sigstoreSigned', keyPath: '/keys/a.pub', signedIdentity: { type: 'matchExact' } },
        ],
        '': [{ type: 'insecureAcceptAnything' }],
      },
    },
  });
  assert.equal(p.default[0]!.type, 'reject');
  const app = p.transports.docker!['localhost:5000/app']![0]!;
  assert.equal(app.type, 'sigstoreSigned');
  if (app.type === 'sigstoreSigned') {
    assert.equal(app.keys.length, 1);
    assert.deepEqual(app.signedIdentity, { type: 'matchRepository' });
  }
  const data = p.transports.docker!['localhost:5000/data']![0]!;
  assert.deepEqual(data.type === 'sigstoreSigned' && data.signedIdentity, { type: 'matchRepoDigestOrExact' });
  const gpg = p.transports.docker!['localhost:5000']![0]!;
  assert.equal(gpg.type === 'signedBy' && gpg.gpgKeys[0]!.toString(), files['/keys/ops.gpg']!.toString());
});

test('errors name the file, the place and the fault', () => {
  const bad = (doc: unknown, re: RegExp) => assert.throws(() => parse(doc), re);
  bad('{', /invalid signature policy \/etc\/policy.json: the file: not JSON/);
  bad({ transports: {} }, /default: the default policy is missing/);
  bad({ default: [] }, /default: the list of requirements must not be empty/);
  bad({ default: [{ type: 'reject' }], extra: 1 }, /the file: unknown field "extra"/);
  bad({ default: [{ type: 'nope' }] }, /default\[0\]\.type: unknown policy requirement type "nope"/);
  bad({ default: [{ type: 'reject', keyPath: '/x' }] }, /default\[0\]: unknown field "keyPath"/);
  bad(
    { default: [{ type: 'sigstoreSigned' }] },
    /default\[0\]: exactly one of keyPath, keyPaths, keyData, keyDatas must be specified \(0 are\)/,
  );
  bad({ default: [{ type: 'sigstoreSigned', keyPath: '/keys/a.pub', keyData: 'AAAA' }] }, /\(2 are\)/);
  bad(
    { default: [{ type: 'sigstoreSigned', keyPath: '/keys/none.pub' }] },
    /default\[0\]\.keyPath: cannot read key file "\/keys\/none.pub": ENOENT/,
  );
  bad({ default: [{ type: 'sigstoreSigned', keyPath: 'rel.pub' }] }, /key path "rel.pub" is not absolute/);
  bad(
    { default: [{ type: 'sigstoreSigned', keyPath: '/keys/bad.pub' }] },
    /default\[0\]: \/keys\/bad.pub: no PEM block/,
  );
  bad({ default: [{ type: 'sigstoreSigned', keyData: '!!' }] }, /default\[0\]\.keyData: not base64/);
  // Inline key data is named once, by its place in the file.
  bad(
    { default: [{ type: 'sigstoreSigned', keyData: Buffer.from('junk').toString('base64') }] },
    /policy.json: default\[0\]\.keyData: no PEM block found$/,
  );
  // GPG keys that are not OpenPGP key material stop the daemon at start too, not at the first pull.
  bad(
    { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/keys/junk.gpg' }] },
    /default\[0\]: \/keys\/junk.gpg: not OpenPGP public keys/,
  );
  bad(
    { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: 'AAAA' }] },
    /default\[0\]\.keyData: not OpenPGP public keys/,
  );
  bad(
    { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['/keys/ops.gpg', '/keys/a.pub'] }] },
    /default\[0\]: \/keys\/a.pub: not OpenPGP public keys/,
  );
  bad({ default: [{ type: 'sigstoreSigned', keyPaths: [] }] }, /keyPaths: not a non-empty array/);
  bad(
    { default: [{ type: 'sigstoreSigned', fulcio: {}, keyPath: '/keys/a.pub' }] },
    /fulcio: keyless .* not supported/,
  );
  bad(
    { default: [{ type: 'signedBy', keyType: 'X509Certificates', keyPath: '/keys/ops.gpg' }] },
    /keyType: "X509Certificates" is not supported/,
  );
  bad(
    {
      default: [
        { type: 'signedBy', keyType: 'GPGKeys', keyPath: '/keys/ops.gpg', signedIdentity: { type: 'matchAll' } },
      ],
    },
    /signedIdentity.type: unknown signedIdentity type "matchAll"/,
  );
  bad(
    {
      default: [
        {
          type: 'sigstoreSigned',
          keyPath: '/keys/a.pub',
          signedIdentity: { type: 'exactReference', dockerReference: 'r.example/y' },
        },
      ],
    },
    /contains neither a tag nor a digest/,
  );
  bad(
    {
      default: [
        {
          type: 'sigstoreSigned',
          keyPath: '/keys/a.pub',
          signedIdentity: { type: 'exactRepository', dockerRepository: 'UP/x' },
        },
      ],
    },
    /dockerRepository: invalid reference "UP\/x"/,
  );
  bad(
    {
      default: [
        {
          type: 'sigstoreSigned',
          keyPath: '/keys/a.pub',
          signedIdentity: { type: 'remapIdentity', prefix: 'a b', signedPrefix: 'x' },
        },
      ],
    },
    /prefix "a b" is not valid/,
  );
  bad(
    { default: [{ type: 'reject' }], transports: { docker: { x: {} } } },
    /transports.docker\["x"\]: not a JSON array/,
  );
  bad({ default: [{ type: 'signedBaseLayer' }] }, /baseLayerIdentity not specified/);
});

test('scopes: reference, repository, namespaces, host, wildcard domains; then the transport default, then default', () => {
  assert.deepEqual(dockerScopes(parseReference('reg.example.com:5000/ns/app:1')), [
    'reg.example.com:5000/ns/app:1',
    'reg.example.com:5000/ns/app',
    'reg.example.com:5000/ns',
    'reg.example.com:5000',
    '*.example.com',
    '*.com',
  ]);
  assert.equal(dockerScopes(parseReference('busybox'))[0], 'docker.io/library/busybox:latest');
  assert.equal(dockerScopes(parseReference(`a.b/c@sha256:${'1'.repeat(64)}`))[0], `a.b/c@sha256:${'1'.repeat(64)}`);
  const p = parse({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'localhost:5000/app:v1': [{ type: 'insecureAcceptAnything' }],
        'localhost:5000': [{ type: 'sigstoreSigned', keyPath: '/keys/a.pub' }],
        '*.example.com': [{ type: 'insecureAcceptAnything' }],
        '': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/keys/ops.gpg' }],
      },
    },
  });
  assert.equal(
    requirementsFor(p, parseReference('localhost:5000/app:v1')).scope,
    'transports.docker["localhost:5000/app:v1"]',
  );
  assert.equal(
    requirementsFor(p, parseReference('localhost:5000/app:v2')).scope,
    'transports.docker["localhost:5000"]',
  );
  assert.equal(requirementsFor(p, parseReference('a.example.com/x')).scope, 'transports.docker["*.example.com"]');
  assert.equal(requirementsFor(p, parseReference('busybox')).scope, 'transports.docker[""]');
  const q = parse({ default: [{ type: 'reject' }] });
  assert.equal(requirementsFor(q, parseReference('busybox')).scope, 'default');
  assert.equal(needsSignatures(requirementsFor(p, parseReference('localhost:5000/app:v1')).requirements), false);
  assert.equal(needsSignatures(requirementsFor(p, parseReference('localhost:5000/app:v2')).requirements), true);
});
