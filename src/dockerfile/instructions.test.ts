import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerfileError } from './errors.ts';
import { type Dockerfile, type Instruction, parseInstructions, parseTriggers } from './instructions.ts';
import { csvFields, parseMount } from './mounts.ts';
import { parse } from './parser.ts';

const load = (text: string): Dockerfile => parseInstructions(parse(text));
const one = (line: string): Instruction => load(`FROM busybox\n${line}`).stages[0]!.commands[0]!;
/** The detail of the error a Dockerfile line gives (the text Docker prints after its location). */
const detail = (line: string, prefix = 'FROM busybox\n'): string => {
  try {
    load(`${prefix}${line}`);
  } catch (e) {
    assert.ok(e instanceof DockerfileError, String(e));
    return e.detail;
  }
  assert.fail(`accepted: ${line}`);
};

test('stages: FROM with AS and --platform, ARGs before the first FROM, indexes', () => {
  const df = load(
    'ARG V=1\nARG B\nFROM --platform=$BUILDPLATFORM img:$V AS Build\nRUN x\nFROM scratch\nCOPY --from=build /a /b',
  );
  assert.deepEqual(
    df.metaArgs.map((a) => a.args),
    [[{ key: 'V', value: '1' }], [{ key: 'B' }]],
  );
  assert.equal(df.stages.length, 2);
  assert.deepEqual(
    df.stages.map((s) => [s.index, s.from.image, s.from.name, s.from.platform, s.commands.length]),
    [
      [0, 'img:$V', 'build', '$BUILDPLATFORM', 1],
      [1, 'scratch', '', '', 1],
    ],
  );
  assert.equal(df.stages[0]!.from.original, 'FROM --platform=$BUILDPLATFORM img:$V AS Build');
});

test('RUN: shell and exec forms, heredoc files, mounts, network, security', () => {
  assert.deepEqual(one('RUN echo "a  b"  c'), {
    kind: 'run',
    keyword: 'RUN',
    original: 'RUN echo "a  b"  c',
    startLine: 2,
    endLine: 2,
    cmdLine: ['echo "a  b"  c'],
    prependShell: true,
    files: [],
    mounts: [],
    network: 'default',
    security: 'sandbox',
    flagsUsed: [],
  });
  const exec = one('RUN ["echo", "$HOME"]');
  assert.ok(exec.kind === 'run');
  assert.deepEqual([exec.cmdLine, exec.prependShell], [['echo', '$HOME'], false]);
  const r = one('run --mount=type=cache,target=/root/.cache,sharing=locked --network=none <<-EOT sh\n\techo hi\nEOT');
  assert.ok(r.kind === 'run');
  assert.deepEqual(r.files, [{ name: 'EOT', data: '\techo hi\n', chomp: true }]);
  assert.deepEqual(r.mounts, ['type=cache,target=/root/.cache,sharing=locked']);
  assert.deepEqual([r.network, r.flagsUsed, r.endLine], ['none', ['mount', 'network'], 4]);
  assert.equal(detail('RUN --network=bridge true'), 'invalid network mode "bridge"');
  assert.equal(detail('RUN --security=root true'), 'security mode "root" is not valid');
  assert.equal(detail('RUN --mount=type=cahce,target=/x true'), 'unsupported mount type "cahce" (did you mean cache?)');
  assert.equal(
    detail('RUN --mount=from=$X,target=/x true'),
    "'from' doesn't support variable expansion, define alias stage instead",
  );
  const deferred = one('RUN --mount=type=$T,target=/x true');
  assert.ok(deferred.kind === 'run', 'a mount with a variable is checked after expansion');
});

test('CMD and ENTRYPOINT: forms, and an empty ENTRYPOINT removes it', () => {
  const cmd = one('CMD ["a", "b"]');
  assert.ok(cmd.kind === 'cmd');
  assert.deepEqual([cmd.cmdLine, cmd.prependShell], [['a', 'b'], false]);
  const shell = one('CMD  run   me ');
  assert.ok(shell.kind === 'cmd');
  assert.deepEqual([shell.cmdLine, shell.prependShell], [['run   me'], true]);
  const empty = one('ENTRYPOINT []');
  assert.ok(empty.kind === 'entrypoint');
  assert.equal(empty.cmdLine, null);
  const cmdEmpty = one('CMD []');
  assert.ok(cmdEmpty.kind === 'cmd');
  assert.deepEqual(cmdEmpty.cmdLine, []);
});

