/**
 * The pull tests' kit (pull.test.ts, pull-download.test.ts): a registry config for tests, images of two layers
 * pushed with skopeo, a fake registry in node:http serving one image whose blobs may be tampered with, and the check
 * that a failed pull kept nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MediaType } from '../../oci/mediatypes.ts';
import { sha256 } from '../../util/digest.ts';
import { listenLoopback } from '../../util/testkit.ts';
import { archive, legacyArchive, makeImage, makeLayer, type TestEngine, type TestImage } from '../testkit.ts';
import { skopeoOut as skopeo } from './testkit.ts';
import { DEFAULT_REGISTRY_CONFIG, type RegistryConfig } from './types.ts';

export const config = (over: Partial<RegistryConfig> = {}): RegistryConfig => ({
  ...DEFAULT_REGISTRY_CONFIG,
  certsDir: '/nonexistent',
  ...over,
});

export async function tmp(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-pulltest-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

export async function twoLayerImage(extra: Record<string, unknown> = {}): Promise<TestImage> {
  const base = await makeLayer({ 'bin/': '', 'bin/tool': 'v1', 'etc/': '', 'etc/hostname': 'box' }, 'gzip');
  const top = await makeLayer(
    { 'srv/': '', 'srv/data': `top ${JSON.stringify(extra)}`, big: randomBytes(300_000).toString('base64') },
    'gzip',
  );
  return makeImage([base, top], extra);
}

/** Pushes an image with skopeo from a docker-archive; returns the manifest digest the registry holds. */
export async function skopeoPush(
  t: TestContext,
  image: TestImage,
  dest: string,
  extra: string[] = [],
): Promise<string> {
  const dir = await tmp(t);
  const file = join(dir, 'img.tar');
  await writeFile(file, await archive(legacyArchive([{ image, tags: ['x:1'] }])));
  await skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...extra, `docker-archive:${file}`, `docker://${dest}`]);
  const raw = await skopeo([
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...extra.map((a) => a.replace('--dest-', '--')),
    `docker://${dest}`,
  ]);
  return sha256(raw);
}

export async function assertNothingKept(e: TestEngine): Promise<void> {
  assert.deepEqual(e.images.list(), []);
  assert.deepEqual(await e.blobs(), []);
  assert.deepEqual(await e.snapshots(), []);
  assert.deepEqual(await e.ingesting(), []);
}

/** A fake registry serving one image whose blobs may be tampered with. */
export async function fakeRegistry(
  t: TestContext,
  img: TestImage,
  tamper: {
    blob?: string;
    body?: (b: Buffer) => Buffer;
    manifest?: Buffer;
    digestHeader?: string;
    /** Answers a request itself (true) before the registry does. */
    route?: (req: IncomingMessage, res: ServerResponse) => boolean;
    /** Served over HTTPS with this key pair (a 127.0.0.1 registry is insecure: its certificate goes unchecked). */
    tls?: { key: string; cert: string };
  },
): Promise<string> {
  const layers = img.layers.map((l) => ({
    mediaType: MediaType.DockerLayerGzip,
    digest: l.digest,
    size: l.blob.length,
  }));
  const manifest =
    tamper.manifest ??
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: { mediaType: MediaType.DockerConfig, digest: img.configDigest, size: img.config.length },
        layers,
      }),
    );
  const blobs = new Map<string, Buffer>([
    [img.configDigest, img.config],
    ...img.layers.map((l) => [l.digest, l.blob] as [string, Buffer]),
  ]);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (tamper.route?.(req, res)) return;
    const url = (req.url ?? '').replace(/^\/elsewhere\//, '/v2/x/blobs/');
    if (url === '/v2/') return res.end('{}');
    if (/\/manifests\//.test(url)) {
      res.setHeader('Content-Type', JSON.parse(manifest.toString()).mediaType ?? MediaType.DockerManifest);
      res.setHeader('Docker-Content-Digest', tamper.digestHeader ?? sha256(manifest));
      return res.end(manifest);
    }
    const m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(url);
    const b = m && blobs.get(m[1]!);
    if (!b) {
      res.statusCode = 404;
      return res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
    }
    res.end(m[1] === tamper.blob && tamper.body ? tamper.body(b) : b);
  };
  const server = tamper.tls ? createHttpsServer(tamper.tls, handler) : createServer(handler);
  return (await listenLoopback(server, t)).host;
}
