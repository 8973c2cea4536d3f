/**
 * Source hashes are checked against what dockerd 20.10's classic builder wrote in its history for the same
 * contexts sent by the docker CLI 28 (`COPY f /f`, `COPY f Dockerfile /multi/`, `COPY d /d`, `COPY d/a d/sub /x/`);
 * step keys against the rules: what changes a key and what does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgScope } from './args.ts';
import {
  baseKey,
  type CacheKey,
  canonicalJson,
  dirSourceHash,
  type EntryHeader,
  entryHash,
  entrySum,
  fileSourceHash,
  keyedStep,
  sourcesHash,
  stepKey,
  type StepInputs,
} from './cachekey.ts';
import { parse, parseInstructions } from '../dockerfile/index.ts';
import { applyInstruction, beginStage, type StageState } from './imageconfig.ts';
import { planBuild } from './planner.ts';

const file = (name: string, content: string, mode = 0o644): [EntryHeader, string] => [
  { name, mode, uid: 0, gid: 0, size: Buffer.byteLength(content), typeflag: '0' },
  content,
];
const dir = (name: string, mode = 0o755): EntryHeader => ({ name, mode, uid: 0, gid: 0, size: 0, typeflag: '5' });

/** The Dockerfile of the first reference build, whose bytes went into its `COPY f Dockerfile` hash. */
const C1_DOCKERFILE = `FROM busybox
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

test('source hashes are those dockerd 20.10 wrote in its history', () => {
  const f = entrySum(...file('f', 'hello\n'));
  assert.equal(fileSourceHash(f), 'file:7d70391f0d5adb51fc26141f58002b62862a2d7bfeec1389438ea684d00e6046');
  const df = entrySum(...file('Dockerfile', C1_DOCKERFILE));
  assert.equal(
    sourcesHash([fileSourceHash(f), fileSourceHash(df)]),
    'multi:4abf7b5b644e9da2d9ad4624341741dbb34e38e970a61f42d603747043e5be5d',
  );
  // d/ holds a, link -> a, and sub/b (mode 0755)
  const a = entrySum(...file('d/a', 'a\n'));
  const b = entrySum(...file('d/sub/b', 'bb\n', 0o755));
  const sub = entrySum(dir('d/sub/'));
  const d = entrySum(dir('d/'));
  const link = a; // a link counts as what it points to
  assert.equal(
    dirSourceHash([d, a, link, sub, b]),
    'dir:0bf9dac078602a47f3b87b5ec7d20669ab40f595339c8405fe83690faee66a5d',
  );
  assert.equal(
    sourcesHash([fileSourceHash(a), dirSourceHash([sub, b])]),
    'multi:1f59e27394f452fb4458e115e1f956dbf29589a06aa4182a19997b855935572a',
  );
});

test('entry sums: content, mode, owner, type and xattrs count; mtime cannot', () => {
  const [h, content] = file('x', 'data');
  const base = entrySum(h, content);
  assert.equal(entryHash(h).update(content).digest('hex'), base, 'streaming gives the same sum');
  assert.notEqual(entrySum(h, 'datb'), base);
  assert.notEqual(entrySum({ ...h, mode: 0o755 }, content), base);
  assert.notEqual(entrySum({ ...h, uid: 1 }, content), base);
  assert.notEqual(entrySum({ ...h, name: 'y' }, content), base);
  assert.notEqual(entrySum({ ...h, xattrs: { 'security.capability': 'x' } }, content), base);
  assert.equal(
    entrySum({ ...h, xattrs: { b: '2', a: '1' } }, content),
    entrySum({ ...h, xattrs: { a: '1', b: '2' } }, content),
  );
  const withTime = { ...h, mtime: 12345 } as EntryHeader;
  assert.equal(entrySum(withTime, content), base, 'no mtime field is read');
  assert.equal(dirSourceHash(['b', 'a']), dirSourceHash(['a', 'b']), 'directory sums are sorted');
});

/** Keys of the steps of a one-stage Dockerfile; `inputs` gives what each COPY read. */
function keys(text: string, buildArgs: Record<string, string> = {}, inputs: StepInputs[] = []): CacheKey[] {
  const df = parseInstructions(parse(text));
  const args = new Map(Object.entries(buildArgs));
  const plan = planBuild(df, { buildPlatform: { os: 'linux', architecture: 'amd64' }, buildArgs: args });
  let state: StageState = beginStage(undefined, new ArgScope(plan.globalArgs, args)).state;
  let key = baseKey({ kind: 'image', id: 'sha256:base', platform: { os: 'linux', architecture: 'amd64' } });
  const out: CacheKey[] = [];
  const copyInputs = [...inputs];
  for (const ins of df.stages[0]!.commands) {
    const r = applyInstruction(state, ins);
    state = r.state;
    const isCopy = r.work?.kind === 'copy' || r.work?.kind === 'add';
    key = stepKey(key, keyedStep(r, isCopy ? copyInputs.shift() : {}));
    out.push(key);
  }
  return out;
}

test('step keys: the same steps give the same keys, each change changes its key and those after it', () => {
  const text = 'FROM busybox\nARG V=1\nENV A=$V\nRUN echo $A\nCOPY . /src\nRUN make\n';
  const src = { sources: 'dir:aaa' };
  const k = keys(text, {}, [src]);
  assert.deepEqual(keys(text, {}, [src]), k, 'deterministic');
  assert.equal(new Set(k).size, k.length);
  const other = keys(text, {}, [{ sources: 'dir:bbb' }]);
  assert.deepEqual(other.slice(0, 3), k.slice(0, 3), 'steps before the COPY keep their keys');
  assert.notEqual(other[3], k[3], 'new content, new COPY key');
  assert.notEqual(other[4], k[4], 'and every key after it');
  const arg = keys(text, { V: '2' }, [src]);
  assert.equal(arg[0], k[0], 'the ARG step itself is the same image (its history shows the default)');
  assert.notEqual(arg[1], k[1], 'a build argument reaching a step changes it');
  assert.notEqual(arg[2], k[2], 'and RUN, which sees it in its environment');
  const proxy = keys(text, { HTTP_PROXY: 'http://p' }, [src]);
  assert.deepEqual(proxy, k, 'an undeclared proxy argument changes nothing');
  const declared = keys(text.replace('ARG V=1', 'ARG V=1\nARG HTTP_PROXY'), { HTTP_PROXY: 'http://p' }, [src]);
  assert.notEqual(declared.at(-1), keys(text.replace('ARG V=1', 'ARG V=1\nARG HTTP_PROXY'), {}, [src]).at(-1));
  const spaced = keys(text.replace('RUN echo $A', 'RUN echo  $A'), {}, [src]);
  assert.notEqual(spaced[2], k[2], 'the command text counts');
  const from = keys(text, {}, [{ ...src, from: 'sha256:stagekey' }]);
  assert.notEqual(from[3], k[3], 'where the sources came from counts');
});

test('metadata steps are keyed by their text and the config they leave', () => {
  const a = keys('FROM b\nEXPOSE 80\n');
  const b = keys('FROM b\nEXPOSE 80/tcp\n');
  assert.notEqual(a[0], b[0], 'same config, different history text');
  assert.deepEqual(keys('FROM b\nLABEL a=1\n'), keys('FROM b\nLABEL "a"="1"\n'), 'same text and config');
  assert.notEqual(keys('FROM b\nMAINTAINER x\n')[0], keys('FROM b\nMAINTAINER y\n')[0]);
});

test('RUN mounts: bind content and cache ids count, cache content does not', () => {
  const run = (mount: string) => keys(`FROM b\nRUN --mount=${mount} make\n`)[0];
  assert.notEqual(run('type=cache,target=/c'), run('type=cache,target=/c,id=other'));
  assert.equal(run('type=cache,target=/c'), run('type=cache,target=/c,id=/c'), 'the id defaults to the target');
  assert.notEqual(run('type=cache,target=/c'), run('type=cache,target=/c,sharing=locked'));
  assert.notEqual(run('type=secret,id=a'), run('type=secret,id=b'));
  const df = parseInstructions(parse('FROM b\nRUN --mount=type=bind,target=/src make\n'));
  const r = applyInstruction(
    beginStage(undefined, new ArgScope(new Map(), new Map())).state,
    df.stages[0]!.commands[0]!,
  );
  const parent = baseKey({ kind: 'scratch', platform: { os: 'linux', architecture: 'amd64' } });
  assert.notEqual(
    stepKey(parent, keyedStep(r, { mountSources: ['dir:1'] })),
    stepKey(parent, keyedStep(r, { mountSources: ['dir:2'] })),
  );
});

test('bases: images by ID and platform, stages by their key', () => {
  const amd = { os: 'linux', architecture: 'amd64' };
  const arm = { os: 'linux', architecture: 'arm64' };
  assert.notEqual(
    baseKey({ kind: 'image', id: 'sha256:1', platform: amd }),
    baseKey({ kind: 'image', id: 'sha256:2', platform: amd }),
  );
  assert.notEqual(baseKey({ kind: 'scratch', platform: amd }), baseKey({ kind: 'scratch', platform: arm }));
  assert.equal(baseKey({ kind: 'stage', key: 'sha256:abc' }), 'sha256:abc');
});

test('canonical JSON: sorted keys, undefined left out', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }], e: null }),
    '{"a":[1,{"c":"x"}],"b":1,"e":null}',
  );
  assert.throws(() => canonicalJson({ x: Number.NaN }), TypeError);
});