test('ENV, LABEL, ARG: pairs, the legacy form, blank names', () => {
  const env = one('ENV A=1 B="two words" C=');
  assert.deepEqual(env.kind === 'env' && env.env, [
    { key: 'A', value: '1', noDelim: false },
    { key: 'B', value: '"two words"', noDelim: false },
    { key: 'C', value: '', noDelim: false },
  ]);
  const legacy = one('ENV PATH /usr/bin:$PATH');
  assert.deepEqual(legacy.kind === 'env' && legacy.env, [{ key: 'PATH', value: '/usr/bin:$PATH', noDelim: true }]);
  const label = one('LABEL "com.example.v"="1.0" maintainer=me');
  assert.deepEqual(label.kind === 'label' && label.labels.map((l) => [l.key, l.value]), [
    ['"com.example.v"', '"1.0"'],
    ['maintainer', 'me'],
  ]);
  const arg = one('ARG A B=2 C=');
  assert.deepEqual(arg.kind === 'arg' && arg.args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }]);
  assert.equal(detail('ENV =x'), 'ENV names can not be blank');
  assert.equal(detail('LABEL =x'), 'LABEL names can not be blank');
  assert.equal(detail('ARG =x'), 'ARG names can not be blank');
  assert.equal(detail('ENV'), 'ENV requires at least one argument');
  assert.equal(detail('ENV a=1 b'), 'Syntax error - can\'t find = in "b". Must be of the form: name=value');
  assert.equal(detail('LABEL a'), 'LABEL must have two arguments');
});

test('the other metadata instructions and their argument counts', () => {
  const e = one('EXPOSE 8080 443/tcp 53/udp');
  assert.deepEqual(e.kind === 'expose' && e.ports, ['443/tcp', '53/udp', '8080'], 'sorted, as Docker does');
  const v = one('VOLUME ["/a", " /b "]');
  assert.deepEqual(v.kind === 'volume' && v.volumes, ['/a', '/b']);
  const u = one('USER app:app');
  assert.equal(u.kind === 'user' && u.user, 'app:app');
  const u2 = one('USER a b');
  assert.equal(u2.kind === 'user' && u2.user, 'a b', 'one argument: the rest of the line, as Docker');
  const w = one('WORKDIR $HOME/src');
  assert.equal(w.kind === 'workdir' && w.path, '$HOME/src');
  const s = one('STOPSIGNAL SIGKILL');
  assert.equal(s.kind === 'stopsignal' && s.signal, 'SIGKILL');
  const m = one('MAINTAINER Jane <j@example.com>');
  assert.equal(m.kind === 'maintainer' && m.maintainer, 'Jane <j@example.com>');
  const sh = one('SHELL ["/bin/bash", "-o", "pipefail", "-c"]');
  assert.deepEqual(sh.kind === 'shell' && sh.shell, ['/bin/bash', '-o', 'pipefail', '-c']);
  for (const [line, want] of [
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['VOLUME', 'VOLUME requires at least one argument'],
    ['VOLUME [""]', 'VOLUME specified can not be an empty string'],
    ['USER', 'USER requires exactly one argument'],
    ['WORKDIR', 'WORKDIR requires exactly one argument'],
    ['STOPSIGNAL', 'STOPSIGNAL requires exactly one argument'],
    ['MAINTAINER', 'MAINTAINER requires exactly one argument'],
    ['SHELL sh -c', 'SHELL requires the arguments to be in JSON form'],
    ['SHELL []', 'SHELL requires at least one argument'],
    ['ONBUILD', 'ONBUILD requires at least one argument'],
    ['HEALTHCHECK', 'HEALTHCHECK requires at least one argument'],
  ]) {
    assert.equal(detail(line!), want, line);
  }
});

