/**
 * Image config and history, checked against what dockerd 20.10's classic builder (DOCKER_BUILDKIT=0) produced for
 * the same Dockerfiles: the expected values below were read from `docker save` of its images (config and history
 * with empty_layer) and `docker history --no-trunc`. The base image was a busybox rootfs made with `docker import`
 * (no config). Steps with a layer (RUN, COPY, ADD, WORKDIR) are marked `layer`: Docker sets empty_layer on them
 * only when their diff is empty, which the executor decides.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageRunConfig } from '../oci/types.ts';
import { ArgScope } from './args.ts';
import { DockerfileError, parse, parseInstructions, parseTriggers } from '../dockerfile/index.ts';
import { goDuration, goQuoteRune } from './gofmt.ts';
import { applyInstruction, beginStage, type StageState } from './imageconfig.ts';
import { planBuild } from './planner.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

interface Built {
  config: ImageRunConfig;
  author: string;
  history: string[];
}

/** Runs the stages' instructions as the executor will, giving each COPY/ADD the hash Docker computed. */
function build(text: string, buildArgs: Record<string, string>, hashes: string[] = []): Built[] {
  const df = parseInstructions(parse(text));
  const args = new Map(Object.entries(buildArgs));
  const plan = planBuild(df, { buildPlatform: amd64, buildArgs: args });
  const results: Built[] = [];
  for (const st of plan.stages) {
    const base = st.base.kind === 'stage' ? results[st.base.index]!.config : undefined;
    const begun = beginStage(base, new ArgScope(plan.globalArgs, args), { escapeToken: df.escapeToken });
    let state: StageState = begun.state;
    const history: string[] = [];
    for (const ins of [...parseTriggers(begun.triggers), ...st.commands]) {
      const r = applyInstruction(state, ins);
      state = r.state;
      const createdBy =
        r.work?.kind === 'copy' || r.work?.kind === 'add' ? r.work.createdBy(hashes.shift()!) : r.history.createdBy;
      history.push(
        `${r.history.emptyLayer ? 'empty' : 'layer'} ${createdBy}${r.history.author ? ` [${r.history.author}]` : ''}`,
      );
    }
    results.push({ config: state.config, author: state.author, history });
  }
  return results;
}

const single = `FROM busybox
LABEL a=1 "b c"="d e"
LABEL legacy some value
MAINTAINER Jane <j@x>
ENV A=1 B="two words"
ENV PATH /usr/local/bin:$PATH
ARG V=1
ARG W
ARG X=\${A}x
ENV FROMARG=$V
EXPOSE 80 443/tcp 53/udp 8000-8002
EXPOSE $A
VOLUME /data
VOLUME ["/a", "/b"]
USER 1000:1000
USER root
WORKDIR /app
WORKDIR sub
WORKDIR $A
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=2 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
CMD echo hi
ENTRYPOINT ["/bin/echo"]
ONBUILD RUN echo onbuild
RUN echo $V $W > /tmp/x
RUN ["/bin/echo", "exec", "$V"]
COPY f /f
ADD f /g
COPY --chown=1:2 f /h
COPY f Dockerfile /multi/
ENTRYPOINT echo ep
CMD ["x"]
HEALTHCHECK NONE
`;

const FILE_F = 'file:7d70391f0d5adb51fc26141f58002b62862a2d7bfeec1389438ea684d00e6046';
const MULTI = 'multi:4abf7b5b644e9da2d9ad4624341741dbb34e38e970a61f42d603747043e5be5d';

