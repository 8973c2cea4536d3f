/**
 * The build options through each client: the same Dockerfile built by `docker build`, `berth build`, dockerode's
 * `buildImage` and docker-py's `api.build`, each with the build args, a label, `--target` (a stage the target does
 * not need is not built), `--platform` (the native one, seen in the predefined ARGs), `--network none`,
 * `--add-host`, `--shm-size`, a proxy build argument (reaching RUN, kept out of the history) and `--no-cache`;
 * then `--pull` and a FROM pulled when missing (a local registry), `--cache-from` after the cache is pruned,
 * `-f` outside the context and `-f -`, a context on stdin for `berth build`, the cache across a daemon restart and
 * `builder prune`'s filters, RUN cache mounts shared, private and locked between stages building side by side,
 * RUN --network=host and `--network host`, USER by uid:gid, `POST /build/cancel`, the TTY display of `berth build`,
 * and a FROM image behind a login (the credentials in X-Registry-Config from the docker CLI, dockerode, docker-py).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { type DistributionRegistry, startRegistry, LOGIN, loginArgs } from '../src/distribution/remote/testkit.ts';
import { api, BERTH, berth, type Daemon, docker, run, waitFor, startDaemon } from './harness.ts';

let d: Daemon;
let work: string;
let n = 0;
const ARCH = process.arch === 'x64' ? 'amd64' : process.arch;
const PLATFORM = `linux/${ARCH}`;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-options-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function context(files: Record<string, string>): Promise<string> {
  const dir = join(work, `c${n++}`);
  await mkdir(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) {
    await mkdir(join(dir, k, '..'), { recursive: true });
    await writeFile(join(dir, k), v);
  }
  return dir;
}

async function ok(r: Promise<{ code: number | null; stdout: string; stderr: string }>, what: string) {
  const x = await r;
  assert.equal(x.code, 0, `${what} exited ${x.code}:\n${x.stdout}\n${x.stderr}`);
  return x;
}

async function sh(image: string, script: string): Promise<string> {
  return (await ok(docker(d, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]), 'docker run')).stdout;
}

async function py(lines: string[]): Promise<string> {
  const script = join(work, `s${n++}.py`);
  await writeFile(
    script,
    ['import docker', `c = docker.DockerClient(base_url='unix://${d.socket}')`, ...lines].join('\n'),
  );
  return (await ok(run('/usr/bin/python3', [script]), 'python3')).stdout;
}

function follow(client: InstanceType<typeof Docker>, stream: NodeJS.ReadableStream): Promise<{ error?: string }[]> {
  return new Promise((resolve, reject) =>
    client.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) =>
      err ? reject(err) : resolve(out),
    ),
  );
}

const OPTIONS = `FROM busybox AS base
ARG TARGETPLATFORM
ARG TARGETARCH
ARG BUILDPLATFORM
ARG WHO=nobody
RUN echo "$TARGETPLATFORM $TARGETARCH $BUILDPLATFORM $WHO" > /plat; grep -c : /proc/net/dev > /ifaces; \\
    grep myhost /etc/hosts > /hosts; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2 > /shm
FROM busybox AS unneeded
RUN echo this stage must not be built; exit 3
FROM base AS final
RUN echo "proxy=$HTTP_PROXY" > /proxy
FROM final AS later
RUN exit 4
`;

describe('every option through every client', () => {
  let ctx: string;
  before(async () => {
    ctx = await context({ Dockerfile: OPTIONS });
  });

  async function check(image: string, who: string): Promise<void> {
    assert.equal(
      await sh(image, 'cat /plat /ifaces /hosts /shm /proxy'),
      `${PLATFORM} ${ARCH} ${PLATFORM} ${who}\n1\n10.1.2.3\tmyhost\n65536\nproxy=http://proxy.invalid:3128\n`,
    );
    const inspect = await ok(docker(d, ['image', 'inspect', '-f', '{{.Config.Labels.via}}', image]), 'inspect');
    assert.equal(inspect.stdout.trim(), who);
    const hist = await ok(docker(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]), 'history');
    assert.doesNotMatch(hist.stdout, /proxy\.invalid/);
    assert.match(
      hist.stdout,
      new RegExp(
        `^\\|4 BUILDPLATFORM=${PLATFORM} TARGETARCH=${ARCH} TARGETPLATFORM=${PLATFORM} WHO=${who} /bin/sh -c echo`,
        'm',
      ),
    );
  }

  it('docker build', async () => {
    const args = ['build', '-t', 'opt-docker', '--target', 'final', '--build-arg', 'WHO=docker'];
    args.push('--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128', '--label', 'via=docker');
    args.push('--platform', PLATFORM, '--network', 'none', '--add-host', 'myhost:10.1.2.3', '--shm-size', '64m');
    const r = await ok(docker(d, [...args, '--no-cache', ctx]), 'docker build');
    assert.doesNotMatch(r.stdout, /must not be built|Using cache/);
    await check('opt-docker', 'docker');
  });

  it('berth build', async () => {
    const args = ['build', '-t', 'opt-berth', '--target', 'final', '--build-arg', 'WHO=berth'];
    args.push('--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128', '--label', 'via=berth');
    args.push('--platform', PLATFORM, '--network', 'none', '--add-host', 'myhost:10.1.2.3', '--shm-size', '64m');
    const r = await ok(berth(d, [...args, '--no-cache', '--progress', 'plain', ctx]), 'berth build');
    assert.doesNotMatch(r.stderr, /must not be built|CACHED/);
    await check('opt-berth', 'berth');
  });

  it('dockerode', async () => {
    const client = new Docker({ socketPath: d.socket });
    const stream = await client.buildImage(
      { context: ctx, src: ['Dockerfile'] },
      {
        t: 'opt-dockerode',
        target: 'final',
        buildargs: { WHO: 'dockerode', HTTP_PROXY: 'http://proxy.invalid:3128' },
        labels: { via: 'dockerode' },
        platform: PLATFORM,
        networkmode: 'none',
        extrahosts: 'myhost:10.1.2.3',
        shmsize: 64 << 20,
        nocache: true,
        rm: true,
        forcerm: true,
      },
    );
    const out = await follow(client, stream);
    assert.ok(!out.some((m) => m.error), JSON.stringify(out));
    await check('opt-dockerode', 'dockerode');
  });

  it('docker-py', async () => {
    const out = await py([
      `chunks = list(c.api.build(path='${ctx}', tag='opt-py', target='final', decode=True, nocache=True, rm=True,`,
      "    forcerm=True, buildargs={'WHO': 'docker-py', 'HTTP_PROXY': 'http://proxy.invalid:3128'},",
      `    labels={'via': 'docker-py'}, platform='${PLATFORM}', network_mode='none',`,
      "    extra_hosts={'myhost': '10.1.2.3'}, shmsize=64 << 20, container_limits={'memory': 256 << 20}))",
      "print([ch for ch in chunks if 'error' in ch])",
    ]);
    assert.equal(out, '[]\n');
    await check('opt-py', 'docker-py');
  });
});

describe('images from a registry: FROM pulls a missing image, --pull a newer one', () => {
  let reg: DistributionRegistry;
  let base: string;
  let version = 0;
  before(async () => {
    reg = await startRegistry('plain');
    base = `${reg.host}/lib/base:1`;
  });
  after(async () => {
    await reg?.stop();
  });

  /** Pushes a new version of the base image (its /version file); `local` is what the tag names here after. */
  async function publish(local: 'none' | 'old'): Promise<number> {
    version++;
    const dir = await context({ Dockerfile: `FROM busybox\nRUN echo ${version} > /version\n` });
    await ok(docker(d, ['build', '-q', '-t', base, dir]), 'docker build (base)');
    await ok(berth(d, ['push', '-q', base]), 'push');
    if (local === 'none') await ok(berth(d, ['rmi', base]), 'rmi');
    else await ok(docker(d, ['tag', 'old-base', base]), 'tag');
    return version;
  }

  it('docker build pulls the missing FROM image', async () => {
    const v = await publish('none');
    const ctx = await context({ Dockerfile: `FROM ${base}\nRUN cat /version > /seen\n` });
    const r = await ok(docker(d, ['build', '-t', 'from-reg', ctx]), 'docker build');
    assert.match(r.stdout, /Pulling from lib\/base|Downloaded newer image/);
    assert.equal(await sh('from-reg', 'cat /seen'), `${v}\n`);
  });

  it('--pull fetches a newer FROM image in each client; without it the local one is used', async () => {
    const old = await context({ Dockerfile: 'FROM busybox\nRUN echo old > /version\n' });
    await ok(docker(d, ['build', '-q', '-t', 'old-base', old]), 'docker build (old)');
    const ctx = await context({ Dockerfile: `FROM ${base}\nRUN cat /version > /seen\n` });
    await publish('old');
    await ok(docker(d, ['build', '-q', '-t', 'nopull', ctx]), 'docker build');
    assert.equal(await sh('nopull', 'cat /seen'), 'old\n');

    const clients: [string, () => Promise<void>][] = [
      ['docker build', async () => void (await ok(docker(d, ['build', '-q', '--pull', '-t', 'pulled', ctx]), 'build'))],
      ['berth build', async () => void (await ok(berth(d, ['build', '-q', '--pull', '-t', 'pulled', ctx]), 'build'))],
      [
        'dockerode',
        async () => {
          const client = new Docker({ socketPath: d.socket });
          const out = await follow(
            client,
            await client.buildImage({ context: ctx, src: ['Dockerfile'] }, { t: 'pulled', pull: 'true' }),
          );
          assert.ok(!out.some((m) => m.error), JSON.stringify(out));
        },
      ],
      [
        'docker-py',
        async () => {
          const out = await py([
            `chunks = list(c.api.build(path='${ctx}', tag='pulled', pull=True, decode=True))`,
            "print([ch for ch in chunks if 'error' in ch])",
          ]);
          assert.equal(out, '[]\n');
        },
      ],
    ];
    for (const [name, build] of clients) {
      const v = await publish('old');
      await build();
      assert.equal(await sh('pulled', 'cat /seen'), `${v}\n`, name);
    }
  });
});

