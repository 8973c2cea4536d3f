import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../util/errors.ts';
import { quickHash } from '../../util/quick-hash.ts';
import { contextTar, keptContextId, localContext } from './buildctx.ts';

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

test("the kept context's ID is the quick hash of the host and the directory, in the form berthd accepts", () => {
  const ctx = (dir: string) => ({ dir, dockerfile: 'Dockerfile', entries: [], generated: new Map() });
  const id = keptContextId('h', ctx('/src/app'));
  assert.equal(id, quickHash('h', '/src/app'));
  // berthd takes 16 to 64 hex digits (build/kept.ts)
  assert.match(id, /^[0-9a-f]{16,64}$/);
  assert.equal(keptContextId('h', ctx('/src/app')), id);
  assert.notEqual(keptContextId('h', ctx('/src/app2')), id);
  assert.notEqual(keptContextId('g', ctx('/src/app')), id);
});