test('one stage with every metadata instruction: config and history as dockerd 20.10 wrote them', () => {
  const [b] = build(single, { W: 'w', HTTP_PROXY: 'http://p', UNUSED: 'u' }, [FILE_F, FILE_F, FILE_F, MULTI]);
  const j = 'Jane <j@x>';
  assert.deepEqual(b!.history, [
    'empty /bin/sh -c #(nop)  LABEL a=1 b c=d e',
    'empty /bin/sh -c #(nop)  LABEL legacy=some value',
    `empty /bin/sh -c #(nop)  MAINTAINER Jane <j@x> [${j}]`,
    `empty /bin/sh -c #(nop)  ENV A=1 B=two words [${j}]`,
    `empty /bin/sh -c #(nop)  ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin [${j}]`,
    `empty /bin/sh -c #(nop)  ARG V=1 [${j}]`,
    `empty /bin/sh -c #(nop)  ARG W [${j}]`,
    `empty /bin/sh -c #(nop)  ARG X=1x [${j}]`,
    `empty /bin/sh -c #(nop)  ENV FROMARG=1 [${j}]`,
    `empty /bin/sh -c #(nop)  EXPOSE 443/tcp 53/udp 80 8000-8002 [${j}]`,
    `empty /bin/sh -c #(nop)  EXPOSE 1 [${j}]`,
    `empty /bin/sh -c #(nop)  VOLUME [/data] [${j}]`,
    `empty /bin/sh -c #(nop)  VOLUME [/a /b] [${j}]`,
    `empty /bin/sh -c #(nop)  USER 1000:1000 [${j}]`,
    `empty /bin/sh -c #(nop)  USER root [${j}]`,
    `layer /bin/sh -c #(nop) WORKDIR /app [${j}]`,
    `layer /bin/sh -c #(nop) WORKDIR /app/sub [${j}]`,
    `layer /bin/sh -c #(nop) WORKDIR /app/sub/1 [${j}]`,
    `empty /bin/sh -c #(nop)  STOPSIGNAL SIGTERM [${j}]`,
    `empty /bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5s" "3s" "1s" '\\x02'} [${j}]`,
    `empty /bin/sh -ec #(nop)  SHELL [/bin/sh -ec] [${j}]`,
    `empty /bin/sh -ec #(nop)  CMD ["/bin/sh" "-ec" "echo hi"] [${j}]`,
    `empty /bin/sh -ec #(nop)  ENTRYPOINT ["/bin/echo"] [${j}]`,
    `empty /bin/sh -ec #(nop)  ONBUILD RUN echo onbuild [${j}]`,
    `layer |3 V=1 W=w X=1x /bin/sh -ec echo $V $W > /tmp/x [${j}]`,
    `layer |3 V=1 W=w X=1x /bin/echo exec $V [${j}]`,
    `layer /bin/sh -ec #(nop) COPY ${FILE_F} in /f  [${j}]`,
    `layer /bin/sh -ec #(nop) ADD ${FILE_F} in /g  [${j}]`,
    `layer /bin/sh -ec #(nop) COPY --chown=1:2${FILE_F} in /h  [${j}]`,
    `layer /bin/sh -ec #(nop) COPY ${MULTI} in /multi/  [${j}]`,
    `empty /bin/sh -ec #(nop)  ENTRYPOINT ["/bin/sh" "-ec" "echo ep"] [${j}]`,
    `empty /bin/sh -ec #(nop)  CMD ["x"] [${j}]`,
    `empty /bin/sh -ec #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" '\\x00'} [${j}]`,
  ]);
  assert.equal(b!.author, j);
  assert.deepEqual(b!.config, {
    Env: [
      'PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'A=1',
      'B=two words',
      'FROMARG=1',
    ],
    OpenStdin: false,
    StdinOnce: false,
    Labels: { a: '1', 'b c': 'd e', legacy: 'some value' },
    ExposedPorts: {
      '1/tcp': {},
      '443/tcp': {},
      '53/udp': {},
      '80/tcp': {},
      '8000/tcp': {},
      '8001/tcp': {},
      '8002/tcp': {},
    },
    Volumes: { '/a': {}, '/b': {}, '/data': {} },
    User: 'root',
    WorkingDir: '/app/sub/1',
    StopSignal: 'SIGTERM',
    // NONE keeps the durations of the check it replaces, as Docker's container-create merge leaves them
    Healthcheck: { Test: ['NONE'], Interval: 5e9, Timeout: 3e9, StartPeriod: 1e9, Retries: 2 },
    Shell: ['/bin/sh', '-ec'],
    Cmd: ['x'],
    Entrypoint: ['/bin/sh', '-ec', 'echo ep'],
    OnBuild: ['RUN echo onbuild'],
  });
});

