import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dockerignore } from './images.ts';

test("dockerignore: moby's rules for a compose build's context (parents, exceptions, `**`, comments)", () => {
  const ignored = dockerignore('# build output\nnode_modules\n/dist/\n*.log\n!keep.log\n**/*.tmp\n');
  for (const p of ['node_modules', 'node_modules/x/y.js', 'dist/a.js', 'a.log', 'deep/dir/x.tmp', 'x.tmp']) {
    assert.equal(ignored(p), true, p);
  }
  for (const p of ['keep.log', 'src/a.ts', 'sub/a.log', 'Dockerfile']) assert.equal(ignored(p), false, p);
  assert.throws(() => dockerignore('!\n'), /illegal exclusion pattern/);
});