test('COPY and ADD: flags, sources and heredoc contents, destination', () => {
  const c = one(
    'COPY --from=build --chown=app:app --chmod=0755 --link --exclude=*.md --exclude=.git --parents a b/ /dst/',
  );
  assert.deepEqual(c, {
    kind: 'copy',
    keyword: 'COPY',
    original:
      'COPY --from=build --chown=app:app --chmod=0755 --link --exclude=*.md --exclude=.git --parents a b/ /dst/',
    startLine: 2,
    endLine: 2,
    sources: ['a', 'b/'],
    contents: [],
    dest: '/dst/',
    chown: 'app:app',
    chmod: '0755',
    link: true,
    excludes: ['*.md', '.git'],
    from: 'build',
    parents: true,
  });
  const h = one("COPY <<a.sh <<-'raw' /dst/\necho $X\na.sh\n\tkeep $Y\nraw");
  assert.deepEqual(h.kind === 'copy' && h.contents, [
    { path: 'a.sh', data: 'echo $X\n', expand: true },
    { path: 'raw', data: 'keep $Y\n', expand: false },
  ]);
  const a = one('ADD --checksum=sha256:abc --keep-git-dir=false --unpack https://x/y.tgz /dst');
  assert.ok(a.kind === 'add');
  assert.deepEqual([a.checksum, a.keepGitDir, a.unpack, a.sources], ['sha256:abc', false, true, ['https://x/y.tgz']]);
  const plain = one('ADD a /b');
  assert.ok(plain.kind === 'add' && !('keepGitDir' in plain) && !('unpack' in plain));
  const json = one('COPY ["a b", "/c d"]');
  assert.deepEqual(json.kind === 'copy' && [json.sources, json.dest], [['a b'], '/c d']);
  assert.equal(
    detail('COPY a'),
    'COPY requires at least two arguments, but only one was provided. Destination could not be determined',
  );
  assert.equal(detail('COPY a <<EOF\nx\nEOF'), 'COPY cannot accept a heredoc as a destination');
  assert.equal(detail('ADD --from=x a b'), 'Unknown flag: from');
  assert.equal(detail('COPY --chown a b'), 'Missing a value on flag: chown');
  assert.equal(detail('COPY --chown=1 --chown=2 a b'), 'Duplicate flag specified: chown');
  assert.equal(detail('COPY --link=maybe a b'), 'Expecting boolean value for flag link, not: maybe');
  assert.equal(detail('COPY --link= a b'), 'Missing a value on flag: link');
  assert.equal(detail('COPY --form=x a b'), 'Unknown flag: form (did you mean from?)');
});