const multi = `ARG V=meta
FROM busybox AS base
ENV A=aa
ONBUILD RUN echo trig > /trig
ONBUILD LABEL trig=$A
HEALTHCHECK --interval=5s --retries=4 CMD true
HEALTHCHECK --timeout=2s CMD false
CMD ["c"]
ENTRYPOINT ["e"]
WORKDIR /tmp
FROM base
ARG V
RUN echo $V
LABEL "x"="$A" y=\${A}-y
ENV C $A-x
EXPOSE 80/TCP 8080/udp
STOPSIGNAL 9
USER \${A}:1
VOLUME $A /x
CMD []
ENTRYPOINT []
`;

test('two stages: triggers from the base stage, merged healthchecks, meta ARGs, empty CMD and ENTRYPOINT', () => {
  const [base, child] = build(multi, { HTTP_PROXY: 'http://p' });
  assert.deepEqual(base!.history, [
    'empty /bin/sh -c #(nop)  ENV A=aa',
    'empty /bin/sh -c #(nop)  ONBUILD RUN echo trig > /trig',
    'empty /bin/sh -c #(nop)  ONBUILD LABEL trig=$A',
    `empty /bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" '\\x04'}`,
    `empty /bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "false"] "0s" "2s" "0s" '\\x00'}`,
    'empty /bin/sh -c #(nop)  CMD ["c"]',
    'empty /bin/sh -c #(nop)  ENTRYPOINT ["e"]',
    'layer /bin/sh -c #(nop) WORKDIR /tmp',
  ]);
  assert.deepEqual(child!.history, [
    'layer |0 /bin/sh -c echo trig > /trig',
    'empty /bin/sh -c #(nop)  LABEL trig=aa',
    'empty /bin/sh -c #(nop)  ARG V',
    'layer |1 V=meta /bin/sh -c echo $V',
    'empty /bin/sh -c #(nop)  LABEL x=aa y=aa-y',
    'empty /bin/sh -c #(nop)  ENV C=aa-x',
    'empty /bin/sh -c #(nop)  EXPOSE 80/TCP 8080/udp',
    'empty /bin/sh -c #(nop)  STOPSIGNAL 9',
    'empty /bin/sh -c #(nop)  USER aa:1',
    'empty /bin/sh -c #(nop)  VOLUME [aa /x]',
    'empty /bin/sh -c #(nop)  CMD []',
    'empty /bin/sh -c #(nop)  ENTRYPOINT []',
  ]);
  const c = child!.config;
  assert.deepEqual(
    [c.User, c.ExposedPorts, c.Env, c.Cmd, c.Entrypoint, c.OnBuild, c.Labels, c.StopSignal, c.Volumes, c.WorkingDir],
    [
      'aa:1',
      { '80/tcp': {}, '8080/udp': {} },
      ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=aa', 'C=aa-x'],
      null,
      null,
      null,
      { trig: 'aa', x: 'aa', y: 'aa-y' },
      '9',
      { '/x': {}, aa: {} },
      '/tmp',
    ],
  );
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'false'], Interval: 5e9, Timeout: 2e9, Retries: 4 });
});

