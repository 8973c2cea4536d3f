import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { displayReference, referenceError } from './refs.ts';
import { imageRows } from './list.ts';
import type { ImageSummary } from '../../client/index.ts';

describe('references', () => {
  it('splits names, tags and digests and shortens docker.io names', () => {
    assert.deepEqual(displayReference('docker.io/library/busybox:1'), { name: 'busybox', tag: '1', digest: undefined });
    assert.deepEqual(displayReference('localhost:5000/team/bb'), {
      name: 'localhost:5000/team/bb',
      tag: undefined,
      digest: undefined,
    });
    assert.equal(displayReference(`r/x@sha256:${'a'.repeat(64)}`)?.digest, `sha256:${'a'.repeat(64)}`);
    assert.equal(displayReference('<none>:<none>'), undefined);
    assert.equal(displayReference('docker.io/foo/bar:1')?.name, 'foo/bar');
  });

  it('explains invalid references in distribution/reference words', () => {
    assert.equal(referenceError('Bad:x'), 'invalid reference format: repository name (library/Bad) must be lowercase');
    assert.equal(
      referenceError('localhost:5000/Foo/bar:1'),
      'invalid reference format: repository name (Foo/bar) must be lowercase',
    );
    assert.equal(referenceError('a b'), 'invalid reference format');
    assert.equal(referenceError('busybox:latest'), undefined);
    assert.equal(referenceError('UP/x:1'), undefined, 'docker takes UP for a registry host and lets the engine judge');
    assert.equal(referenceError('UP/X'), 'invalid reference format: repository name (X) must be lowercase');
  });
});

describe('image rows', () => {
  const base: ImageSummary = {
    Id: 'sha256:1',
    ParentId: '',
    RepoTags: null,
    RepoDigests: null,
    Created: 0,
    Size: 1,
    SharedSize: -1,
    Labels: null,
    Containers: -1,
  };
  const digest = `sha256:${'d'.repeat(64)}`;

  it('gives one row per tag, digests only when asked, and digest-only rows a <none> tag', () => {
    const img = { ...base, RepoTags: ['a:1', 'a:2'], RepoDigests: [`a@${digest}`, `b@${digest}`] };
    const plain = imageRows([img], { trunc: true, digests: false, needDigest: false, nowMs: 0 });
    assert.deepEqual(
      plain.map((r) => [r.Repository, r.Tag, r.Digest]),
      [
        ['a', '1', '<none>'],
        ['a', '2', '<none>'],
        ['b', '<none>', ''],
      ],
    );
    const withDigests = imageRows([img], { trunc: true, digests: true, needDigest: true, nowMs: 0 });
    assert.deepEqual(
      withDigests.map((r) => [r.Repository, r.Tag, r.Digest]),
      [
        ['a', '1', digest],
        ['a', '2', digest],
        ['b', '<none>', digest],
      ],
    );
  });

  it('shows dangling images once as <none>', () => {
    const rows = imageRows([{ ...base, RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'] }], {
      trunc: true,
      digests: false,
      needDigest: false,
      nowMs: 0,
    });
    assert.deepEqual(
      rows.map((r) => [r.Repository, r.Tag, r.Containers, r.SharedSize]),
      [['<none>', '<none>', 'N/A', 'N/A']],
    );
  });
});
