/**
 * bin/berth against berthd: it prints what the docker CLI prints for the same command (both are run against the
 * same daemon and compared), plus Berth's additions: tag history, rollback, prune --history.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BERTH, api, berth, docker, run, startDaemon, type Daemon, type RunResult } from './harness.ts';
import { dir, file, image, layer, legacyArchive, smallImageArchive, tarOf } from './fixtures.ts';

async function ok(r: Promise<RunResult>, what: string): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, `${what} exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}

/** Runs the same arguments through docker and berth; both must succeed and print the same. */
async function same(d: Daemon, args: string[], input?: Buffer): Promise<string> {
  const dk = await ok(docker(d, args, input), `docker ${args.join(' ')}`);
  const bt = await ok(berth(d, args, input), `berth ${args.join(' ')}`);
  assert.equal(bt, dk, `berth ${args.join(' ')} differs from docker`);
  return bt;
}

/** Runs the same failing arguments through both; both must fail and print the same error. */
async function sameError(d: Daemon, args: string[]): Promise<RunResult> {
  const dk = await docker(d, args);
  const bt = await berth(d, args);
  assert.notEqual(dk.code, 0);
  assert.notEqual(bt.code, 0, `berth ${args.join(' ')} should fail`);
  assert.equal(
    bt.stderr.replaceAll('berth', 'docker'),
    dk.stderr,
    `berth ${args.join(' ')}: error differs from docker's`,
  );
  return bt;
}

