/** The real docker CLI (28.x) against berthd: every image and system command a user runs, as docker prints it. */
import assert from 'node:assert/strict';
import { writeFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract } from '../src/util/tar/index.ts';
import { api, docker, startDaemon, type Daemon } from './harness.ts';
import { dir, file, smallImageArchive, tarOf } from './fixtures.ts';

const ID12 = /^[0-9a-f]{12}$/;

function rows(out: string): string[][] {
  return out
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{2,}/));
}

async function ok(d: Daemon, args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(d, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe('docker CLI against berthd', () => {
  let d: Daemon;
  let busyboxId: string;
  const t0 = (Date.now() / 1000).toFixed(3);

  before(async () => {
    d = await startDaemon({ seed: true });
    busyboxId = (await ok(d, ['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest'])).trim();
  });
  after(async () => {
    await d?.cleanup();
  });

  it('docker version shows the Berth engine and its API version', async () => {
    const out = await ok(d, ['version']);
    assert.match(out, /^Server: Berth Engine$/m);
    assert.match(out, /^ Engine:\n {2}Version: +\d+\.\d+\.\d+$/m);
    assert.match(out, /^ {2}API version: +1\.47 \(minimum version 1\.2\d\)$/m);
    assert.match(out, /^ {2}OS\/Arch: +linux\/amd64$/m);
    const fmt = await ok(d, ['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(fmt.trim(), '1.47');
  });

  it('docker info shows images, the data root and the OS', async () => {
    const out = await ok(d, ['info']);
    assert.match(out, /^ Images: 1$/m);
    assert.match(out, /^ Containers: 0$/m);
    assert.match(out, /^ Server Version: \d+\.\d+\.\d+$/m);
    assert.equal(out.match(/^ Docker Root Dir: (.*)$/m)?.[1], d.dataRoot);
    assert.match(out, /^ OSType: linux$/m);
    assert.equal((await ok(d, ['info', '--format', '{{.Images}} {{.OSType}}'])).trim(), '1 linux');
  });

  it("docker images lists busybox with docker's columns, -q, --digests, --no-trunc and --format", async () => {
    const table = rows(await ok(d, ['images']));
    assert.deepEqual(table[0], ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    const bb = table.find((r) => r[0] === 'busybox')!;
    assert.equal(bb[1], 'latest');
    assert.equal(bb[2], busyboxId.slice(7, 19));
    assert.match(bb[4]!, /^\d+(\.\d+)?MB$/);

    const q = (await ok(d, ['images', '-q'])).trim().split('\n');
    assert.ok(q.length >= 1 && q.every((l) => ID12.test(l)));
    assert.ok(q.includes(busyboxId.slice(7, 19)));

    const dg = rows(await ok(d, ['images', '--digests']));
    assert.deepEqual(dg[0], ['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
    assert.match(dg.find((r) => r[0] === 'busybox')![2]!, /^sha256:[0-9a-f]{64}$/);

    const full = await ok(d, ['images', '--no-trunc', '-q', 'busybox']);
    assert.equal(full.trim(), busyboxId);

    const fmt = await ok(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.ok(fmt.split('\n').includes('busybox:latest'), fmt);
    const json = JSON.parse((await ok(d, ['images', '--format', '{{json .}}', 'busybox'])).trim()) as Record<
      string,
      string
    >;
    assert.equal(json.Repository, 'busybox');
    assert.equal(json.ID, busyboxId.slice(7, 19));
  });

  it('docker load -i loads an archive and docker save -o writes one that loads back with the same ID', async () => {
    const { archive, image } = await smallImageArchive('cli-docker-1', ['loaded/one:v1', 'loaded/one:v2']);
    const path = join(d.dir, 'one.tar');
    await writeFile(path, archive);
    const out = await ok(d, ['load', '-i', path]);
    assert.equal(out, 'Loaded image: loaded/one:v1\nLoaded image: loaded/one:v2\n');
    assert.equal((await ok(d, ['image', 'inspect', '-f', '{{.Id}}', 'loaded/one:v1'])).trim(), image.configDigest);

    const saved = join(d.dir, 'saved.tar');
    assert.equal(await ok(d, ['save', '-o', saved, 'loaded/one:v1', 'busybox']), '');
    assert.ok((await stat(saved)).size > 2048);
    const names: string[] = [];
    const src = (async function* () {
      yield await readFile(saved);
    })();
    for await (const e of extract(src)) {
      names.push(e.header.name);
      for await (const _ of e.body);
    }
    assert.ok(
      names.includes('manifest.json') && names.includes('index.json') && names.includes('oci-layout'),
      names.join(' '),
    );
    assert.ok(names.includes(`blobs/sha256/${image.configDigest.slice(7)}`));

    await ok(d, ['rmi', 'loaded/one:v1', 'loaded/one:v2']);
    const back = await ok(d, ['load', '-i', saved]);
    assert.match(back, /^Loaded image: loaded\/one:v1$/m);
    assert.match(back, /^Loaded image: busybox:latest$/m);
    assert.equal((await ok(d, ['image', 'inspect', '-f', '{{.Id}}', 'loaded/one:v1'])).trim(), image.configDigest);
    assert.equal((await ok(d, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim(), busyboxId);
  });

  it('docker save of an unknown image fails with a clear message', async () => {
    const r = await docker(d, ['save', '-o', join(d.dir, 'never.tar'), 'nothing:here']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: .*nothing:here/);
  });

  it('docker import from a file and from stdin, with --change CMD/ENV/WORKDIR', async () => {
    const rootfs = await tarOf([dir('x'), dir('bin'), file('x/hello', 'hi\n'), file('bin/tool', '#!/bin/sh\n', 0o755)]);
    const path = join(d.dir, 'rootfs.tar');
    await writeFile(path, rootfs);
    const fromFile = await ok(d, [
      'import',
      '--change',
      'CMD ["sh"]',
      '--change',
      'ENV A=b',
      '--change',
      'WORKDIR /x',
      path,
      'imported/file:1',
    ]);
    assert.match(fromFile, /^sha256:[0-9a-f]{64}\n$/);
    const cfg = JSON.parse(
      await ok(d, ['image', 'inspect', '--format', '{{json .Config}}', 'imported/file:1']),
    ) as Record<string, unknown>;
    assert.deepEqual(cfg.Cmd, ['sh']);
    assert.deepEqual(cfg.Env, ['A=b']);
    assert.equal(cfg.WorkingDir, '/x');
    assert.equal((await ok(d, ['image', 'inspect', '-f', '{{.Id}}', 'imported/file:1'])).trim(), fromFile.trim());

    const fromStdin = await ok(
      d,
      ['import', '--change', 'ENV A=c', '-m', 'from stdin', '-', 'imported/stdin:1'],
      rootfs,
    );
    assert.match(fromStdin, /^sha256:[0-9a-f]{64}\n$/);
    const inspect = JSON.parse(await ok(d, ['image', 'inspect', 'imported/stdin:1'])) as {
      Config: { Env: string[] };
      Comment: string;
      RootFS: { Layers: string[] };
    }[];
    assert.deepEqual(inspect[0]!.Config.Env, ['A=c']);
    assert.equal(inspect[0]!.Comment, 'from stdin');
    assert.equal(inspect[0]!.RootFS.Layers.length, 1);
    const hist = rows(await ok(d, ['history', 'imported/stdin:1']));
    assert.equal(hist[1]![hist[1]!.length - 1], 'from stdin');
  });

  it("docker tag and docker rmi, with docker's wording and a 409 for an ID in several repositories", async () => {
    assert.equal(await ok(d, ['tag', 'busybox', 'mine/bb:1']), '');
    assert.equal(await ok(d, ['tag', 'busybox:latest', 'other:2']), '');
    const listed = await ok(d, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.match(listed, new RegExp(`^mine/bb:1 ${busyboxId.slice(7, 19)}$`, 'm'));
    assert.match(listed, new RegExp(`^other:2 ${busyboxId.slice(7, 19)}$`, 'm'));

    const conflict = await docker(d, ['rmi', busyboxId.slice(7, 19)]);
    assert.equal(conflict.code, 1);
    assert.equal(
      conflict.stderr.trim(),
      `Error response from daemon: conflict: unable to delete ${busyboxId.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
    );

    assert.equal(await ok(d, ['rmi', 'mine/bb:1']), 'Untagged: mine/bb:1\n');
    assert.equal(await ok(d, ['image', 'rm', 'other:2']), 'Untagged: other:2\n');
    const missing = await docker(d, ['rmi', 'no/such:image']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'Error response from daemon: No such image: no/such:image');

    const { archive, image } = await smallImageArchive('cli-docker-rmi', ['gone:1']);
    await ok(d, ['load'], archive);
    const gone = await ok(d, ['rmi', 'gone:1']);
    assert.match(gone, /^Untagged: gone:1\nDeleted: sha256:[0-9a-f]{64}\n/);
    assert.ok(gone.includes(`Deleted: ${image.configDigest}`));
    assert.ok(gone.includes(`Deleted: ${image.layers[0]!.diffId}`), gone);
  });

  it('docker image inspect and docker history', async () => {
    const inspect = JSON.parse(await ok(d, ['image', 'inspect', 'busybox'])) as Record<string, unknown>[];
    assert.equal(inspect.length, 1);
    const i = inspect[0]!;
    assert.equal(i.Id, busyboxId);
    assert.deepEqual(i.RepoTags, ['busybox:latest']);
    assert.equal(i.Os, 'linux');
    assert.equal(i.Architecture, 'amd64');
    assert.deepEqual((i.Config as { Cmd: string[] }).Cmd, ['sh']);

    const notFound = await docker(d, ['image', 'inspect', 'nope:1']);
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, /No such image: nope:1/);

    const hist = rows(await ok(d, ['history', 'busybox']));
    assert.deepEqual(hist[0], ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    assert.equal(hist[1]![0], busyboxId.slice(7, 19));
    const noTrunc = await ok(d, ['history', '--no-trunc', '-q', 'busybox']);
    assert.equal(noTrunc.trim().split('\n')[0], busyboxId);
  });

  it('docker images --filter dangling=true and reference=…, and docker image prune -f', async () => {
    const a = await smallImageArchive('cli-docker-prune-a', ['prn:1']);
    const b = await smallImageArchive('cli-docker-prune-b', ['prn:1']);
    const untagged = await smallImageArchive('cli-docker-prune-c', []);
    await ok(d, ['load'], a.archive);
    await ok(d, ['load'], b.archive); // takes prn:1, leaving a dangling (but in prn:1's history)
    assert.equal(await ok(d, ['load'], untagged.archive), `Loaded image ID: ${untagged.image.configDigest}\n`);
    const dangling = rows(await ok(d, ['images', '--filter', 'dangling=true']));
    assert.deepEqual(
      dangling
        .slice(1)
        .map((r) => [r[0], r[1], r[2]])
        .sort(),
      [a, untagged].map((x) => ['<none>', '<none>', x.image.configDigest.slice(7, 19)]).sort(),
    );
    const byRef = (
      await ok(d, ['images', '--filter', 'reference=prn', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
    ).trim();
    assert.equal(byRef, `prn:1 ${b.image.configDigest.slice(7, 19)}`);
    const glob = (await ok(d, ['images', '--filter', 'reference=busy*:lat*', '-q'])).trim();
    assert.equal(glob, busyboxId.slice(7, 19));

    // Prune deletes the dangling image no tag's history needs; prn:1's previous version stays (Berth keeps
    // tags' recent history until `berth image prune --history`).
    const pruned = await ok(d, ['image', 'prune', '-f']);
    assert.match(pruned, /^Deleted Images:\n/);
    assert.ok(pruned.includes(`deleted: ${untagged.image.configDigest}`), pruned);
    assert.ok(!pruned.includes(a.image.configDigest), pruned);
    assert.match(pruned, /^Total reclaimed space: \d+(\.\d+)?k?B$/m);
    assert.equal(
      (await ok(d, ['images', '--filter', 'dangling=true', '-q'])).trim(),
      a.image.configDigest.slice(7, 19),
    );
    assert.equal((await ok(d, ['image', 'prune', '-f'])).trim(), 'Total reclaimed space: 0B');
  });

  it('docker system df', async () => {
    const table = rows(await ok(d, ['system', 'df']));
    assert.deepEqual(table[0], ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
    const images = table.find((r) => r[0] === 'Images')!;
    const listed = (await ok(d, ['images', '-q'])).trim().split('\n');
    assert.equal(Number(images[1]), new Set(listed).size);
    assert.equal(images[2], '0');
    assert.match(images[3]!, /^\d+(\.\d+)?[kM]?B$/);
    assert.match(images[4]!, /^\d+(\.\d+)?[kM]?B \(100%\)$/);
    assert.ok(table.some((r) => r[0] === 'Containers'));
  });

  it('docker events --since … --until … shows load, import, tag, untag and delete', async () => {
    // Everything the earlier tests did happened after t0.
    const t1 = (Date.now() / 1000).toFixed(3);
    const out = await ok(d, [
      'events',
      '--since',
      t0,
      '--until',
      t1,
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ]);
    const events = out.trim().split('\n');
    for (const e of [
      'image load loaded/one:v1',
      'image import imported/file:1',
      'image tag mine/bb:1',
      'image untag mine/bb:1',
      'image untag gone:1',
      'image delete <no value>',
    ]) {
      assert.ok(events.includes(e), `${e} missing from:\n${out}`);
    }
    // Nothing after --until is shown, and the stream ends by itself.
    await ok(d, ['tag', 'busybox', 'late:1']);
    const again = await ok(d, ['events', '--since', t0, '--until', t1]);
    assert.ok(!again.includes('late:1'));
    assert.ok(again.includes('image load'));
    // The raw API agrees (filters by type).
    const raw = await api(
      d.socket,
      'GET',
      `/events?since=${t0}&until=${t1}&filters=${encodeURIComponent('{"type":["image"],"event":["delete"]}')}`,
    );
    assert.equal(raw.status, 200);
    const lines = raw.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Action: string; Type: string });
    assert.ok(lines.length >= 1 && lines.every((l) => l.Type === 'image' && l.Action === 'delete'));
  });
});

describe('docker system prune -a --volumes', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon({ seed: true });
  });
  after(async () => {
    await d?.cleanup();
  });

  it('removes stopped containers, every unused image and anonymous volumes; a named volume stays', async () => {
    await ok(d, ['volume', 'create', 'kept-named']);
    await ok(d, ['run', '--network', 'none', '--name', 'stopped-one', '-v', '/anon', 'busybox', 'true']);
    const anon = (await ok(d, ['inspect', '--format', '{{(index .Mounts 0).Name}}', 'stopped-one'])).trim();
    await ok(d, ['tag', 'busybox', 'extra-tag:1']);
    const before = await ok(d, ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    assert.match(before, /^Images 1$/m);
    const out = await ok(d, ['system', 'prune', '-af', '--volumes']);
    assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n/m);
    assert.match(out, new RegExp(`^Deleted Volumes:\\n${anon}\\n`, 'm'));
    assert.match(out, /^untagged: busybox:latest$/m);
    assert.match(out, /^untagged: extra-tag:1$/m);
    assert.match(out, /^deleted: sha256:[0-9a-f]{64}$/m);
    assert.match(out, /^Total reclaimed space: /m);
    assert.equal((await ok(d, ['ps', '-aq'])).trim(), '');
    assert.equal((await ok(d, ['images', '-q'])).trim(), '');
    assert.equal((await ok(d, ['volume', 'ls', '-q'])).trim(), 'kept-named');
    // Nothing left to prune: the same command says so.
    const again = await ok(d, ['system', 'prune', '-af', '--volumes']);
    assert.match(again, /^Total reclaimed space: 0B$/m);
  });
});
