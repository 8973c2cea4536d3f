import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ComposeFileError } from './errors.ts';
import { parseComposeYaml } from './source.ts';

test('integers with a leading zero are octal, as go-yaml reads them; quoted ones stay strings', () => {
  const { documents } = parseComposeYaml('c.yaml', 'a: 0440\nb: 440\nc: "0440"\nd: 0o17\ne: 0\nf: 08\n');
  assert.deepEqual(documents, [{ a: 0o440, b: 440, c: '0440', d: 0o17, e: 0, f: 8 }]);
});

test('positions name the line and column of each key, parsed again or not', () => {
  const text = 'services:\n  web:\n    image: busybox\n    ports:\n      - "80:80"\n';
  for (let i = 0; i < 2; i++) {
    const { positions } = parseComposeYaml('/p/compose.yaml', text);
    assert.deepEqual(positions.get(['services', 'web', 'image']), { file: '/p/compose.yaml', line: 3, column: 5 });
    assert.deepEqual(positions.find(['services', 'web', 'ports', 0, 'x']), {
      file: '/p/compose.yaml',
      line: 5,
      column: 9,
    });
  }
});

test('a duplicate key is refused with its line, every time', () => {
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => parseComposeYaml('d.yaml', 'services:\n  a: {}\n  a: {}\n'),
      (err: unknown) => err instanceof ComposeFileError && /d\.yaml:3/.test(err.message),
    );
  }
});

test('values JSON cannot keep (.inf, .nan) come back as they are on a second parse', () => {
  for (let i = 0; i < 2; i++) {
    const { documents } = parseComposeYaml('n.yaml', 'x-a: .inf\nx-b: .nan\nx-c: -.inf\n');
    assert.deepEqual(documents, [{ 'x-a': Infinity, 'x-b': Number.NaN, 'x-c': -Infinity }]);
  }
});