describe('--cache-from through each client, after the cache is pruned', () => {
  it('the steps come from the image', async () => {
    const ctx = await context({ Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n' });
    await ok(docker(d, ['build', '-q', '-t', 'cache-src', ctx]), 'docker build');
    const prune = () => ok(berth(d, ['builder', 'prune', '-a', '-f']), 'prune');
    await prune();
    const r = await ok(docker(d, ['build', '--cache-from', 'cache-src', ctx]), 'docker build');
    assert.equal((r.stdout.match(/^ ---> Using cache$/gm) ?? []).length, 2, r.stdout);
    await prune();
    const client = new Docker({ socketPath: d.socket });
    const stream = await client.buildImage(
      { context: ctx, src: ['Dockerfile'] },
      { cachefrom: JSON.stringify(['cache-src']) },
    );
    const out = (await follow(client, stream)) as { stream?: string }[];
    assert.equal(out.filter((m) => m.stream === ' ---> Using cache\n').length, 2, JSON.stringify(out));
    await prune();
    const pyOut = await py([
      `chunks = list(c.api.build(path='${ctx}', cache_from=['cache-src'], decode=True))`,
      "print(sum(1 for ch in chunks if ch.get('stream') == ' ---> Using cache\\n'))",
    ]);
    assert.equal(pyOut, '2\n');
  });
});

describe('Dockerfiles outside the context and on stdin', () => {
  it('-f outside the context, -f - (docker build and berth build), berth build - with a tar or a Dockerfile', async () => {
    const ctx = await context({ 'in.txt': 'inside\n' });
    const outside = join(work, `outside-${n++}`);
    await mkdir(outside);
    await writeFile(join(outside, 'App.Dockerfile'), 'FROM busybox\nCOPY in.txt /in\n');
    const df = join(outside, 'App.Dockerfile');
    await ok(docker(d, ['build', '-q', '-f', df, '-t', 'out-docker', ctx]), 'docker build -f');
    await ok(berth(d, ['build', '-q', '-f', df, '-t', 'out-berth', ctx]), 'berth build -f');
    const text = 'FROM busybox\nCOPY in.txt /stdin-in\n';
    await ok(docker(d, ['build', '-q', '-f', '-', '-t', 'stdin-docker', ctx], text), 'docker build -f -');
    await ok(berth(d, ['build', '-q', '-f', '-', '-t', 'stdin-berth', ctx], text), 'berth build -f -');
    for (const i of ['out-docker', 'out-berth']) assert.equal(await sh(i, 'cat /in'), 'inside\n');
    for (const i of ['stdin-docker', 'stdin-berth']) assert.equal(await sh(i, 'cat /stdin-in'), 'inside\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY in.txt /from-tar\n');
    await ok(
      run('bash', ['-c', `tar -C ${ctx} -cz . | "${BERTH}" -H ${d.host} build -q -t tar-berth -`]),
      'berth build - < tar.gz',
    );
    assert.equal(await sh('tar-berth', 'cat /from-tar'), 'inside\n');
    await ok(berth(d, ['build', '-q', '-t', 'alone-berth', '-'], 'FROM busybox\nRUN echo alone > /a\n'), 'alone');
    assert.equal(await sh('alone-berth', 'cat /a'), 'alone\n');
  });
});

describe('COPY --from of a glob, cached and after the stage changed', () => {
  it("follows the stage's files: the same list while the stage is the same, a new one when it is not", async () => {
    const stage = (run: string) => ['FROM busybox AS s', `RUN ${run}`, 'FROM busybox', 'COPY --from=s /g-* /out/', ''];
    const ctx = await context({
      'one.Dockerfile': stage('echo 1 > /g-1').join('\n'),
      'two.Dockerfile': stage('echo 1 > /g-1 && echo 2 > /g-2').join('\n'),
      'none.Dockerfile': stage('echo h > /h').join('\n'),
    });
    const build = (file: string) => docker(d, ['build', '-q', '-f', join(ctx, file), ctx]);
    const first = (await ok(build('one.Dockerfile'), 'docker build')).stdout.trim();
    const again = await ok(build('one.Dockerfile'), 'docker build again');
    assert.equal(again.stdout.trim(), first, 'the second build is the cached first');
    assert.equal((await sh(first, 'ls /out')).trim(), 'g-1');
    const two = (await ok(build('two.Dockerfile'), 'docker build')).stdout.trim();
    assert.notEqual(two, first);
    assert.deepEqual((await sh(two, 'ls /out')).trim().split('\n'), ['g-1', 'g-2']);
    const none = await build('none.Dockerfile');
    assert.notEqual(none.code, 0, 'a glob that matches nothing in the stage fails');
    assert.match(none.stderr, /g-\*/);
  });
});

describe('the cache across a restart, and builder prune', () => {
  it('survives a daemon restart; prune --filter until and --keep-storage keep it, -a empties it', async () => {
    const ctx = await context({ Dockerfile: 'FROM busybox\nRUN echo kept > /k\nRUN echo more > /m\n' });
    await ok(docker(d, ['build', '-q', ctx]), 'docker build');
    await d.stop();
    await d.restart();
    const again = await ok(docker(d, ['build', ctx]), 'docker build after restart');
    assert.equal((again.stdout.match(/^ ---> Using cache$/gm) ?? []).length, 2, again.stdout);
    const until = await ok(docker(d, ['builder', 'prune', '-a', '-f', '--filter', 'until=1h']), 'prune until');
    assert.match(until.stdout, /Total reclaimed space: 0B/);
    const keep = await ok(berth(d, ['builder', 'prune', '-a', '-f', '--keep-storage', '10GB']), 'prune keep');
    assert.match(keep.stdout, /Total reclaimed space: 0B/);
    const still = await ok(docker(d, ['build', ctx]), 'docker build');
    assert.equal((still.stdout.match(/^ ---> Using cache$/gm) ?? []).length, 2, still.stdout);
    const all = await ok(docker(d, ['builder', 'prune', '-a', '-f']), 'prune -a');
    assert.doesNotMatch(all.stdout, /Total reclaimed space: 0B/);
    const cold = await ok(docker(d, ['build', ctx]), 'docker build');
    assert.doesNotMatch(cold.stdout, /Using cache/);
  });
});

describe('stages side by side and RUN cache mounts', () => {
  /** Two stages, each waiting for a file the other writes into a cache mount: only a parallel build ends. */
  const wait = (mine: string, theirs: string, sharing: string) =>
    `RUN --mount=type=cache,id=hs,target=/c,sharing=${sharing} touch /c/${mine}; ` +
    `for i in $(seq 300); do test -e /c/${theirs} && exit 0; sleep 0.1; done; echo no ${theirs}; exit 1`;

  it('independent stages build at once, and see the same shared cache directory', async () => {
    const ctx = await context({
      Dockerfile: [
        'FROM busybox AS a',
        wait('a', 'b', 'shared'),
        'FROM busybox AS b',
        wait('b', 'a', 'shared'),
        'FROM busybox',
        'COPY --from=a /bin/busybox /a',
        'COPY --from=b /bin/busybox /b',
        '',
      ].join('\n'),
    });
    await ok(docker(d, ['build', '-q', '--no-cache', ctx]), 'docker build');
  });

  it('sharing=locked runs one writer at a time; sharing=private gives each its own directory', async () => {
    const one = (name: string, sharing: string, id: string) =>
      `RUN --mount=type=cache,id=${id},target=/c,sharing=${sharing} test ! -e /c/busy && touch /c/busy /c/${name} && ` +
      `sleep 1 && ls /c > /seen && rm /c/busy`;
    const dockerfile = (sharing: string, id: string) =>
      [
        'FROM busybox AS a',
        one('a', sharing, id),
        'FROM busybox AS b',
        one('b', sharing, id),
        'FROM busybox',
        'COPY --from=a /seen /a',
        'COPY --from=b /seen /b',
        '',
      ].join('\n');
    const locked = await context({ Dockerfile: dockerfile('locked', 'lk') });
    await ok(docker(d, ['build', '-q', '-t', 'locked', '--no-cache', locked]), 'locked');
    // the second writer saw the first one's file
    assert.match(await sh('locked', 'cat /a /b | sort | uniq | tr "\\n" " "'), /^a b /);
    const priv = await context({ Dockerfile: dockerfile('private', 'pv') });
    await ok(docker(d, ['build', '-q', '-t', 'private', '--no-cache', priv]), 'private');
    assert.equal(await sh('private', 'grep -c busy /a /b | cut -d: -f2 | tr "\\n" " "'), '1 1 ');
  });
});

describe('USER by uid:gid, POST /build/cancel and the TTY display', () => {
  it("RUN --network=host and --network host run in the host's network namespace", async () => {
    const host = readlinkSync('/proc/self/ns/net');
    const ctx = await context({
      Dockerfile:
        'FROM busybox\nRUN --network=host readlink /proc/self/ns/net > /flag\nRUN readlink /proc/self/ns/net > /opt\n',
    });
    await ok(docker(d, ['build', '-q', '-t', 'hostnet', '--network', 'host', ctx]), 'docker build');
    assert.equal(await sh('hostnet', 'cat /flag /opt'), `${host}\n${host}\n`);
    await ok(docker(d, ['build', '-q', '-t', 'hostnet-flag', '--no-cache', ctx]), 'docker build');
    const [flag, opt] = (await sh('hostnet-flag', 'cat /flag /opt')).split('\n');
    assert.equal(flag, host);
    assert.notEqual(opt, host);
  });

  it('USER 1234:5678 and USER nobody run with those ids', async () => {
    const ctx = await context({
      Dockerfile:
        'FROM busybox\nUSER 1234:5678\nRUN id -u > /tmp/n; id -g >> /tmp/n\nUSER nobody\nRUN id -u > /tmp/m\n',
    });
    await ok(docker(d, ['build', '-q', '-t', 'users', ctx]), 'docker build');
    assert.equal(await sh('users', 'cat /tmp/n /tmp/m'), '1234\n5678\n65534\n');
  });

  it('POST /build/cancel?id= stops a running build: nothing is tagged', async () => {
    const ctx = await context({ Dockerfile: 'FROM busybox\nRUN echo started; sleep 60\n' });
    const tar = execFileSync('tar', ['-C', ctx, '-c', '.']);
    const building = api(d.socket, 'POST', '/build?t=cancelled&buildid=b-cancel-1&nocache=1', tar, {
      'content-type': 'application/x-tar',
    });
    await waitFor('the RUN to start', async () => {
      const l = await run('runc', ['--root', join(d.execRoot, 'build', 'runtime', 'runc'), 'list', '-q']);
      return l.stdout.trim() !== '';
    });
    const c = await api(d.socket, 'POST', '/build/cancel?id=b-cancel-1');
    assert.equal(c.status, 200);
    const r = await building;
    assert.match(r.body, /"errorDetail"/);
    assert.match(r.body, /cancel/i);
    const tagged = await docker(d, ['image', 'inspect', 'cancelled']);
    assert.notEqual(tagged.code, 0);
    const missing = await api(d.socket, 'POST', '/build/cancel');
    assert.equal(missing.status, 400);
  });

  it('berth build on a terminal draws the live display', async () => {
    const ctx = await context({ Dockerfile: 'FROM busybox\nRUN echo on a tty\n' });
    const r = await ok(
      run('script', ['-qec', `"${BERTH}" -H ${d.host} build --no-cache -t tty-app ${ctx}`, '/dev/null']),
      'script',
    );
    assert.match(r.stdout, /\[\+\] Building \d+\.\ds \(\d+\/\d+\) FINISHED/);
    assert.ok(r.stdout.includes('\u001b[2K'), r.stdout);
    assert.match(r.stdout, /RUN echo on a tty/);
    const plain = await ok(berth(d, ['build', '--no-cache', '--progress', 'plain', ctx]), 'plain');
    assert.ok(!plain.stderr.includes('\u001b['), plain.stderr);
  });
});

describe('a FROM image behind a login: the credentials come in X-Registry-Config', () => {
  let reg: DistributionRegistry;
  before(async () => {
    reg = await startRegistry('token', { anonymousPull: false });
  });
  after(async () => {
    await reg?.stop();
  });

  it('docker build (after docker login), dockerode (registryconfig) and docker-py (login) pull it; without them it fails', async () => {
    const ref = `${reg.host}/priv/bb:1`;
    await ok(docker(d, ...loginArgs(reg.host)), 'docker login');
    await ok(docker(d, ['tag', 'busybox:latest', ref]), 'tag');
    await ok(docker(d, ['push', ref]), 'push');
    const ctx = await context({ Dockerfile: `FROM ${ref}\nRUN echo private > /p\n` });
    const rmi = () => ok(docker(d, ['rmi', ref]), 'rmi');
    await rmi();
    await ok(docker(d, ['build', '-q', '-t', 'priv-docker', ctx]), 'docker build');
    await rmi();
    await ok(docker(d, ['logout', reg.host]), 'docker logout');
    const denied = await docker(d, ['build', '-q', ctx]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /unauthorized|authentication required|denied/i);

    const client = new Docker({ socketPath: d.socket });
    const auth = { [reg.host]: { username: LOGIN.user, password: LOGIN.password, serveraddress: reg.host } };
    const out = await follow(
      client,
      await client.buildImage({ context: ctx, src: ['Dockerfile'] }, { t: 'priv-dockerode', registryconfig: auth }),
    );
    assert.ok(!out.some((m) => m.error), JSON.stringify(out));
    await rmi();
    const pyOut = await py([
      `c.login(username='${LOGIN.user}', password='${LOGIN.password}', registry='${reg.host}')`,
      `chunks = list(c.api.build(path='${ctx}', tag='priv-py', decode=True))`,
      "print([ch for ch in chunks if 'error' in ch])",
    ]);
    assert.equal(pyOut, '[]\n');
    for (const i of ['priv-docker', 'priv-dockerode', 'priv-py']) assert.equal(await sh(i, 'cat /p'), 'private\n');
  });
});
