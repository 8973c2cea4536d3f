import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaType } from '../../oci/mediatypes.ts';
import { fetchedBlob } from './blob.ts';
import { Session } from './client.ts';
import { Transport } from './transport.ts';
import { DEFAULT_REGISTRY_CONFIG, type RegistryConfig } from './types.ts';

const layer = { mediaType: MediaType.DockerLayerGzip, digest: `sha256:${'a'.repeat(64)}` as const, size: 10 };
async function* none(): AsyncGenerator<Buffer> {}
const progress = { onBytes: () => {}, onReceived: () => {} };

/** fetchedBlob for a layer of registry.example:5000 over https, with `proxy`. */
function fetched(proxy: RegistryConfig['proxy']) {
  const config = { ...DEFAULT_REGISTRY_CONFIG, certsDir: '/nonexistent', ...(proxy ? { proxy } : {}) };
  const ep = {
    base: 'https://registry.example:5000',
    registry: 'registry.example:5000',
    skipVerify: false,
    mirror: false,
  };
  const session = new Session(new Transport(config), ep, undefined);
  return fetchedBlob(session, 'lib/app', layer, undefined, none, progress);
}

test("the unpack thread downloads a layer itself unless the registry client's proxy rule sends its registry through a proxy", async () => {
  const proxy = 'http://127.0.0.1:3128';
  const direct = await fetched(undefined);
  assert.equal(direct?.fetch.url, `https://registry.example:5000/v2/lib/app/blobs/${layer.digest}`);
  assert.equal(await fetched({ https: proxy }), undefined, 'through the proxy: the registry client downloads');
  assert.equal(await fetched({ https: proxy, noProxy: 'other.example' }), undefined);
  assert.equal(await fetched({ https: proxy, noProxy: 'other.example:443,registry.example:5001' }), undefined);
  for (const noProxy of ['registry.example', '.example', 'registry.example:5000', 'x.test, *.example', '*']) {
    const own = await fetched({ https: proxy, noProxy });
    assert.ok(own, `NO_PROXY=${noProxy}: the thread downloads it`);
    assert.deepEqual(own.fetch.proxy, { https: proxy, noProxy }, 'and takes the rule along for redirects');
  }
  assert.ok(await fetched({ http: proxy }), 'only an http proxy: https goes direct');
});
