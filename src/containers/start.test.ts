import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Row } from './model.ts';
import { ephemeral } from './start.ts';
import { initialState } from './state.ts';

const row = (autoRemove: boolean): Row => ({
  id: 'c0ffee',
  name: 'web',
  imageId: 'sha256:img',
  imageRef: 'busybox:latest',
  created: 0,
  config: { Config: {}, Path: 'true', Args: [], Mounts: [] },
  hostConfig: { AutoRemove: autoRemove },
  state: initialState(),
  runtime: 'runc',
  snapshot: 'c0ffee',
});

const overlay = {
  type: 'overlay',
  source: 'overlay',
  options: ['index=off', 'lowerdir=/s/1/fs', 'upperdir=/s/2/fs', 'workdir=/s/2/work'],
};

test('a --rm container’s writable overlay is mounted volatile; other containers’ and read-only ones are not', () => {
  assert.deepEqual(ephemeral(row(true), [overlay]), [{ ...overlay, options: [...overlay.options, 'volatile'] }]);
  assert.deepEqual(ephemeral(row(false), [overlay]), [overlay]);
  const readOnly = { type: 'overlay', source: 'overlay', options: ['lowerdir=/s/2/fs:/s/1/fs'] };
  const bind = { type: 'bind', source: '/s/1/fs', options: ['rbind', 'rw'] };
  assert.deepEqual(ephemeral(row(true), [readOnly, bind]), [readOnly, bind]);
});