test('CMD and ENTRYPOINT edge forms; ENV sees the values from before the instruction; WORKDIR paths', () => {
  const [a] = build('FROM busybox\nCMD\n', {});
  assert.deepEqual(a!.config.Cmd, ['/bin/sh', '-c'], 'a bare CMD is the shell alone, as 20.10');
  assert.deepEqual(a!.history, ['empty /bin/sh -c #(nop)  CMD ["/bin/sh" "-c"]']);
  const [b] = build(
    'FROM busybox\nENTRYPOINT\nENV A=1 B=$A\nENV A=2\nWORKDIR /x/y/\nWORKDIR ../z\nWORKDIR //w//v/\n',
    {},
  );
  assert.deepEqual(b!.history, [
    'empty /bin/sh -c #(nop)  ENTRYPOINT []',
    'empty /bin/sh -c #(nop)  ENV A=1 B=',
    'empty /bin/sh -c #(nop)  ENV A=2',
    'layer /bin/sh -c #(nop) WORKDIR /x/y/',
    'layer /bin/sh -c #(nop) WORKDIR /x/z',
    'layer /bin/sh -c #(nop) WORKDIR //w//v/',
  ]);
  assert.deepEqual([b!.config.Entrypoint, b!.config.Cmd, b!.config.WorkingDir], [null, null, '//w//v/']);
  assert.deepEqual(b!.config.Env!.slice(1), ['A=2', 'B=']);
  const [c] = build('FROM busybox\nCMD ["a"]\nENTRYPOINT ["e"]\n', {});
  assert.deepEqual([c!.config.Cmd, c!.config.Entrypoint], [['a'], ['e']], 'an ENTRYPOINT after CMD keeps it');
});

test('RUN work: shell, env with build arguments, mounts expanded, heredocs folded in', () => {
  const df = parseInstructions(
    parse(`FROM busybox
ARG DIR=/cache
ENV HOME=/root
USER app
WORKDIR /src
RUN --mount=type=cache,target=$DIR,id=c1 --network=none make
RUN <<EOF
echo one
EOF
RUN <<-EOF sh -x
\techo two
\tEOF
RUN <<EOF
#!/usr/bin/env python3
print("hi")
EOF
`),
  );
  const plan = planBuild(df, { buildPlatform: amd64, buildArgs: new Map([['https_proxy', 'http://p']]) });
  let state = beginStage(undefined, new ArgScope(plan.globalArgs, new Map([['https_proxy', 'http://p']]))).state;
  const works = [];
  for (const ins of df.stages[0]!.commands) {
    const r = applyInstruction(state, ins);
    state = r.state;
    if (r.work?.kind === 'run') works.push([r.work, r.history.createdBy] as const);
  }
  const [first, second, third, fourth] = works;
  assert.deepEqual(first![0].cmd, ['/bin/sh', '-c', 'make']);
  assert.deepEqual(first![0].env, [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME=/root',
    'DIR=/cache',
    'https_proxy=http://p',
  ]);
  assert.deepEqual([first![0].user, first![0].workingDir, first![0].network], ['app', '/src', 'none']);
  assert.deepEqual(
    [first![0].mounts[0]!.type, first![0].mounts[0]!.target, first![0].mounts[0]!.id],
    ['cache', '/cache', 'c1'],
  );
  assert.equal(first![1], '|1 DIR=/cache /bin/sh -c make', 'the undeclared proxy stays out of the history');
  assert.deepEqual(second![0].cmd, ['/bin/sh', '-c', 'echo one\n']);
  assert.deepEqual(third![0].cmd, ['/bin/sh', '-c', '<<-EOF sh -x\n\techo two\nEOF']);
  assert.deepEqual(fourth![0].cmd, ['/bin/sh', '-c', '/dev/pipes/EOF']);
  assert.deepEqual(fourth![0].script, { path: '/dev/pipes/EOF', data: '#!/usr/bin/env python3\nprint("hi")\n' });
});