describe('berth CLI against berthd', () => {
  let d: Daemon;
  let v1: Awaited<ReturnType<typeof smallImageArchive>>;
  let v2: Awaited<ReturnType<typeof smallImageArchive>>;
  let v3: Awaited<ReturnType<typeof smallImageArchive>>;

  before(async () => {
    d = await startDaemon();
    v1 = await smallImageArchive('berth-v1', ['app:1']);
    v2 = await smallImageArchive('berth-v2', ['app:1']);
    v3 = await smallImageArchive('berth-v3', ['app:1']);
    // A two-layer image with history and labels, for inspect and history.
    const base = await layer([dir('etc'), file('etc/os', 'test\n')], { gzip: true });
    const top = await layer([dir('app'), file('app/run', '#!/bin/sh\n', 0o755)]);
    const img = image([base, top], {
      config: { Cmd: ['/app/run'], Env: ['PATH=/bin'], Labels: { 'org.example': 'yes' } },
      history: [
        { created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:abc in / ' },
        { created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop)  CMD ["/app/run"]', empty_layer: true },
        {
          created: '2024-01-02T00:00:00Z',
          created_by: 'COPY run /app/run # buildkit',
          comment: 'buildkit.dockerfile.v0',
        },
      ],
    });
    await ok(
      berth(d, ['load'], await tarOf(legacyArchive([{ image: img, tags: ['two/layers:latest', 'two/layers:other'] }]))),
      'berth load',
    );
  });
  after(async () => {
    await d?.cleanup();
  });

  it('berth version and info show the same server as docker', async () => {
    const bv = await ok(berth(d, ['version']), 'berth version');
    const dv = await ok(docker(d, ['version']), 'docker version');
    assert.equal(bv.slice(bv.indexOf('Server:')), dv.slice(dv.indexOf('Server:')));
    const bi = await ok(berth(d, ['info']), 'berth info');
    const di = await ok(docker(d, ['info']), 'docker info');
    assert.match(bi, /^ Images: 1$/m);
    // Berth's additions: the network backend and the firewall chains it hooks (docker does not know the field).
    assert.match(bi, /^ Network Backend: berth$/m);
    const berthOnly = /^ Network Backend: .*\n( {2}Firewall Chains: .*\n)?/m;
    // docker prints the runtimes in Go's map order, which varies from run to run.
    const server = (out: string) =>
      out
        .slice(out.indexOf('Server:'))
        .replace(berthOnly, '')
        .replace(/^ Runtimes: (.*)$/m, (_l, names: string) => ` Runtimes: ${names.split(' ').sort().join(' ')}`);
    assert.equal(server(bi), server(di));
    await same(d, ['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
  });

  it('berth images, -q, -a, --digests, --no-trunc, --format and filters print what docker prints', async () => {
    await same(d, ['images']);
    await same(d, ['image', 'ls', '-q']);
    await same(d, ['images', '-a']);
    await same(d, ['images', '--digests']);
    await same(d, ['images', '--no-trunc']);
    await same(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    await same(d, ['images', '--format', '{{.ID}}\t{{.Size}}']);
    await same(d, ['images', '--format', '{{json .}}']);
    await same(d, ['images', '--format', 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}']);
    await same(d, ['images', '--filter', 'reference=two/*']);
    await same(d, ['images', '--filter', 'label=org.example=yes']);
    await same(d, ['images', '--filter', 'dangling=true']);
    const listed = await same(d, ['images', 'two/layers']);
    assert.match(listed, /^two\/layers +latest +[0-9a-f]{12} +\d+ (years|months) ago +\d+B$/m);
  });

  it('berth image inspect and history print what docker prints', async () => {
    const inspect = await same(d, ['image', 'inspect', 'two/layers']);
    assert.equal((JSON.parse(inspect) as { RootFS: { Layers: string[] } }[])[0]!.RootFS.Layers.length, 2);
    await same(d, ['image', 'inspect', '--format', '{{.Id}} {{json .Config.Labels}}', 'two/layers:other']);
    const hist = await same(d, ['history', 'two/layers']);
    assert.match(hist, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/m);
    assert.match(hist, /COPY run \/app\/run # buildkit +\d+B +buildkit\.dockerfile\.v0/);
    assert.match(hist, /<missing> +\d+ years ago +\/bin\/sh -c #\(nop\) {2}CMD \["\/app\/run"\] +0B/);
    await same(d, ['history', '--no-trunc', 'two/layers']);
    await same(d, ['image', 'history', '-q', 'two/layers']);
    await sameError(d, ['image', 'inspect', 'missing:1']);
    await sameError(d, ['history', 'missing:1']);
  });

  it("berth load, tag, rmi and save; errors match docker's", async () => {
    const loaded = await ok(berth(d, ['load'], v1.archive), 'berth load');
    assert.equal(loaded, 'Loaded image: app:1\n');
    const path = join(d.dir, 'v1.tar');
    await writeFile(path, v1.archive);
    assert.equal(await ok(berth(d, ['load', '-i', path]), 'berth load -i'), 'Loaded image: app:1\n');
    assert.equal(await ok(berth(d, ['load', '-q', '-i', path]), 'berth load -q'), 'Loaded image: app:1\n');

    assert.equal(await ok(berth(d, ['tag', 'app:1', 'copy/app:x']), 'berth tag'), '');
    assert.equal(await ok(berth(d, ['tag', 'app:1', 'copy/app:y']), 'berth tag'), '');
    // Untagging one of several tags: same wording as docker.
    assert.equal(await ok(berth(d, ['rmi', 'copy/app:x']), 'berth rmi'), 'Untagged: copy/app:x\n');
    assert.equal(await ok(docker(d, ['rmi', 'copy/app:y']), 'docker rmi'), 'Untagged: copy/app:y\n');
    await ok(berth(d, ['tag', 'app:1', 'other/app:1']), 'berth tag');
    const conflict = await sameError(d, ['rmi', v1.image.configDigest.slice(7, 19)]);
    assert.match(
      conflict.stderr,
      /conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/,
    );
    await ok(berth(d, ['image', 'rm', 'other/app:1']), 'berth image rm');
    await sameError(d, ['rmi', 'no/such:image']);
    await sameError(d, ['tag', 'no/such:image', 'x:1']);

    const out = join(d.dir, 'saved-by-berth.tar');
    assert.equal(await ok(berth(d, ['save', '-o', out, 'app:1']), 'berth save -o'), '');
    const toStdout = await run(BERTH, ['-H', d.host, 'save', 'app:1'], {});
    assert.equal(toStdout.code, 0, toStdout.stderr);
    assert.equal(Buffer.byteLength(toStdout.stdout, 'latin1') > 0, true);
    assert.equal((await stat(out)).size > 1024, true);
    // What berth saved, docker loads, with the same ID.
    await ok(berth(d, ['rmi', 'app:1']), 'berth rmi');
    assert.equal(await ok(docker(d, ['load', '-i', out]), 'docker load'), 'Loaded image: app:1\n');
    assert.equal(
      (await ok(berth(d, ['image', 'inspect', '-f', '{{.Id}}', 'app:1']), 'inspect')).trim(),
      v1.image.configDigest,
    );
  });

  it('berth import (file and stdin, with --change) and berth image prune', async () => {
    const rootfs = await tarOf([dir('x'), file('x/f', 'data')]);
    const path = join(d.dir, 'rootfs.tar');
    await writeFile(path, rootfs);
    const id = (
      await ok(
        berth(d, [
          'import',
          '--change',
          'CMD ["sh"]',
          '--change',
          'ENV A=b',
          '--change',
          'WORKDIR /x',
          path,
          'imp:file',
        ]),
        'berth import',
      )
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const cfg = JSON.parse(
      await ok(berth(d, ['image', 'inspect', '-f', '{{json .Config}}', 'imp:file']), 'inspect'),
    ) as Record<string, unknown>;
    assert.deepEqual([cfg.Cmd, cfg.Env, cfg.WorkingDir], [['sh'], ['A=b'], '/x']);
    const id2 = (await ok(berth(d, ['import', '-', 'imp:stdin'], rootfs), 'berth import -')).trim();
    assert.match(id2, /^sha256:[0-9a-f]{64}$/);

    const untagged = await smallImageArchive('berth-untagged', []);
    assert.equal(
      await ok(berth(d, ['load'], untagged.archive), 'berth load'),
      `Loaded image ID: ${untagged.image.configDigest}\n`,
    );
    const pruned = await ok(berth(d, ['image', 'prune', '-f']), 'berth image prune');
    assert.match(pruned, /^Deleted Images:\n/);
    assert.ok(pruned.includes(`deleted: ${untagged.image.configDigest}`), pruned);
    assert.match(pruned, /^Total reclaimed space: /m);
    assert.equal(
      await ok(berth(d, ['image', 'prune', '-f']), 'prune again'),
      await ok(docker(d, ['image', 'prune', '-f']), 'docker prune'),
    );
  });

  it('berth system df and berth events print what docker prints', async () => {
    await same(d, ['system', 'df']);
    const since = '0';
    const until = (Date.now() / 1000).toFixed(3);
    const ev = await same(d, ['events', '--since', since, '--until', until]);
    assert.match(ev, / image load sha256:[0-9a-f]{64} \(name=app:1\)$/m);
    assert.match(ev, / image import sha256:[0-9a-f]{64} \(name=imp:file\)$/m);
    await same(d, [
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'event=untag',
      '--format',
      '{{.Action}} {{.Actor.Attributes.name}}',
    ]);
  });

  it('berth image history --tags lists every version of a tag, newest first', async () => {
    await ok(berth(d, ['load'], v2.archive), 'load v2');
    await ok(berth(d, ['load'], v3.archive), 'load v3');
    const out = await ok(berth(d, ['image', 'history', '--tags', 'app:1']), 'history --tags');
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0]!, /^DIGEST +IMAGE ID +SET +ACTION$/);
    const ids = lines.slice(1).map((l) => l.split(/\s{2,}/)[1]);
    // Newest first: v3, v2, then v1 (set by several loads).
    assert.equal(ids[0], v3.image.configDigest.slice(7, 19));
    assert.equal(ids[1], v2.image.configDigest.slice(7, 19));
    assert.ok(ids.slice(2).includes(v1.image.configDigest.slice(7, 19)), out);
  });

  it('berth image history --tags shows a tag that was removed and set again', async () => {
    await ok(berth(d, ['tag', 'app:1', 'cycle:1']), 'tag');
    await ok(berth(d, ['rmi', 'cycle:1']), 'rmi');
    await ok(berth(d, ['tag', 'app:1', 'cycle:1']), 'tag again');
    const out = await ok(berth(d, ['image', 'history', '--tags', 'cycle:1']), 'history --tags');
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 4, out);
    assert.match(lines[2]!, /untag/);
  });

  it('berth image rollback moves a tag back one version, or to --to DIGEST', async () => {
    const idOf = async () => (await ok(berth(d, ['image', 'inspect', '-f', '{{.Id}}', 'app:1']), 'inspect')).trim();
    assert.equal(await idOf(), v3.image.configDigest);
    const back = await berth(d, ['image', 'rollback', 'app:1']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /app:1/);
    assert.equal(await idOf(), v2.image.configDigest);
    // --to the digest of v3's manifest (as history --tags shows it).
    const hist = JSON.parse((await api(d.socket, 'GET', '/images/app:1/taghistory')).body) as {
      Digest: string | null;
      ImageID: string | null;
    }[];
    const v3Digest = hist.find((h) => h.ImageID === v3.image.configDigest)!.Digest!;
    const to = await berth(d, ['image', 'rollback', '--to', v3Digest, 'app:1']);
    assert.equal(to.code, 0, to.stderr);
    assert.equal(await idOf(), v3.image.configDigest);
    const bad = await berth(d, ['image', 'rollback', '--to', `sha256:${'0'.repeat(64)}`, 'app:1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /sha256:0{64}/);
    assert.equal(await idOf(), v3.image.configDigest);
  });

  it("berth image prune --history deletes the old versions that tags' history keeps", async () => {
    // v1 and v2 are no longer tagged but kept by app:1's history: plain prune keeps them.
    const ids = async () => (await ok(berth(d, ['images', '-a', '-q', '--no-trunc']), 'images')).trim().split('\n');
    await ok(berth(d, ['image', 'prune', '-f']), 'prune');
    assert.ok((await ids()).includes(v2.image.configDigest));
    const out = await ok(berth(d, ['image', 'prune', '-f', '--history']), 'prune --history');
    assert.ok(out.includes(`deleted: ${v2.image.configDigest}`), out);
    const left = await ids();
    assert.ok(!left.includes(v1.image.configDigest) && !left.includes(v2.image.configDigest));
    assert.ok(left.includes(v3.image.configDigest));
  });

  it('berth -H and BERTH_HOST pick the daemon; a wrong host fails clearly', async () => {
    const viaEnv = await run(BERTH, ['images', '-q'], { BERTH_HOST: d.host });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout, await ok(berth(d, ['images', '-q']), 'berth -H'));
    const wrong = await run(BERTH, ['-H', `unix://${join(d.dir, 'nothing.sock')}`, 'images'], { BERTH_HOST: '' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /nothing\.sock/);
    // -H wins over BERTH_HOST.
    const both = await run(BERTH, ['-H', d.host, 'version', '--format', '{{.Server.Version}}'], {
      BERTH_HOST: `unix://${join(d.dir, 'nothing.sock')}`,
    });
    assert.equal(both.code, 0, both.stderr);
  });

  it('invalid references fail with "invalid reference format"', async () => {
    for (const args of [
      ['tag', 'two/layers', 'UPPER/case'],
      ['tag', 'two/layers', 'a:b:c'],
      ['tag', 'two/layers', ''],
      ['rmi', 'UPPER/case'],
      ['image', 'inspect', 'a:b:c'],
      ['history', ''],
      ['save', '-o', join(d.dir, 'x.tar'), 'UPPER/case'],
    ]) {
      const r = await berth(d, args);
      assert.notEqual(r.code, 0, `berth ${args.join(' ')} should fail`);
      assert.match(r.stderr, /invalid reference format/, `berth ${JSON.stringify(args)}: ${r.stderr}`);
    }
  });

  it('bin/berth runs from another directory and through a symlink', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'berth-cwd-'));
    try {
      const fromRoot = await run(BERTH, ['-H', d.host, 'images', '-q'], {}, undefined, { cwd: '/' });
      assert.equal(fromRoot.code, 0, fromRoot.stderr);
      await symlink(BERTH, join(elsewhere, 'berth'));
      const viaLink = await run(join(elsewhere, 'berth'), ['-H', d.host, 'images', '-q'], {}, undefined, {
        cwd: elsewhere,
      });
      assert.equal(viaLink.code, 0, viaLink.stderr);
      assert.equal(viaLink.stdout, fromRoot.stdout);
      assert.ok(fromRoot.stdout.trim().length > 0);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
