/**
 * Side by side with Debian's dockerd 20.10 (its classic builder, a reference, not a dependency): the same contexts,
 * built by the same docker CLI against each engine, give the same image config, the same files (names, contents,
 * modes, owners) and the same history (texts, and which entries made a layer). Covers metadata instructions, ARG
 * and build args, USER, WORKDIR chains, COPY of files, directories and globs with --chown, ADD of a local tar.gz,
 * HEALTHCHECK, SHELL, STOPSIGNAL, ENTRYPOINT/CMD, MAINTAINER, multi-stage COPY --from, and ONBUILD triggers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract } from '../src/util/tar/index.ts';
import { BERTH, type Daemon, run, startDaemon } from './harness.ts';
import { hasCommand } from './compose-kit.ts';
import { type RefDockerd, startRefDockerd } from './refdockerd.ts';

const HAVE_DOCKERD = hasCommand('dockerd') && process.getuid?.() === 0;

const FULL = `FROM busybox
LABEL a=1 "b c"="d e"
ENV X=1 Y="two words"
ENV Z 3
ARG V=def
ARG W
RUN echo "$V $W $X" > /args
EXPOSE 80 443/udp
VOLUME /data ["/logs"]
WORKDIR app
WORKDIR sub
USER nobody
RUN id > /tmp/id
USER root
COPY --chown=nobody:users f.txt dir /dest/
COPY *.md /docs/
ADD arch.tar.gz /unpacked/
HEALTHCHECK --interval=5s --timeout=3s CMD true
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-ec"]
RUN echo shell > /shell
MAINTAINER someone
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
`;

const MULTI = `FROM busybox AS gen
RUN mkdir -p /out/deep && echo one > /out/one && echo two > /out/deep/two && chmod 600 /out/one
FROM busybox
COPY --from=gen /out /copied
COPY --from=0 /out/deep/two /two
CMD ["sh"]
`;

const ONBUILD_BASE = `FROM busybox
ONBUILD COPY trigger.txt /trigger/
ONBUILD RUN echo triggered > /triggered
`;

interface Engine {
  name: string;
  host: string;
}

let d: Daemon;
let work: string;
let ref: RefDockerd | undefined;

async function docker(e: Engine, args: string[]): Promise<string> {
  const r = await run('docker', args, { DOCKER_HOST: e.host, DOCKER_CONFIG: join(work, 'docker-config') });
  assert.equal(r.code, 0, `docker ${args.join(' ')} on ${e.name}: ${r.stderr}`);
  return r.stdout;
}

/** The config fields a Dockerfile sets, with empty values (null, [], {}, '') taken as absent. */
async function config(e: Engine, image: string): Promise<Record<string, unknown>> {
  const c = JSON.parse(await docker(e, ['image', 'inspect', '-f', '{{json .Config}}', image])) as Record<
    string,
    unknown
  >;
  const author = (await docker(e, ['image', 'inspect', '-f', '{{.Author}}', image])).trim();
  const keys = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal'];
  const out: Record<string, unknown> = {};
  for (const k of [...keys, 'Healthcheck', 'OnBuild', 'Shell']) {
    const v = c[k];
    const empty = v === null || v === undefined || v === '' || (typeof v === 'object' && Object.keys(v).length === 0);
    if (!empty) out[k] = v;
  }
  if (author) out.Author = author;
  return out;
}

