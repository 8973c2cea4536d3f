import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../util/errors.ts';
import { applyChanges } from './changes.ts';

test('CMD and ENTRYPOINT: exec form, shell form, and ENTRYPOINT clearing a CMD not set before it', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["sh", "-c", "echo hi"]']).Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(applyChanges({}, ['cmd echo $HOME "x"']).Cmd, ['/bin/sh', '-c', 'echo $HOME "x"']);
  assert.deepEqual(applyChanges({}, ['CMD [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
  assert.deepEqual(applyChanges({ Shell: ['/bin/bash', '-ec'] }, ['CMD make']).Cmd, ['/bin/bash', '-ec', 'make']);
  const base = { Cmd: ['old'] };
  assert.deepEqual(applyChanges(base, ['ENTRYPOINT ["/init"]']), { Cmd: null, Entrypoint: ['/init'] });
  assert.deepEqual(applyChanges(base, ['CMD ["x"]', 'ENTRYPOINT /init --fast']), {
    Cmd: ['x'],
    Entrypoint: ['/bin/sh', '-c', '/init --fast'],
  });
  assert.deepEqual(base, { Cmd: ['old'] }, 'the input is not modified');
});

test('ENV and LABEL: key=value pairs with quotes, the legacy form, replacement and expansion', () => {
  const c = applyChanges({ Env: ['PATH=/bin', 'A=old'] }, [
    'ENV A=new B="two words" C=x\\ y',
    'ENV D ${A}-and $B',
    'ENV E=${MISSING:-dflt} F=${A:+set}',
  ]);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=new', 'B=two words', 'C=x y', 'D=new-and two words', 'E=dflt', 'F=set']);
  const l = applyChanges({ Labels: { keep: '1' } }, ['LABEL a=1 \'b c\'="d e"', 'LABEL legacy some value']);
  assert.deepEqual(l.Labels, { keep: '1', a: '1', 'b c': 'd e', legacy: 'some value' });
  assert.throws(() => applyChanges({}, ['ENV a=1 b']), /can't find = in "b"/);
  assert.throws(() => applyChanges({}, ['ENV']), InvalidArgumentError);
});

test('EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD', () => {
  const c = applyChanges({ WorkingDir: '/app' }, [
    'EXPOSE 80 443/TCP 53/udp 8000-8002',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache /tmp/x',
    'WORKDIR sub/dir',
    'USER 1000:1000',
    'STOPSIGNAL SIGQUIT',
    'ONBUILD RUN make',
  ]);
  // in Go's map order, as dockerd writes them
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['443/tcp', '53/udp', '80/tcp', '8000/tcp', '8001/tcp', '8002/tcp']);
  assert.deepEqual(Object.keys(c.Volumes!), ['/data', '/logs', '/cache', '/tmp/x']);
  assert.equal(c.WorkingDir, '/app/sub/dir');
  assert.equal(applyChanges({}, ['WORKDIR /a/../b/']).WorkingDir, '/b/');
  assert.equal(c.User, '1000:1000');
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.deepEqual(c.OnBuild, ['RUN make']);
  assert.equal(applyChanges({}, ['STOPSIGNAL 9']).StopSignal, '9');
  assert.equal(applyChanges({}, ['STOPSIGNAL term']).StopSignal, 'term');
  assert.throws(() => applyChanges({}, ['STOPSIGNAL SIGNOPE']), /Invalid signal: SIGNOPE/);
  assert.throws(() => applyChanges({}, ['EXPOSE 80/xyz']), /invalid proto/);
  assert.throws(() => applyChanges({}, ['EXPOSE http']), /invalid containerPort: http/);
  assert.throws(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), /Chaining ONBUILD/);
  assert.throws(() => applyChanges({}, ['ONBUILD FROM x']), /FROM isn't allowed as an ONBUILD trigger/);
});

test('instructions other than the ten are refused like docker, before any is applied', () => {
  for (const [line, instr] of [
    ['RUN make', 'run'],
    ['FROM scratch', 'from'],
    ['COPY a b', 'copy'],
    ['HEALTHCHECK NONE', 'healthcheck'],
    ['SHELL ["/bin/bash"]', 'shell'],
  ]) {
    assert.throws(
      () => applyChanges({}, ['CMD ["ok"]', line!]),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === `${instr} is not a valid change command`,
    );
  }
});

test('continuation lines, comments and blank lines', () => {
  const c = applyChanges({}, ['# a comment\nENV A=1 \\\n  B=2', '', '  ']);
  assert.deepEqual(c.Env, ['A=1', 'B=2']);
});

test('words are expanded with the Dockerfile rules: quotes, escapes, modifiers', () => {
  const base = { Env: ['X=ex', 'E=', 'P=linux/arm/v7'] };
  const label = (text: string) => applyChanges(base, [`LABEL l=${text}`]).Labels?.l;
  assert.equal(label(`'$X'"$X"\\$X`), '$Xex$X');
  assert.equal(label('${E:-d}${E-d}${U-d}${X+p}${U+p}'), 'ddp');
  assert.equal(label('"a\\"b"'), 'a"b');
  assert.equal(label('${P%%/*}-${P##*/}'), 'linux-v7');
  assert.throws(() => label('${X'), /missing '}'/);
  assert.throws(() => label('"${U:?needs U}"'), /U: needs U/);
});

test("malformed changes are refused with the Dockerfile frontend's words, without a file and line", () => {
  for (const [line, message] of [
    ['USER', 'USER requires exactly one argument'],
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['VOLUME ["/a", ""]', 'VOLUME specified can not be an empty string'],
    ['BOGUS x', 'bogus is not a valid change command'],
  ] as const) {
    assert.throws(
      () => applyChanges({}, [line]),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      line,
    );
  }
  assert.deepEqual(applyChanges({ User: 'x' }, []), { User: 'x' }, 'no change at all');
  assert.deepEqual(applyChanges({}, ['# only a comment', '']), {});
});

test('ENTRYPOINT [] removes the entrypoint, as in a Dockerfile', () => {
  assert.deepEqual(applyChanges({ Entrypoint: ['/init'], Cmd: ['x'] }, ['ENTRYPOINT []']), {
    Entrypoint: null,
    Cmd: null,
  });
});
