import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SCHEMA_PATH, validateSchema } from './schema.ts';
import { parseComposeYaml } from './source.ts';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'compose-spec', 'compose-spec.json');

test('the vendored schema is the shared fixture, unchanged', {
  skip: !existsSync(SHARED) && 'no ../shared here',
}, () => {
  assert.equal(readFileSync(SCHEMA_PATH, 'utf8'), readFileSync(SHARED, 'utf8'));
});

function check(text: string): string | undefined {
  const parsed = parseComposeYaml('/p/compose.yaml', text);
  return validateSchema(parsed.documents[0], parsed.positions)?.message;
}

test('a valid file passes, with x- extensions anywhere they are allowed', () => {
  assert.equal(
    check(
      'services:\n  a:\n    image: x\n    x-berth-ready: {tcp: 80}\n    ports: ["80:80", {target: 81}]\nx-top: 1\n',
    ),
    undefined,
  );
});

test('the most telling error is reported, located at its key', () => {
  assert.equal(
    check('services:\n  a:\n    image: x\n    build:\n      context: .\n      dockerfil: D\n'),
    '/p/compose.yaml:6:7: services.a.build: additional property "dockerfil" is not allowed',
  );
  assert.match(
    check('services:\n  a:\n    image: x\n    ports: [[80]]\n')!,
    /^\/p\/compose\.yaml:4:\d+: services\.a\.ports\.0: must be /,
  );
  assert.equal(
    check('services:\n  a:\n    image: x\n    extends: {file: f.yaml}\n'),
    '/p/compose.yaml:4:5: services.a.extends: property "service" is required',
  );
  assert.equal(check('services: []\n'), '/p/compose.yaml:1:1: services: must be a mapping');
  assert.equal(
    check('services:\n  a:\n    image: x\n    cap_add: [A, A]\n'),
    '/p/compose.yaml:4:5: services.a.cap_add: has duplicate items (items 0 and 1 are the same)',
  );
});

test('a document found valid passes again without the validator; an invalid one is reported every time', () => {
  const ok = 'services:\n  a:\n    image: x\n    labels: {unique-label-for-this-test: "1"}\n';
  assert.equal(check(ok), undefined);
  assert.equal(check(ok), undefined);
  const bad = 'services:\n  a:\n    image: x\n    labels: {unique-label-for-this-test: "1"}\n    imagee: y\n';
  assert.match(check(bad)!, /additional property "imagee" is not allowed/);
  assert.match(check(bad)!, /additional property "imagee" is not allowed/);
});
