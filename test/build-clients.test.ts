/**
 * Builds through the other Engine API clients: dockerode's `buildImage` (a context directory it tars itself, the
 * output streamed as JSON messages) and docker-py's `images.build` / `api.build` (Debian's python3-docker), including
 * a failing build, which dockerode reports in the stream's `errorDetail` and docker-py raises as its BuildError; and a
 * Dockerfile with every instruction (heredocs, ADD of an archive, COPY --chmod and --from) built by each of them and by
 * the docker CLI, which give the same config, history and files.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { type Daemon, docker, run, startDaemon } from './harness.ts';

let d: Daemon;
let work: string;
let ctx: string;
let bad: string;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-clients-'));
  ctx = join(work, 'ctx');
  bad = join(work, 'bad');
  await mkdir(ctx, { recursive: true });
  await mkdir(bad, { recursive: true });
  await writeFile(
    join(ctx, 'Dockerfile'),
    'FROM busybox AS base\nARG WHO=nobody\nRUN echo "built for $WHO" > /who\nFROM base\nCOPY a.txt /a.txt\nCMD ["cat", "/who", "/a.txt"]\n',
  );
  await writeFile(join(ctx, 'a.txt'), 'from the context\n');
  await writeFile(join(bad, 'Dockerfile'), 'FROM busybox\nRUN echo about to fail; exit 7\n');
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

type Message = {
  stream?: string;
  aux?: { ID: string };
  error?: string;
  errorDetail?: { code?: number; message: string };
};

function follow(client: InstanceType<typeof Docker>, stream: NodeJS.ReadableStream): Promise<Message[]> {
  return new Promise((resolve, reject) =>
    client.modem.followProgress(stream, (err: Error | null, out: Message[]) => (err ? reject(err) : resolve(out))),
  );
}

describe('dockerode', () => {
  it('buildImage streams the classic output, with the image ID in aux; the image runs', async () => {
    const client = new Docker({ socketPath: d.socket });
    const stream = await client.buildImage(
      { context: ctx, src: ['Dockerfile', 'a.txt'] },
      {
        t: 'dockerode-app:1',
        buildargs: { WHO: 'dockerode' },
      },
    );
    const out = await follow(client, stream);
    const text = out.map((m) => m.stream ?? '').join('');
    assert.match(text, /Step 1\/6 : FROM busybox AS base/);
    assert.match(text, /Successfully tagged dockerode-app:1/);
    const id = out.filter((m) => m.aux).at(-1)!.aux!.ID;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await client.getImage('dockerode-app:1').inspect()).Id, id);
    const r = await docker(d, ['run', '--rm', 'dockerode-app:1']);
    assert.equal(r.stdout, 'built for dockerode\nfrom the context\n');
  });

  it('a failing build ends with errorDetail carrying the exit code', async () => {
    const client = new Docker({ socketPath: d.socket });
    const out = await follow(client, await client.buildImage({ context: bad, src: ['Dockerfile'] }, { t: 'nope' }));
    const last = out.at(-1)!;
    assert.equal(last.errorDetail?.code, 7);
    assert.match(last.error ?? '', /returned a non-zero code: 7/);
    assert.ok(out.some((m) => m.stream === 'about to fail\n'));
  });
});

describe('docker-py', () => {
  it('images.build returns the image and its log; api.build streams; a failure raises BuildError', async () => {
    const script = join(work, 'build.py');
    await writeFile(
      script,
      [
        'import docker',
        `c = docker.DockerClient(base_url='unix://${d.socket}')`,
        `img, logs = c.images.build(path='${ctx}', tag='py-app:1', buildargs={'WHO': 'docker-py'}, rm=True)`,
        "print(img.tags, img.id.startswith('sha256:'))",
        "print(any('Successfully built' in l.get('stream', '') for l in logs))",
        "print(c.containers.run('py-app:1', remove=True, network_mode='none').decode(), end='')",
        `chunks = list(c.api.build(path='${ctx}', tag='py-app:2', decode=True, nocache=True))`,
        "print(sum(1 for ch in chunks if ch.get('stream', '').startswith('Step ')))",
        "print([ch['aux']['ID'] for ch in chunks if 'aux' in ch][-1] == c.images.get('py-app:2').id)",
        'try:',
        `    c.images.build(path='${bad}', tag='py-bad')`,
        '    print("no error")',
        'except docker.errors.BuildError as e:',
        "    print('BuildError', e.msg)",
        "    print(any(l.get('stream') == 'about to fail\\n' for l in e.build_log))",
      ].join('\n'),
    );
    const r = await run('/usr/bin/python3', [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        "['py-app:1'] True",
        'True',
        'built for docker-py',
        'from the context',
        '6',
        'True',
        "BuildError The command '/bin/sh -c echo about to fail; exit 7' returned a non-zero code: 7",
        'True',
        '',
      ].join('\n'),
    );
  });
});

describe('every instruction through each client', () => {
  const FULL = [
    'FROM busybox AS gen',
    'RUN mkdir /out && echo gen > /out/g',
    'FROM busybox',
    'LABEL a=1',
    'ENV X=1',
    'ARG V=def',
    'EXPOSE 80/tcp',
    'VOLUME /data',
    'WORKDIR /w',
    'COPY --chmod=600 a.txt ./',
    'COPY --from=gen /out /gen',
    'ADD arch.tar.gz /unpacked/',
    'RUN <<EOF',
    'echo "heredoc $V" > /h',
    'EOF',
    'COPY <<EOF /inline',
    'inline text',
    'EOF',
    'USER nobody',
    'HEALTHCHECK --interval=5s CMD true',
    'STOPSIGNAL SIGINT',
    'SHELL ["/bin/sh", "-ec"]',
    'ONBUILD RUN true',
    'ENTRYPOINT ["/bin/cat"]',
    'CMD ["/h"]',
    '',
  ].join('\n');
  let full: string;
  before(async () => {
    full = join(work, 'full');
    await mkdir(join(work, 'arch', 'x'), { recursive: true });
    await mkdir(full, { recursive: true });
    await writeFile(join(work, 'arch', 'x', 'in-tar'), 'from the tar\n');
    await writeFile(join(full, 'Dockerfile'), FULL);
    await writeFile(join(full, 'a.txt'), 'a\n');
    const tar = await run('tar', ['-C', join(work, 'arch'), '-czf', join(full, 'arch.tar.gz'), 'x']);
    assert.equal(tar.code, 0, tar.stderr);
  });

  /** The image's config, history texts (content hashes masked) and files, as the docker CLI shows them. */
  async function describeImage(image: string): Promise<string> {
    const c = await docker(d, ['image', 'inspect', '-f', '{{json .Config}}', image]);
    const h = await docker(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
    const f = await docker(d, [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'sh',
      image,
      '-c',
      'cat /h /inline /gen/g /unpacked/x/in-tar; stat -c "%a %U" /w/a.txt',
    ]);
    assert.equal(c.code + h.code + f.code, 0, c.stderr + h.stderr + f.stderr);
    return [c.stdout, h.stdout.replace(/(file|dir):[0-9a-f]{64}/g, '$1:H'), f.stdout].join('\n');
  }

  it('docker build, dockerode and docker-py give the same image', async () => {
    const r = await docker(d, ['build', '-q', '-t', 'full-cli', full]);
    assert.equal(r.code, 0, r.stderr);
    const client = new Docker({ socketPath: d.socket });
    const out = await follow(client, await client.buildImage({ context: full, src: ['.'] }, { t: 'full-dockerode' }));
    assert.ok(!out.some((m) => m.error), JSON.stringify(out));
    const script = join(work, 'full.py');
    await writeFile(
      script,
      [
        'import docker',
        `c = docker.DockerClient(base_url='unix://${d.socket}')`,
        `print([ch for ch in c.api.build(path='${full}', tag='full-py', decode=True) if 'error' in ch])`,
      ].join('\n'),
    );
    const py = await run('/usr/bin/python3', [script]);
    assert.equal(py.stdout, '[]\n', py.stderr);
    const cli = await describeImage('full-cli');
    assert.match(cli, /heredoc def\ninline text\ngen\nfrom the tar\n600 root/);
    assert.match(cli, /"OnBuild":\["RUN true"\]/);
    assert.equal(await describeImage('full-dockerode'), cli);
    assert.equal(await describeImage('full-py'), cli);
  });
});