test('HEALTHCHECK: NONE, CMD forms, durations and retries', () => {
  const h = one(
    'HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1.5s --start-interval=100ms --retries=3 CMD curl -f x',
  );
  assert.ok(h.kind === 'healthcheck');
  assert.deepEqual(
    [h.test, h.interval, h.timeout, h.startPeriod, h.startInterval, h.retries],
    [['CMD-SHELL', 'curl -f x'], 5e9, 90e9, 1.5e9, 1e8, 3],
  );
  const exec = one('HEALTHCHECK CMD ["/check", "-q"]');
  assert.deepEqual(exec.kind === 'healthcheck' && exec.test, ['CMD', '/check', '-q']);
  const none = one('HEALTHCHECK --whatever NONE');
  assert.deepEqual(none.kind === 'healthcheck' && none.test, ['NONE'], 'NONE ignores flags, as Docker');
  for (const [line, want] of [
    ['HEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
    ['HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD'],
    ['HEALTHCHECK FOO x', 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
    ['HEALTHCHECK --interval=1ns CMD x', 'Interval "interval" cannot be less than 1ms'],
    ['HEALTHCHECK --interval=abc CMD x', 'time: invalid duration "abc"'],
    ['HEALTHCHECK --retries=x CMD x', 'strconv.ParseInt: parsing "x": invalid syntax'],
    ['HEALTHCHECK --retries=-1 CMD x', '--retries cannot be negative (-1)'],
    ['HEALTHCHECK --foo CMD x', 'Unknown flag: foo'],
  ]) {
    assert.equal(detail(line!), want, line);
  }
});

test('ONBUILD keeps its trigger text; chained and forbidden triggers are refused', () => {
  const o = one('ONBUILD   RUN echo "$X"');
  assert.equal(o.kind === 'onbuild' && o.expression, 'RUN echo "$X"');
  const h = one('ONBUILD COPY <<EOF /f\nhello\nEOF');
  assert.equal(h.kind === 'onbuild' && h.expression, 'COPY <<EOF /f\nhello\nEOF');
  assert.equal(detail('ONBUILD ONBUILD RUN x'), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  assert.equal(detail('ONBUILD FROM x'), "FROM isn't allowed as an ONBUILD trigger");
  assert.equal(detail('ONBUILD maintainer x'), "MAINTAINER isn't allowed as an ONBUILD trigger");
  const triggers = parseTriggers(['RUN echo hi', 'COPY <<EOF /f\nhello\nEOF', 'ENV A=1'], 'ONBUILD of base');
  assert.deepEqual(
    triggers.map((t) => t.kind),
    ['run', 'copy', 'env'],
  );
  assert.throws(() => parseTriggers(['FOO x'], 'ONBUILD of base'), {
    message: 'dockerfile parse error on line 1 (ONBUILD of base, FOO): unknown instruction: FOO (did you mean FROM?)',
  });
});

test('file-level errors: no stage, unknown instruction (with a suggestion), FROM arguments and names', () => {
  assert.equal(detail('RUN true', ''), 'no build stage in current context');
  assert.equal(detail('BAZZZ bar'), 'unknown instruction: BAZZZ');
  assert.equal(detail('FOO bar'), 'unknown instruction: FOO (did you mean FROM?)');
  assert.equal(detail('RUNN x'), 'unknown instruction: RUNN (did you mean RUN?)');
  assert.equal(detail('copyy x y'), 'unknown instruction: copyy (did you mean copy?)');
  assert.equal(detail('FROM', ''), 'FROM requires either one or three arguments');
  assert.equal(detail('FROM a b c d', ''), 'FROM requires either one or three arguments');
  assert.equal(detail('FROM a to b', ''), 'FROM requires either one or three arguments');
  assert.equal(
    detail('FROM busybox AS 1x', ''),
    'invalid name for build stage: "1x", name can\'t start with a number or contain symbols',
  );
  assert.equal(detail('FROM --foo busybox', ''), 'Unknown flag: foo');
  assert.throws(() => load('FROM a\nCOPY --bogus=1 a b'), {
    message: 'dockerfile parse error on line 2 (Dockerfile, COPY): Unknown flag: bogus',
  });
});

test("mounts: types, defaults, options, and BuildKit's checks", () => {
  assert.deepEqual(parseMount('target=/src'), {
    type: 'bind',
    from: '',
    source: '',
    target: '/src',
    readOnly: true,
    sizeLimit: 0,
    id: '',
    sharing: '',
    required: false,
  });
  const cache = parseMount('type=cache,id=go,target=/root/.cache,sharing=private,mode=0700,uid=1000,gid=1000');
  assert.deepEqual(
    [cache.readOnly, cache.id, cache.sharing, cache.mode, cache.uid, cache.gid],
    [false, 'go', 'private', 0o700, 1000, 1000],
  );
  assert.equal(parseMount('type=tmpfs,dst=/t,size=64m').sizeLimit, 64 * 1024 * 1024);
  assert.equal(parseMount('type=bind,from=build,src=/out,target=/in,rw').readOnly, false);
  assert.equal(parseMount('type=bind,target=/in,readonly=false').readOnly, false);
  const secret = parseMount('type=secret,id=npm,target=/root/.npmrc,required,env=TOKEN');
  assert.deepEqual([secret.required, secret.env, secret.readOnly], [true, 'TOKEN', true]);
  assert.equal(parseMount('type=cache,target=$DIR', (w) => w.replace('$DIR', '/c')).target, '/c');
  for (const [spec, want] of [
    ['type=bind,target=/x,mode=0700', 'mode not allowed for "bind" type mounts'],
    ['type=tmpfs,target=/x,uid=1', 'uid not allowed for "tmpfs" type mounts'],
    ['type=bind,target=/x,size=1m', "unexpected key 'size' for mount type 'bind'"],
    ['type=cache,target=/x,required', "unexpected key 'required' for mount type 'cache'"],
    ['type=secret,from=x,id=a', 'secret mount should not have a from'],
    ['type=secret', 'invalid secret mount. one of source, target required'],
    ['type=secret,src=a,id=b', "both source and id can't be set"],
    ['type=bind,target=/x,sharing=shared', 'invalid cache sharing set for bind mount'],
    ['type=cache,target=/x,sharing=everyone', 'unsupported sharing value "everyone"'],
    ['type=cache,targt=/x', "unexpected key 'targt' in 'targt=/x' (did you mean target?)"],
    ['type=cache,target=/x,bogus', "invalid field 'bogus' must be a key=value pair"],
    ['type=cache,target=/x,ro=maybe', 'invalid value for ro: maybe'],
    ['type=cache,target=/x,mode=9', 'invalid value 9 for mode'],
    ['type=tmpfs,target=/x,size=lots', 'invalid value for size: lots'],
  ]) {
    assert.throws(() => parseMount(spec!), { message: want }, spec);
  }
  assert.deepEqual(csvFields('type=bind,"target=/a,b","x="""'), ['type=bind', 'target=/a,b', 'x="']);
  assert.throws(() => csvFields('a="b'), /bare "/);
});
