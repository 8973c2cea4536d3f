/**
 * Peers that read and write the same formats: umoci builds an OCI image, skopeo turns it into a docker-archive
 * that berthd loads with the same digests; what berthd saves, skopeo reads and umoci unpacks to the very files
 * of berthd's snapshot. skopeo's docker-daemon: transport (API 1.22) and dockerode talk to berthd directly.
 */
import assert from 'node:assert/strict';
import { chmod, chown, link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { docker, run, startDaemon, type Daemon, type RunResult } from './harness.ts';
import { listing, snapshotFs } from './fixtures.ts';

async function ok(r: Promise<RunResult>, what: string): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, `${what} exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}

const skopeo = (...args: string[]) => ok(run('skopeo', args), `skopeo ${args.join(' ')}`);
const umoci = (...args: string[]) => ok(run('umoci', args), `umoci ${args.join(' ')}`);

interface Inspect {
  Id: string;
  RepoTags: string[];
  RootFS: { Layers: string[] };
}

/** Minimal shape of the dockerode API used here (dockerode ships no types). */
interface Dockerode {
  listImages(opts?: object): Promise<{ Id: string; RepoTags: string[] | null; Size: number }[]>;
  getImage(name: string): {
    inspect(): Promise<Inspect & { Config: { Cmd: string[] } }>;
    tag(opts: { repo: string; tag: string }): Promise<unknown>;
    remove(opts?: { force?: boolean }): Promise<{ Untagged?: string; Deleted?: string }[]>;
    history(): Promise<{ Id: string }[]>;
  };
  version(): Promise<{ ApiVersion: string }>;
  ping(): Promise<unknown>;
}

describe('skopeo, umoci and dockerode with berthd', () => {
  let d: Daemon;
  let work: string;
  /** The umoci-built image as skopeo and umoci see it. */
  let configDigest: string;
  let diffIds: string[];
  let rootfsListing: Map<string, string>;

  before(async () => {
    d = await startDaemon({ seed: true });
    work = join(d.dir, 'work');
    await mkdir(work);
    // An OCI image built with umoci: a layer holding a directory tree with modes, owners and links.
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    await umoci('init', '--layout', layout);
    await umoci('new', '--image', `${layout}:t`);
    await umoci('unpack', '--image', `${layout}:t`, bundle);
    const root = join(bundle, 'rootfs');
    await mkdir(join(root, 'etc/app'), { recursive: true });
    await writeFile(join(root, 'etc/app/config'), 'key=value\n');
    await writeFile(join(root, 'etc/app/suid'), '#!/bin/sh\n');
    await chmod(join(root, 'etc/app/suid'), 0o4755);
    await mkdir(join(root, 'home/user'), { recursive: true });
    await writeFile(join(root, 'home/user/notes'), Buffer.alloc(70_000, 'n'));
    await chown(join(root, 'home/user'), 1000, 1000);
    await chown(join(root, 'home/user/notes'), 1000, 1000);
    await chmod(join(root, 'home/user/notes'), 0o600);
    await symlink('../etc/app/config', join(root, 'home/config-link'));
    await link(join(root, 'etc/app/config'), join(root, 'etc/app/hardlink'));
    await writeFile(join(root, `long-${'x'.repeat(150)}`), 'long name');
    await chmod(join(root, 'etc'), 0o750);
    rootfsListing = await listing(root);
    await umoci('repack', '--image', `${layout}:t`, bundle);
    const manifest = JSON.parse(await skopeo('inspect', '--raw', `oci:${layout}:t`)) as { config: { digest: string } };
    configDigest = manifest.config.digest;
    diffIds = (JSON.parse(await skopeo('inspect', '--config', `oci:${layout}:t`)) as { rootfs: { diff_ids: string[] } })
      .rootfs.diff_ids;
    await skopeo('copy', `oci:${layout}:t`, `docker-archive:${join(work, 'from-skopeo.tar')}:peer/umoci:1`);
  });
  after(async () => {
    await d?.cleanup();
  });

  it("loads skopeo's docker-archive of a umoci image with the same image ID and diff IDs", async () => {
    assert.equal(
      await ok(docker(d, ['load', '-i', join(work, 'from-skopeo.tar')]), 'docker load'),
      'Loaded image: peer/umoci:1\n',
    );
    const [img] = JSON.parse(await ok(docker(d, ['image', 'inspect', 'peer/umoci:1']), 'inspect')) as Inspect[];
    assert.equal(img!.Id, configDigest);
    assert.deepEqual(img!.RootFS.Layers, diffIds);
    // The snapshot holds exactly the files umoci packed: names, modes, owners, sizes, contents, links.
    const fs = await snapshotFs(d.dataRoot, diffIds[0]!);
    assert.deepEqual(await listing(fs), rootfsListing);
  });

  it("saves an archive skopeo reads with the same layers, whose OCI layout umoci unpacks to the snapshot's files", async () => {
    const saved = join(work, 'from-berth.tar');
    await ok(docker(d, ['save', '-o', saved, 'peer/umoci:1', 'busybox:latest']), 'docker save');
    const src = `docker-archive:${saved}:peer/umoci:1`;
    const inspected = JSON.parse(await skopeo('inspect', src)) as { Layers: string[] };
    const raw = JSON.parse(await skopeo('inspect', '--raw', src)) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    assert.equal(raw.config.digest, configDigest);
    // The layer blobs are the ones skopeo's archive held (skopeo writes them uncompressed: digest = diff ID).
    const fromSkopeo = JSON.parse(await skopeo('inspect', `docker-archive:${join(work, 'from-skopeo.tar')}`)) as {
      Layers: string[];
    };
    assert.deepEqual(inspected.Layers, fromSkopeo.Layers);
    assert.deepEqual(inspected.Layers, diffIds);
    assert.deepEqual(
      raw.layers.map((l) => l.digest),
      inspected.Layers,
    );
    const config = JSON.parse(await skopeo('inspect', '--config', src)) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.rootfs.diff_ids, diffIds);

    // The archive is an OCI layout too: umoci unpacks it by its ref name.
    const layout = join(work, 'saved-layout');
    await mkdir(layout);
    await ok(run('tar', ['-xf', saved, '-C', layout]), 'tar -x');
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    assert.deepEqual(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort(), [
      '1',
      'latest',
    ]);
    const bundle = join(work, 'saved-bundle');
    await umoci('unpack', '--image', `${layout}:1`, bundle);
    const fs = await snapshotFs(d.dataRoot, diffIds[0]!);
    assert.deepEqual(await listing(join(bundle, 'rootfs')), await listing(fs));
    assert.deepEqual(await listing(join(bundle, 'rootfs')), rootfsListing);

    // busybox, which berthd made itself (like `docker import`), unpacks to its snapshot's files too.
    const bbBundle = join(work, 'saved-busybox');
    await umoci('unpack', '--image', `${layout}:latest`, bbBundle);
    const bbLayer = (JSON.parse(await ok(docker(d, ['image', 'inspect', 'busybox']), 'inspect')) as Inspect[])[0]!
      .RootFS.Layers[0]!;
    const bbFiles = await listing(join(bbBundle, 'rootfs'));
    assert.ok(bbFiles.size > 100, `busybox has its applets: ${bbFiles.size}`);
    assert.deepEqual(bbFiles, await listing(await snapshotFs(d.dataRoot, bbLayer)));
  });

  it('skopeo reads and writes through the docker-daemon: transport (API 1.22)', async () => {
    const host = ['--daemon-host', d.host];
    const bbId = (await ok(docker(d, ['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect')).trim();
    const raw = JSON.parse(await skopeo('inspect', '--raw', ...host, 'docker-daemon:busybox:latest')) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    assert.equal(raw.config.digest, bbId);
    const bbLayers = (JSON.parse(await ok(docker(d, ['image', 'inspect', 'busybox']), 'inspect')) as Inspect[])[0]!
      .RootFS.Layers;
    // busybox's layer is stored uncompressed, so its blob digest is its diff ID.
    assert.deepEqual(
      raw.layers.map((l) => l.digest),
      bbLayers,
    );

    // And into berthd: the umoci layout, copied by skopeo straight into the daemon.
    await skopeo(
      'copy',
      '--dest-daemon-host',
      d.host,
      `oci:${join(work, 'layout')}:t`,
      'docker-daemon:peer/via-daemon:1',
    );
    const [img] = JSON.parse(await ok(docker(d, ['image', 'inspect', 'peer/via-daemon:1']), 'inspect')) as Inspect[];
    assert.deepEqual(img!.RootFS.Layers, diffIds);
  });

  it('dockerode lists, inspects, tags and removes images', async () => {
    const modName = 'dockerode';
    const { default: Docker } = (await import(modName)) as { default: new (opts: { socketPath: string }) => Dockerode };
    const client = new Docker({ socketPath: d.socket });
    assert.ok(await client.ping());
    assert.equal((await client.version()).ApiVersion, '1.47');
    const list = await client.listImages();
    const bb = list.find((i) => i.RepoTags?.includes('busybox:latest'));
    assert.ok(bb, JSON.stringify(list));
    assert.ok(bb.Size > 1_000_000);
    const inspected = await client.getImage('busybox').inspect();
    assert.equal(inspected.Id, bb.Id);
    assert.deepEqual(inspected.Config.Cmd, ['sh']);
    assert.equal((await client.getImage('busybox').history()).length >= 1, true);

    await client.getImage('busybox').tag({ repo: 'dockerode/tagged', tag: 'v1' });
    const after = await client.listImages({ filters: JSON.stringify({ reference: ['dockerode/*'] }) });
    assert.deepEqual(
      after.map((i) => i.RepoTags),
      [['dockerode/tagged:v1']],
    );
    assert.equal(after[0]!.Id, bb.Id);

    assert.deepEqual(await client.getImage('dockerode/tagged:v1').remove(), [{ Untagged: 'dockerode/tagged:v1' }]);
    await assert.rejects(
      client.getImage('dockerode/tagged:v1').inspect(),
      (err: { statusCode?: number }) => err.statusCode === 404,
    );

    // The umoci image came in twice (by archive and through docker-daemon:) as the same image: removing one tag
    // only untags; removing the last deletes it.
    assert.deepEqual(await client.getImage('peer/via-daemon:1').remove(), [{ Untagged: 'peer/via-daemon:1' }]);
    const removed = await client.getImage('peer/umoci:1').remove();
    assert.ok(
      removed.some((r) => r.Deleted === configDigest),
      JSON.stringify(removed),
    );
    await assert.rejects(
      client.getImage(configDigest).inspect(),
      (err: { statusCode?: number }) => err.statusCode === 404,
    );
  });
});
