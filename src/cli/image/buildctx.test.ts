import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../util/errors.ts';
import { contextTar, localContext } from './buildctx.ts';

test('a context file that cannot be read fails the context with its name, not the process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-buildctx-'));
  const ns = join(dir, 'netns');
  let mounted = false;
  try {
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    await writeFile(join(dir, 'a'), 'a');
    await writeFile(ns, '');
    // A network namespace file (as an engine's exec root holds): lstat says a regular file, read(2) says EINVAL.
    execFileSync('mount', ['--bind', '/proc/self/ns/net', ns]);
    mounted = true;
    const ctx = await localContext(dir, undefined);
    await assert.rejects(
      (async () => {
        for await (const _ of contextTar(ctx)) {
          // drained
        }
      })(),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /"netns"/.test(err.message) && /EINVAL/.test(err.message),
    );
  } finally {
    if (mounted) execFileSync('umount', [ns]);
    await rm(dir, { recursive: true, force: true });
  }
});
