import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dockerHost, pluginMain } from './plugin.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-plugin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function context(name: string, host: string): void {
  const id = createHash('sha256').update(name).digest('hex');
  mkdirSync(join(dir, 'contexts', 'meta', id), { recursive: true });
  writeFileSync(
    join(dir, 'contexts', 'meta', id, 'meta.json'),
    JSON.stringify({ Name: name, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }),
  );
}

test('the engine is found as the docker CLI finds it', () => {
  context('berth', 'unix:///run/berth/berth.sock');
  const none = { host: [], context: '', config: dir };
  assert.equal(dockerHost({ ...none, host: ['unix:///x.sock'] }, { DOCKER_HOST: 'unix:///y' }), 'unix:///x.sock');
  assert.equal(dockerHost(none, { DOCKER_HOST: 'unix:///y' }), 'unix:///y');
  assert.equal(dockerHost(none, { DOCKER_CONTEXT: 'berth' }), 'unix:///run/berth/berth.sock');
  assert.equal(dockerHost({ ...none, context: 'berth' }, { DOCKER_HOST: 'unix:///y' }), 'unix:///run/berth/berth.sock');
  assert.equal(dockerHost(none, {}), 'unix:///var/run/docker.sock');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'berth' }));
  assert.equal(dockerHost(none, {}), 'unix:///run/berth/berth.sock');
  assert.throws(() => dockerHost({ ...none, context: 'nope' }, {}), /context "nope": context not found/);
});

test('docker-cli-plugin-metadata answers the plugin metadata', async () => {
  let out = '';
  const stream = {
    stream: process.stdout,
    isTerminal: false,
    columns: undefined,
    write: (t: string) => void (out += t),
  };
  const code = await pluginMain(['docker-cli-plugin-metadata'], {}, { in: process.stdin, out: stream, err: stream });
  assert.equal(code, 0);
  const meta = JSON.parse(out) as Record<string, string>;
  assert.equal(meta.SchemaVersion, '0.1.0');
  assert.equal(meta.Vendor, 'Berth');
  assert.match(meta.Version!, /^v2\./);
  assert.equal(typeof meta.ShortDescription, 'string');
});
