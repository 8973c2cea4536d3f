/** The raw Engine API on berthd's socket: ping, versioning, errors, filters, load and save. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { extract } from '../src/util/tar/index.ts';
import { api, startDaemon, type Daemon } from './harness.ts';
import { collect, smallImageArchive } from './fixtures.ts';

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** The files of a tar archive: name → content. */
async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of extract(once(buf))) out.set(e.header.name, await collect(e.body));
  return out;
}

function lines(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Engine API', () => {
  let d: Daemon;
  let a: Awaited<ReturnType<typeof smallImageArchive>>;
  let b: Awaited<ReturnType<typeof smallImageArchive>>;

  before(async () => {
    d = await startDaemon();
    a = await smallImageArchive('api-a', ['apia:1']);
    b = await smallImageArchive('api-b', ['apib:1']);
  });
  after(async () => {
    await d?.cleanup();
  });

  it('HEAD /_ping answers with Docker headers and an empty body', async () => {
    const r = await api(d.socket, 'HEAD', '/_ping');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['api-version']), /^1\.(4[4-9]|50)$/);
    assert.equal(r.headers.ostype, 'linux');
    assert.equal(r.headers['docker-experimental'], 'false');
    assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(r.headers.pragma, 'no-cache');
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.body, '');
  });

  it('GET /_ping (unversioned and versioned) answers OK', async () => {
    for (const path of ['/_ping', '/v1.44/_ping']) {
      const r = await api(d.socket, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, 'OK');
      assert.equal(r.headers.ostype, 'linux');
      assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
      assert.match(String(r.headers['content-type']), /^text\/plain/);
    }
  });

  it('serves /version on every supported version and unversioned, with ApiVersion', async () => {
    const advertised = (await api(d.socket, 'HEAD', '/_ping')).headers['api-version'];
    for (const path of ['/v1.24/version', '/v1.50/version', '/version']) {
      const r = await api(d.socket, 'GET', path);
      assert.equal(r.status, 200, path);
      const v = JSON.parse(r.body) as { ApiVersion: string; Os: string; Components: { Name: string }[] };
      assert.equal(v.ApiVersion, advertised, path);
      assert.equal(v.Os, 'linux');
      assert.ok(v.Components.some((c) => c.Name === 'Engine'));
    }
  });

  it("rejects versions too new or too old with 400 and Docker's wording", async () => {
    const tooNew = await api(d.socket, 'GET', '/v1.51/version');
    assert.equal(tooNew.status, 400);
    assert.match(
      JSON.parse(tooNew.body).message,
      /client version 1\.51 is too new\. Maximum supported API version is 1\.50/,
    );
    const tooOld = await api(d.socket, 'GET', '/v1.10/version');
    assert.equal(tooOld.status, 400);
    assert.match(JSON.parse(tooOld.body).message, /client version 1\.10 is too old\. Minimum supported API version is/);
  });

  it('answers an unknown path with 404 page not found as JSON', async () => {
    for (const path of ['/nope', '/v1.47/containers/x/nothing-here']) {
      const r = await api(d.socket, 'GET', path);
      assert.equal(r.status, 404, path);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
    }
  });

  it('serves /info with the fields clients read', async () => {
    const r = await api(d.socket, 'GET', '/v1.47/info');
    assert.equal(r.status, 200);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(info.OSType, 'linux');
    assert.equal(info.DockerRootDir, d.dataRoot);
    for (const k of [
      'ID',
      'Name',
      'ServerVersion',
      'Images',
      'Containers',
      'Driver',
      'DefaultRuntime',
      'MemTotal',
      'NCPU',
    ])
      assert.ok(k in info, k);
  });

  it('loads with JSON-lines progress, or only the result with quiet=1', async () => {
    const r = await api(d.socket, 'POST', '/images/load', a.archive, { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200);
    const msgs = lines(r.body);
    assert.ok(
      msgs.some((m) => m.status === 'Loading layer' && typeof m.progressDetail === 'object'),
      r.body,
    );
    assert.deepEqual(msgs.at(-1), { stream: 'Loaded image: apia:1\n' });

    const q = await api(d.socket, 'POST', '/images/load?quiet=1', b.archive, { 'Content-Type': 'application/x-tar' });
    assert.equal(q.status, 200);
    assert.deepEqual(lines(q.body), [{ stream: 'Loaded image: apib:1\n' }]);
  });

  it('reports a load failure in the JSON stream or as an error status', async () => {
    const r = await api(d.socket, 'POST', '/images/load?quiet=1', a.archive.subarray(0, 1000));
    const msg = r.status === 200 ? String(lines(r.body).find((m) => m.error)?.error) : JSON.parse(r.body).message;
    assert.match(msg, /unexpected end|truncated|cut short/);
  });

  it('lists with filters, new and legacy forms, and rejects bad filter JSON with 400', async () => {
    const all = JSON.parse((await api(d.socket, 'GET', '/images/json')).body) as { Id: string; RepoTags: string[] }[];
    assert.ok(all.some((i) => i.Id === a.image.configDigest && i.RepoTags.includes('apia:1')));
    // Make a dangling image: move apib:1's tag to apia's image.
    assert.equal((await api(d.socket, 'POST', `/images/${a.image.configDigest}/tag?repo=apib&tag=1`)).status, 201);
    const q = (f: unknown) => `/images/json?filters=${encodeURIComponent(JSON.stringify(f))}`;
    for (const f of [{ dangling: { true: true } }, { dangling: ['true'] }]) {
      const r = await api(d.socket, 'GET', q(f));
      assert.equal(r.status, 200);
      const ids = (JSON.parse(r.body) as { Id: string }[]).map((i) => i.Id);
      assert.deepEqual(ids, [b.image.configDigest], JSON.stringify(f));
    }
    const notDangling = (
      JSON.parse((await api(d.socket, 'GET', q({ dangling: { false: true } }))).body) as { Id: string }[]
    ).map((i) => i.Id);
    assert.ok(notDangling.includes(a.image.configDigest) && !notDangling.includes(b.image.configDigest));
    const byRef = JSON.parse((await api(d.socket, 'GET', q({ reference: { 'apia:*': true } }))).body) as {
      RepoTags: string[];
    }[];
    // Only the matching tags are listed, as Docker lists them (apia's image is also apib:1 now).
    assert.deepEqual(
      byRef.map((i) => i.RepoTags),
      [['apia:1']],
    );

    const bad = await api(d.socket, 'GET', '/images/json?filters=%7Bnot-json');
    assert.equal(bad.status, 400);
    assert.ok(typeof JSON.parse(bad.body).message === 'string');
    const unknown = await api(d.socket, 'GET', q({ colour: { red: true } }));
    assert.equal(unknown.status, 400);
    assert.match(JSON.parse(unknown.body).message, /colour/);
  });

  it('maps errors to Docker status codes with {"message"} bodies', async () => {
    const missing = await api(d.socket, 'GET', '/images/no-such-image:1/json');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such image: no-such-image:1' });
    const rmMissing = await api(d.socket, 'DELETE', '/images/no-such-image:1');
    assert.equal(rmMissing.status, 404);
    // An ID tagged in two repositories cannot be deleted by ID without force.
    await api(d.socket, 'POST', `/images/${a.image.configDigest}/tag?repo=other&tag=x`);
    const conflict = await api(d.socket, 'DELETE', `/images/${a.image.configDigest.slice(7, 19)}`);
    assert.equal(conflict.status, 409);
    assert.match(
      JSON.parse(conflict.body).message,
      /^conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories$/,
    );
    const badRef = await api(d.socket, 'POST', `/images/${a.image.configDigest}/tag?repo=UPPER&tag=1`);
    assert.equal(badRef.status, 400);
    assert.match(JSON.parse(badRef.body).message, /invalid reference format/);
  });

  it('keeps an /events stream with a far `until` open (no timer overflow), and ends it at `until`', async () => {
    const now = Date.now() / 1000;
    for (const [until, open] of [
      [now + 40 * 86400, true],
      [now + 0.2, false],
    ] as const) {
      const ended = await new Promise<boolean>((resolve) => {
        const req = request({ socketPath: d.socket, path: `/events?until=${until.toFixed(3)}` }, (res) => {
          res.resume();
          res.on('end', () => resolve(true));
        });
        req.on('error', () => resolve(false));
        req.end();
        setTimeout(() => {
          req.destroy();
          resolve(false);
        }, 1000);
      });
      assert.equal(ended, !open, `until=${until}`);
    }
  });

  it('saves several images with /images/get?names=…&names=…, and one with /images/{name}/get', async () => {
    const both = await api(
      d.socket,
      'GET',
      `/images/get?names=apia:1&names=${encodeURIComponent(b.image.configDigest)}`,
    );
    assert.equal(both.status, 200);
    assert.equal(both.headers['content-type'], 'application/x-tar');
    const files = await untar(both.raw);
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as {
      Config: string;
      RepoTags: string[] | null;
    }[];
    assert.deepEqual(
      manifest.map((m) => m.Config).sort(),
      [a.image.configDigest, b.image.configDigest].map((c) => `blobs/sha256/${c.slice(7)}`).sort(),
    );
    assert.ok(files.has('index.json') && files.has('oci-layout'));
    for (const m of manifest) assert.ok(files.has(m.Config), m.Config);

    const one = await api(d.socket, 'GET', '/images/apia:1/get');
    assert.equal(one.status, 200);
    const f1 = await untar(one.raw);
    const m1 = JSON.parse(f1.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[] }[];
    assert.equal(m1.length, 1);
    assert.equal(m1[0]!.Config, `blobs/sha256/${a.image.configDigest.slice(7)}`);
    assert.deepEqual(m1[0]!.RepoTags, ['apia:1']);
    // The layer blob is byte for byte what was loaded (an uncompressed layer keeps its digest).
    assert.deepEqual(f1.get(`blobs/sha256/${a.image.layers[0]!.digest.slice(7)}`), a.image.layers[0]!.blob);

    const none = await api(d.socket, 'GET', '/images/nothing:here/get');
    assert.equal(none.status, 404);
  });

  it("gives each API version the fields Docker's version history gives it", async () => {
    const load = await api(d.socket, 'POST', '/images/load?quiet=1', a.archive, {
      'Content-Type': 'application/x-tar',
    });
    assert.equal(load.status, 200);
    const get = async (v: string, path: string) => {
      const r = await api(d.socket, 'GET', `/v${v}${path}`);
      assert.equal(r.status, 200, `${v} ${path}: ${r.body}`);
      return JSON.parse(r.body) as Record<string, unknown>;
    };
    // Image inspect: VirtualSize until 1.43, Container and ContainerConfig until 1.44, Descriptor from 1.48.
    const has = (o: Record<string, unknown>) =>
      ['VirtualSize', 'Container', 'ContainerConfig', 'Descriptor'].filter((k) => k in o);
    assert.deepEqual(has(await get('1.41', '/images/apia:1/json')), ['VirtualSize', 'Container', 'ContainerConfig']);
    assert.deepEqual(has(await get('1.44', '/images/apia:1/json')), ['Container', 'ContainerConfig']);
    assert.deepEqual(has(await get('1.47', '/images/apia:1/json')), []);
    const desc = (await get('1.48', '/images/apia:1/json')).Descriptor as { mediaType: string; digest: string };
    assert.match(desc.digest, /^sha256:[0-9a-f]{64}$/);
    // Image list: VirtualSize until 1.43; an untagged image shows <none>:<none> before 1.44 and [] from then on.
    const list = async (v: string) =>
      (
        (await get(v, `/images/json?filters=${encodeURIComponent('{"reference":["apia"]}')}`)) as unknown as Record<
          string,
          unknown
        >[]
      )[0] ?? {};
    assert.ok('VirtualSize' in (await list('1.43')));
    assert.ok(!('VirtualSize' in (await list('1.44'))));
    // Networks: EnableIPv4 from 1.47.
    assert.ok(!('EnableIPv4' in (await get('1.46', '/networks/none'))));
    assert.equal(typeof (await get('1.47', '/networks/none')).EnableIPv4, 'boolean');
  });
});
