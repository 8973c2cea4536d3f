import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { importRootfs } from '../distribution/index.ts';
import { testEngine } from '../distribution/testkit.ts';
import { parseReference } from '../oci/reference.ts';
import { mountAll, unmountAll } from '../snapshots/index.ts';
import { FailedPreconditionError } from '../util/errors.ts';
import { extract } from '../util/tar/index.ts';
import { busyboxRootfs } from './busybox.ts';

async function digestOf(source: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of source) h.update(c);
  return h.digest('hex');
}

test('the busybox rootfs is the same bytes every time', async () => {
  assert.equal(await digestOf(busyboxRootfs()), await digestOf(busyboxRootfs()));
});

test('the busybox rootfs holds busybox, a symlink per applet, users and the usual directories', async () => {
  const entries = new Map<
    string,
    { type: string; mode: number; linkname: string; size: number; mtime: number; body?: string }
  >();
  const names: string[] = [];
  for await (const { header, body } of extract(busyboxRootfs())) {
    names.push(header.name);
    let text: string | undefined;
    if (header.name.startsWith('etc/')) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c);
      text = Buffer.concat(parts).toString();
    }
    entries.set(header.name.replace(/\/$/, ''), { ...header, ...(text !== undefined ? { body: text } : {}) });
  }
  assert.deepEqual(names, [...names].sort(), 'entries are sorted');
  assert.ok([...entries.values()].every((e) => e.mtime === 0));
  const busybox = entries.get('bin/busybox')!;
  assert.equal(busybox.type, 'file');
  assert.equal(busybox.mode, 0o755);
  assert.equal(busybox.size, Number(execFileSync('stat', ['-Lc', '%s', '/bin/busybox']).toString()));
  const applets = execFileSync('/bin/busybox', ['--list-full'])
    .toString()
    .trim()
    .split('\n')
    .filter((a) => a !== 'bin/busybox');
  for (const a of applets)
    assert.deepEqual([entries.get(a)?.type, entries.get(a)?.linkname], ['symlink', '/bin/busybox'], a);
  assert.equal(entries.get('tmp')?.mode, 0o1777);
  assert.equal(entries.get('root')?.mode, 0o700);
  for (const d of ['dev', 'proc', 'sys', 'home', 'var', 'etc', 'usr/bin', 'usr/sbin', 'sbin'])
    assert.equal(entries.get(d)?.type, 'directory', d);
  assert.match(entries.get('etc/passwd')!.body!, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
  assert.match(entries.get('etc/passwd')!.body!, /^nobody:x:65534:65534:/m);
  assert.match(entries.get('etc/group')!.body!, /^root:x:0:$/m);
  assert.match(entries.get('etc/nsswitch.conf')!.body!, /^hosts:\s+files dns$/m);
  assert.equal(entries.has('etc/hosts'), false, 'containers get their own /etc/hosts');
});

test('imported as busybox:latest, its shell runs chrooted in the unpacked snapshot', async (t) => {
  const e = await testEngine(t);
  const img = await importRootfs(e, busyboxRootfs(), {
    tag: parseReference('busybox:latest'),
    changes: ['CMD ["sh"]'],
  });
  assert.deepEqual(img.config.config?.Cmd, ['sh']);
  const target = join(e.root, 'rootfs');
  await mkdir(target);
  mountAll(await e.snapshotter.view('run', img.record.chainId!), target);
  try {
    const out = execFileSync('chroot', [
      target,
      '/bin/sh',
      '-c',
      'echo hello from $(basename $(readlink /bin/sh)); id -un; ls -d /tmp /root',
    ]).toString();
    assert.equal(out, 'hello from busybox\nroot\n/root\n/tmp\n');
  } finally {
    await unmountAll(target);
    await e.snapshotter.remove('run');
    await rm(target, { recursive: true });
  }
});

test('a missing busybox is FailedPrecondition', async () => {
  await assert.rejects(busyboxRootfs('/nonexistent/busybox').next(), FailedPreconditionError);
});
