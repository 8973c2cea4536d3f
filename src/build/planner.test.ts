import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgScope, expansionEnv, predefinedArgs, resolveMetaArgs } from './args.ts';
import { DockerfileError, parse, parseInstructions } from '../dockerfile/index.ts';
import { type PlanOptions, planBuild } from './planner.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };
const plan = (text: string, o: Partial<PlanOptions> = {}) =>
  planBuild(parseInstructions(parse(text)), { buildPlatform: amd64, ...o });
const failure = (text: string, o: Partial<PlanOptions> = {}): string => {
  try {
    plan(text, o);
  } catch (e) {
    assert.ok(e instanceof DockerfileError, String(e));
    return e.message;
  }
  assert.fail('planned');
};

const multi = `
FROM busybox AS tools
RUN make tools
FROM busybox AS assets
RUN make assets
FROM tools AS build
COPY --from=assets /a /a
RUN --mount=type=cache,target=/c --mount=type=bind,from=tools,source=/t,target=/t make
FROM busybox AS unused
RUN sleep 100
FROM scratch
COPY --from=build /out /
`;

test('stages, their bases and dependencies, the order and the waves that can build side by side', () => {
  const p = plan(multi);
  assert.deepEqual(
    p.stages.map((s) => [s.displayName, s.base, s.deps]),
    [
      ['tools', { kind: 'image', ref: 'busybox' }, []],
      ['assets', { kind: 'image', ref: 'busybox' }, []],
      ['build', { kind: 'stage', index: 0 }, [0, 1]],
      ['unused', { kind: 'image', ref: 'busybox' }, []],
      ['stage-4', { kind: 'scratch' }, [2]],
    ],
  );
  assert.equal(p.target, 4);
  assert.deepEqual(p.order, [0, 1, 2, 4], 'the stage nothing needs is left out');
  assert.deepEqual(p.waves, [[0, 1], [2], [4]]);
  assert.deepEqual(p.images, ['busybox']);
});

test('--target builds only what the target needs; an unknown target is refused with a suggestion', () => {
  const p = plan(multi, { target: 'Assets' });
  assert.deepEqual([p.target, p.order, p.waves], [1, [1], [[1]]]);
  assert.deepEqual(plan(multi, { target: 'build' }).order, [0, 1, 2]);
  assert.equal(failure(multi, { target: 'biuld' }), 'target stage "biuld" could not be found (did you mean build?)');
  assert.equal(failure(multi, { target: 'nothing' }), 'target stage "nothing" could not be found');
});

test('COPY --from: names (any case, later stages too), indexes, images, scratch; bad ones refused', () => {
  const p = plan(`FROM busybox AS a
COPY --from=LATER /x /x
COPY --from=1 /y /y
FROM busybox AS later
COPY --from=alpine:3.19 /etc/os-release /
COPY --from=scratch /nothing /
RUN --mount=from=golang:1.22,target=/go true
`);
  assert.deepEqual(p.stages[0]!.deps, [1]);
  assert.deepEqual(p.stages[1]!.images, ['alpine:3.19', 'golang:1.22']);
  assert.deepEqual(p.images, ['busybox', 'alpine:3.19', 'golang:1.22']);
  assert.match(failure('FROM busybox AS a\nCOPY --from=a /x /x'), /circular dependency detected on stage: a/);
  assert.match(
    failure(
      'FROM busybox AS s0\nCOPY --from=s2 f /\nFROM busybox AS s1\nCOPY --from=s0 f /\nFROM busybox AS s2\nCOPY --from=s1 f /',
    ),
    /^dockerfile parse error on line 1 \(Dockerfile, FROM\): circular dependency detected on stage: s0$/,
  );
  assert.equal(
    failure('FROM busybox\nCOPY --from=5 /x /x'),
    'dockerfile parse error on line 2 (Dockerfile, COPY): invalid stage index 5',
  );
  assert.match(
    failure('ARG S=a\nFROM busybox AS a\nFROM busybox\nCOPY --from=$S /x /x'),
    /variable expansion is not supported for --from/,
  );
});

test('FROM: an earlier stage by its exact name, else an image; a later stage name is an image', () => {
  const p = plan('FROM b AS a\nFROM a AS b');
  assert.deepEqual(
    p.stages.map((s) => s.base),
    [
      { kind: 'image', ref: 'b' },
      { kind: 'stage', index: 0 },
    ],
  );
  assert.deepEqual(p.order, [0, 1]);
});