test('COPY and ADD work: words expanded, heredoc contents expanded unless quoted, flags kept', () => {
  const df = parseInstructions(
    parse(`FROM busybox
ARG U=app
ENV D=/dst
COPY --from=build --chown=$U:$U --chmod=0644 --link --exclude=*.md a $D/
COPY <<EOF <<'RAW' \${D}/
v=$U "q"
EOF
v=$U
RAW
ADD --checksum=sha256:abc https://example.com/x.tgz /x
`),
  );
  const plan = planBuild(df, { buildPlatform: amd64 });
  let state = beginStage(undefined, new ArgScope(plan.globalArgs, new Map())).state;
  const works = [];
  for (const ins of df.stages[0]!.commands) {
    const r = applyInstruction(state, ins);
    state = r.state;
    if (r.work?.kind === 'copy' || r.work?.kind === 'add') works.push(r.work);
  }
  const [copy, heredocs, add] = works;
  assert.deepEqual(
    [copy!.sources, copy!.dest, copy!.from, copy!.chown, copy!.chmod, copy!.link, copy!.excludes],
    [['a'], '/dst/', 'build', 'app:app', '0644', true, ['*.md']],
  );
  assert.equal(copy!.createdBy('file:abc'), '/bin/sh -c #(nop) COPY --chmod=0644 --chown=app:appfile:abc in /dst/ ');
  assert.deepEqual(heredocs!.contents, [
    { path: 'EOF', data: 'v=app "q"\n', expand: true },
    { path: 'RAW', data: 'v=$U\n', expand: false },
  ]);
  assert.equal(heredocs!.dest, '/dst/');
  assert.deepEqual([add!.kind, add!.sources, add!.checksum], ['add', ['https://example.com/x.tgz'], 'sha256:abc']);
});

test('errors name the instruction: bad signal, port, expansion, mount, empty WORKDIR', () => {
  const fails = (line: string) => {
    try {
      build(`FROM busybox\n${line}\n`, {});
    } catch (e) {
      assert.ok(e instanceof DockerfileError, String(e));
      return e.message;
    }
    assert.fail(`accepted: ${line}`);
  };
  assert.equal(
    fails('STOPSIGNAL FOO'),
    'dockerfile parse error on line 2 (Dockerfile, STOPSIGNAL): Invalid signal: FOO',
  );
  assert.equal(fails('EXPOSE 80/xyz'), 'dockerfile parse error on line 2 (Dockerfile, EXPOSE): invalid proto: xyz');
  assert.equal(
    fails('EXPOSE 99999'),
    'dockerfile parse error on line 2 (Dockerfile, EXPOSE): invalid containerPort: 99999',
  );
  assert.match(
    fails('ENV X="${Y:?must be set}"'),
    /\(Dockerfile, ENV\): failed to process "\\"\$\{Y:\?must be set\}\\"": Y: must be set/,
  );
  assert.match(
    fails('ARG T=tmpfz\nRUN --mount=type=$T,target=/x true'),
    /line 3 \(Dockerfile, RUN\): unsupported mount type "tmpfz"/,
  );
  assert.match(fails('ARG E\nWORKDIR $E'), /WORKDIR\): cannot normalize nothing/);
  assert.match(fails('VOLUME [""]'), /VOLUME specified can not be an empty string/);
});

test('the input state is left as it was', () => {
  const df = parseInstructions(parse('FROM b\nARG A=1\nENV B=2\nLABEL c=3\n'));
  const start = beginStage({ Env: ['X=1'], Labels: { l: 'v' } }, new ArgScope(new Map(), new Map())).state;
  const snapshot = structuredClone({ config: start.config, declared: [...start.args.declared] });
  let state = start;
  for (const ins of df.stages[0]!.commands) state = applyInstruction(state, ins).state;
  assert.deepEqual({ config: start.config, declared: [...start.args.declared] }, snapshot);
  assert.deepEqual([...state.args.declared], [['A', '1']]);
  assert.deepEqual(state.config.Labels, { c: '3', l: 'v' });
});

test('Go formatting of durations and retries', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [1, '1ns'],
    [1500, '1.5µs'],
    [1e6, '1ms'],
    [1.5e6, '1.5ms'],
    [1e8, '100ms'],
    [1e9, '1s'],
    [1.5e9, '1.5s'],
    [90e9, '1m30s'],
    [3600e9, '1h0m0s'],
    [3723.5e9, '1h2m3.5s'],
  ];
  for (const [ns, want] of cases) assert.equal(goDuration(ns), want, want);
  assert.equal(goQuoteRune(0), "'\\x00'");
  assert.equal(goQuoteRune(3), "'\\x03'");
  assert.equal(goQuoteRune(65), "'A'");
  assert.equal(goQuoteRune(39), "'\\''");
  assert.equal(goQuoteRune(92), "'\\\\'");
  assert.equal(goQuoteRune(2 ** 31 - 1), "'�'");
});