/** History texts, newest first, each with whether its entry made a layer. */
async function history(e: Engine, image: string): Promise<string[]> {
  const out = await docker(e, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', image]);
  return out
    .trim()
    .split('\n')
    .map((l) => {
      const i = l.lastIndexOf('|');
      return `${l.slice(0, i)} [${l.slice(i + 1) === '0B' ? 'no layer' : 'layer'}]`;
    });
}

const RUNTIME_FILES = new Set(['.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab']);

/** The image's files as `docker export` of a container gives them: name, type, mode, owner, size, content hash. */
async function files(e: Engine, image: string): Promise<string[]> {
  const id = (await docker(e, ['create', image, 'true'])).trim();
  try {
    const r = await run('bash', ['-c', `DOCKER_HOST=${e.host} docker export ${id} > ${join(work, 'export.tar')}`]);
    assert.equal(r.code, 0, r.stderr);
    const { createReadStream } = await import('node:fs');
    const out: string[] = [];
    for await (const en of extract(createReadStream(join(work, 'export.tar')))) {
      const h = en.header;
      const name = h.name.replace(/\/$/, '');
      const hash = createHash('sha256');
      for await (const c of en.body) hash.update(c);
      if (RUNTIME_FILES.has(name) || /^(proc|sys|dev)(\/|$)/.test(name)) continue;
      const body =
        h.type === 'file'
          ? ` ${h.size} ${hash.digest('hex').slice(0, 16)}`
          : h.type === 'symlink'
            ? ` -> ${h.linkname}`
            : '';
      out.push(`${name} ${h.type} ${h.mode.toString(8)} ${h.uid}:${h.gid}${body}`);
    }
    return out.sort();
  } finally {
    await docker(e, ['rm', id]);
  }
}

describe('the classic builder of dockerd 20.10 and berthd give the same images', {
  skip: !HAVE_DOCKERD && 'dockerd is not installed (or not root)',
}, () => {
  let engines: Engine[];
  let ctx: string;

  before(async () => {
    d = await startDaemon({ seed: true });
    work = await mkdtemp(join(tmpdir(), 'berth-build-peers-'));
    await mkdir(join(work, 'ref'), { recursive: true });
    ref = await startRefDockerd(join(work, 'ref'));
    const load = await run('bash', [
      '-c',
      `"${BERTH}" -H ${d.host} save busybox | DOCKER_HOST=${ref.host} docker load`,
    ]);
    assert.equal(load.code, 0, load.stderr);
    engines = [
      { name: 'dockerd', host: ref.host },
      { name: 'berthd', host: d.host },
    ];
    ctx = join(work, 'ctx');
    await mkdir(join(ctx, 'dir', 'inner'), { recursive: true });
    await writeFile(join(ctx, 'f.txt'), 'file\n');
    await writeFile(join(ctx, 'dir', 'a'), 'a\n');
    await writeFile(join(ctx, 'dir', 'inner', 'b'), 'b\n', { mode: 0o755 });
    await writeFile(join(ctx, 'one.md'), '# one\n');
    await writeFile(join(ctx, 'two.md'), '# two\n');
    await writeFile(join(ctx, 'trigger.txt'), 'trigger\n');
    await mkdir(join(work, 'arch', 'x'), { recursive: true });
    await writeFile(join(work, 'arch', 'x', 'in-tar'), 'from the tar\n');
    const tar = await run('tar', [
      '-C',
      join(work, 'arch'),
      '--owner=7',
      '--group=8',
      '-czf',
      join(ctx, 'arch.tar.gz'),
      'x',
    ]);
    assert.equal(tar.code, 0, tar.stderr);
    await writeFile(join(ctx, 'Dockerfile.full'), FULL);
    await writeFile(join(ctx, 'Dockerfile.multi'), MULTI);
    await writeFile(join(ctx, 'Dockerfile.onbuild'), ONBUILD_BASE);
    await writeFile(join(ctx, 'Dockerfile.child'), 'FROM onbuild-base\nCMD ["cat", "/triggered"]\n');
  });
  after(async () => {
    await ref?.stop();
    await d?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const cases: [string, string, string[]][] = [
    ['every instruction of a single stage', 'Dockerfile.full', ['--build-arg', 'W=given']],
    ['a multi-stage COPY --from by name and index', 'Dockerfile.multi', []],
  ];
  for (const [what, file, args] of cases) {
    it(what, async () => {
      const tag = `peer-${file.split('.')[1]}`;
      for (const e of engines) await docker(e, ['build', '-q', '-f', join(ctx, file), '-t', tag, ...args, ctx]);
      const [dc, bc] = await Promise.all(engines.map((e) => config(e, tag)));
      assert.deepEqual(bc, dc);
      const [dh, bh] = await Promise.all(engines.map((e) => history(e, tag)));
      assert.deepEqual(bh, dh);
      const [df, bf] = [await files(engines[0]!, tag), await files(engines[1]!, tag)];
      assert.deepEqual(bf, df);
    });
  }

  it('ONBUILD triggers run in the child build', async () => {
    for (const e of engines) {
      await docker(e, ['build', '-q', '-f', join(ctx, 'Dockerfile.onbuild'), '-t', 'onbuild-base', ctx]);
      await docker(e, ['build', '-q', '-f', join(ctx, 'Dockerfile.child'), '-t', 'onbuild-child', ctx]);
    }
    const [dc, bc] = await Promise.all(engines.map((e) => config(e, 'onbuild-child')));
    assert.deepEqual(bc, dc);
    const [dh, bh] = await Promise.all(engines.map((e) => history(e, 'onbuild-child')));
    assert.deepEqual(bh, dh);
    const [df, bf] = [await files(engines[0]!, 'onbuild-child'), await files(engines[1]!, 'onbuild-child')];
    assert.deepEqual(bf, df);
    assert.ok(bf.some((l) => l.startsWith('triggered file')));
  });
});