test('ARGs before FROM, build arguments and the predefined platform arguments reach FROM lines', () => {
  const text =
    'ARG TAG=1.36\nARG REG\nARG IMG=${REG:+$REG/}busybox:$TAG\nFROM --platform=$BUILDPLATFORM $IMG AS x\nFROM ${BASE:-alpine}';
  const p = plan(text);
  assert.deepEqual(p.stages[0]!.base, { kind: 'image', ref: 'busybox:1.36' });
  assert.deepEqual(p.stages[0]!.platform, amd64);
  assert.deepEqual(p.stages[1]!.base, { kind: 'image', ref: 'alpine' });
  assert.equal(p.globalArgs.get('TAG'), '1.36');
  assert.equal(p.globalArgs.has('REG'), false, 'an ARG with no value stays unset');
  const q = plan(text, {
    buildArgs: new Map([
      ['REG', 'localhost:5000'],
      ['TAG', '1.37'],
      ['BASE', 'debian'],
    ]),
    targetPlatform: { os: 'linux', architecture: 'arm64' },
  });
  assert.deepEqual(q.stages[0]!.base, { kind: 'image', ref: 'localhost:5000/busybox:1.37' });
  assert.deepEqual(q.stages[0]!.platform, amd64, 'BUILDPLATFORM is the machine, not the target');
  assert.equal(q.globalArgs.get('TARGETARCH'), 'arm64');
  assert.equal(q.globalArgs.get('TARGETPLATFORM'), 'linux/arm64');
  assert.equal(q.globalArgs.get('TARGETSTAGE'), 'default', 'the last stage is unnamed');
  assert.deepEqual(q.unusedBuildArgs, ['BASE'], 'BASE is used by FROM, but no ARG declares it');
  assert.equal(plan('FROM --platform=linux/arm/v6 busybox').stages[0]!.platform?.variant, 'v6');
});

test('FROM errors: blank base, bad platform, bad reference, duplicate stage names', () => {
  assert.equal(
    failure('ARG X\nFROM $X'),
    'dockerfile parse error on line 2 (Dockerfile, FROM): base name ($X) should not be blank',
  );
  assert.match(failure('FROM --platform=$NOPE busybox'), /empty platform value from expression \$NOPE/);
  assert.match(failure('FROM --platform=linux/amd64/v1/x busybox'), /failed to parse platform linux\/amd64\/v1\/x/);
  assert.match(failure('FROM Busy/Box'), /failed to parse stage name "Busy\/Box"/);
  assert.equal(
    failure('FROM busybox AS a\nFROM busybox AS A'),
    'dockerfile parse error on line 2 (Dockerfile, FROM): a stage name already used',
  );
});

test('ONBUILD in a base stage runs first in the stages built from it, with its dependencies', () => {
  const p = plan('FROM busybox AS src\nFROM busybox AS base\nONBUILD COPY --from=src /s /s\nFROM base');
  assert.deepEqual(
    p.stages[2]!.triggers.map((t) => t.kind),
    ['copy'],
  );
  assert.deepEqual(p.stages[2]!.deps, [0, 1]);
  assert.deepEqual(p.waves, [[0, 1], [2]]);
});

test('unused build arguments: declared anywhere needed, proxies and platform ones excepted', () => {
  const p = plan('ARG A\nFROM busybox\nARG B', {
    buildArgs: new Map([
      ['A', '1'],
      ['B', '2'],
      ['C', '3'],
      ['HTTP_PROXY', 'http://p'],
      ['TARGETARCH', 'arm64'],
    ]),
  });
  assert.deepEqual(p.unusedBuildArgs, ['C']);
});

test('ArgScope: build arguments, defaults expanded in the stage, global values inherited, proxies', () => {
  const global = new Map([
    ['V', 'meta'],
    ['TARGETARCH', 'amd64'],
  ]);
  const buildArgs = new Map([
    ['GIVEN', 'from-cli'],
    ['https_proxy', 'http://proxy'],
  ]);
  const scope = new ArgScope(global, buildArgs);
  assert.equal(scope.declare('GIVEN', 'default'), 'from-cli');
  assert.equal(scope.declare('D', '/root/x'), '/root/x');
  assert.equal(scope.declare('V', undefined), 'meta');
  assert.equal(scope.declare('V2', ''), '', 'an empty default is a value');
  assert.equal(scope.declare('TARGETARCH', undefined), 'amd64');
  assert.equal(scope.declare('NONE', undefined), undefined);
  assert.deepEqual(Object.fromEntries(scope.values()), {
    GIVEN: 'from-cli',
    D: '/root/x',
    V: 'meta',
    V2: '',
    TARGETARCH: 'amd64',
    https_proxy: 'http://proxy',
  });
  assert.equal(scope.isRecorded('https_proxy'), false, 'an undeclared proxy stays out of the history');
  assert.equal(scope.isRecorded('D'), true);
  const env2 = expansionEnv(['PATH=/bin', 'D=from-env'], scope);
  assert.equal(env2.get('D'), 'from-env', 'ENV wins over ARG');
  assert.equal(env2.get('GIVEN'), 'from-cli');
});

test('predefined and meta arguments', () => {
  const pre = predefinedArgs({
    buildPlatform: amd64,
    targetPlatform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    target: 'final',
    buildArgs: new Map([['BUILDOS', 'overridden']]),
  });
  assert.deepEqual(Object.fromEntries(pre), {
    BUILDPLATFORM: 'linux/amd64',
    BUILDOS: 'overridden',
    BUILDOSVERSION: '',
    BUILDARCH: 'amd64',
    BUILDVARIANT: '',
    TARGETPLATFORM: 'linux/arm/v7',
    TARGETOS: 'linux',
    TARGETOSVERSION: '',
    TARGETARCH: 'arm',
    TARGETVARIANT: 'v7',
    TARGETSTAGE: 'final',
  });
  const df = parseInstructions(parse('ARG A=1\nARG B=${A}2\nARG A=3\nARG C="q d"\nFROM x'));
  const { global, declared } = resolveMetaArgs(df.metaArgs, new Map(), new Map(), '\\');
  assert.deepEqual(Object.fromEntries(global), { A: '3', B: '12', C: 'q d' });
  assert.deepEqual([...declared], ['A', 'B', 'C']);
});
