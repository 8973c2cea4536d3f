import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseReference } from '../oci/reference.ts';
import { loadRegistriesD, lookasideBase, readLookaside, signatureUrl, writeLookaside } from './lookaside.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-lookaside-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const D = `sha256:${'ab'.repeat(32)}`;

test('registries.d: the most specific namespace wins, staging for writes, the older sigstore keys too', async () => {
  const dir = join(tmp, 'd1');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'a.yaml'),
    'default-docker:\n  lookaside: file:///default\ndocker:\n  reg.example:5000:\n    lookaside: https://sigs.example/r\n    lookaside-staging: file:///staging\n',
  );
  writeFileSync(join(dir, 'b.yaml'), 'docker:\n  reg.example:5000/team/app:\n    sigstore: file:///old-style\n');
  writeFileSync(join(dir, 'ignored.txt'), 'docker: [');
  const c = await loadRegistriesD(dir);
  assert.equal(lookasideBase(c, parseReference('reg.example:5000/team/app:1'), false), 'file:///old-style');
  assert.equal(lookasideBase(c, parseReference('reg.example:5000/other:1'), false), 'https://sigs.example/r');
  assert.equal(lookasideBase(c, parseReference('reg.example:5000/other:1'), true), 'file:///staging');
  assert.equal(lookasideBase(c, parseReference('busybox'), false), 'file:///default');
  assert.deepEqual(await loadRegistriesD(join(tmp, 'none')), { docker: {} });
});

test('registries.d errors name the file and key', async () => {
  const bad = async (text: string, re: RegExp) => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    writeFileSync(join(dir, 'x.yaml'), text);
    await assert.rejects(loadRegistriesD(dir), re);
  };
  await bad('docker: [', /x.yaml: not valid YAML/);
  await bad('docker:\n  r:\n    lookasid: file:///x\n', /x.yaml: docker\["r"\]: unknown key "lookasid"/);
  await bad('docker:\n  r:\n    lookaside: 3\n', /lookaside: not a string/);
  const dup = mkdtempSync(join(tmp, 'dup-'));
  writeFileSync(join(dup, 'a.yaml'), 'docker:\n  r:\n    lookaside: file:///a\n');
  writeFileSync(join(dup, 'b.yaml'), 'docker:\n  r:\n    lookaside: file:///b\n');
  await assert.rejects(loadRegistriesD(dup), /docker namespace "r" is configured in more than one file/);
});

test('signatures are laid out as containers/image does, appended after those there, read until the first gap', async () => {
  const ref = parseReference('reg.example:5000/team/app:1');
  assert.equal(signatureUrl('file:///s/', ref, D, 2), `file:///s/team/app@sha256=${'ab'.repeat(32)}/signature-2`);
  const base = `file://${join(tmp, 'store')}`;
  const u1 = await writeLookaside(base, ref, D, Buffer.from('one'));
  const u2 = await writeLookaside(base, ref, D, Buffer.from('two'));
  assert.equal(await writeLookaside(base, ref, D, Buffer.from('one')), u1, 'the same signature is not written twice');
  assert.match(u2, /signature-2$/);
  assert.equal(readFileSync(new URL(u2)).toString(), 'two');
  const read = await readLookaside(base, ref, D);
  assert.deepEqual(
    read.map((r) => r.bytes.toString()),
    ['one', 'two'],
  );
  await assert.rejects(
    writeLookaside('https://sigs.example', ref, D, Buffer.from('x')),
    /only file:\/\/ lookaside stores can be written/,
  );
});

test('an http lookaside store is read as containers/image reads it: signature-1, -2, … until a 404; other answers fail', async () => {
  const ref = parseReference('reg.example:5000/team/app:1');
  const base = `file://${join(tmp, 'served')}`;
  await writeLookaside(base, ref, D, Buffer.from('one'));
  await writeLookaside(base, ref, D, Buffer.from('two'));
  const asked: string[] = [];
  let broken = false;
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (broken) return void res.writeHead(500).end();
    try {
      res.end(readFileSync(join(tmp, 'served', decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const http = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const read = await readLookaside(http, ref, D);
    assert.deepEqual(
      read.map((r) => `${r.url.slice(http.length)} ${r.bytes.toString()}`),
      [`/team/app@sha256=${'ab'.repeat(32)}/signature-1 one`, `/team/app@sha256=${'ab'.repeat(32)}/signature-2 two`],
    );
    assert.equal(asked.length, 3, 'read until the first 404');
    broken = true;
    await assert.rejects(readLookaside(http, ref, D), /signature-1: the server answered 500/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
