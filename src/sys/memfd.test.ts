import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import test from 'node:test';
import { ALL_SEALS, sealedCopy, sealsOf } from './memfd.ts';

test('sealedCopy: the same bytes, all four seals, runnable by its path, and nothing can write to it', async () => {
  const copy = await sealedCopy('/bin/echo', 'echo-copy');
  try {
    assert.equal(copy.path, `/proc/${process.pid}/fd/${copy.fd}`);
    assert.equal(sealsOf(copy.fd), ALL_SEALS);
    assert.match(readlinkSync(copy.path), /^\/memfd:echo-copy/);
    assert.deepEqual(readFileSync(copy.path), readFileSync('/bin/echo'));
    assert.equal(execFileSync(copy.path, ['sealed', 'copy'], { encoding: 'utf8' }), 'sealed copy\n');
    // F_SEAL_WRITE: no write through any descriptor, even one opened for writing by root.
    assert.throws(() => writeSync(copy.fd, Buffer.of(0), 0, 1, 0), /EPERM/);
    const again = openSync(copy.path, 'r+');
    try {
      assert.throws(() => writeSync(again, Buffer.of(0), 0, 1, 0), /EPERM/);
    } finally {
      closeSync(again);
    }
  } finally {
    copy.close();
  }
});

test('sealedCopy: a program that is not there is an error naming it', async () => {
  await assert.rejects(sealedCopy('/nonexistent/runc', 'runc'), /ENOENT.*\/nonexistent\/runc/);
});
