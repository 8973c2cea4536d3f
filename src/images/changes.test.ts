import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../util/errors.ts';
import { applyChanges } from './changes.ts';

test('CMD and ENTRYPOINT: exec form, shell form, and ENTRYPOINT clearing a CMD not set before it', async () => {
  assert.deepEqual((await applyChanges({}, ['CMD ["sh", "-c", "echo hi"]'])).Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual((await applyChanges({}, ['cmd echo $HOME "x"'])).Cmd, ['/bin/sh', '-c', 'echo $HOME "x"']);
  assert.deepEqual((await applyChanges({}, ['CMD [not json'])).Cmd, ['/bin/sh', '-c', '[not json']);
  assert.deepEqual((await applyChanges({ Shell: ['/bin/bash', '-ec'] }, ['CMD make'])).Cmd, [
    '/bin/bash',
    '-ec',
    'make',
  ]);
  const base = { Cmd: ['old'] };
  assert.deepEqual(await applyChanges(base, ['ENTRYPOINT ["/init"]']), {
    Cmd: null,
    Entrypoint: ['/init'],
  });
  assert.deepEqual(await applyChanges(base, ['CMD ["x"]', 'ENTRYPOINT /init --fast']), {
    Cmd: ['x'],
    Entrypoint: ['/bin/sh', '-c', '/init --fast'],
  });
  // as dockerd 20.10: a CMD without arguments does not keep the Cmd from a later ENTRYPOINT
  assert.equal((await applyChanges(base, ['CMD []', 'ENTRYPOINT ["/init"]'])).Cmd, null);
  assert.deepEqual(base, { Cmd: ['old'] }, 'the input is not modified');
});

test('ENV and LABEL: key=value pairs with quotes, the legacy form, replacement and expansion', async () => {
  const c = await applyChanges({ Env: ['PATH=/bin', 'A=old'] }, [
    'ENV A=new B="two words" C=x\\ y',
    'ENV D ${A}-and $B',
    'ENV E=${MISSING:-dflt} F=${A:+set}',
  ]);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=new', 'B=two words', 'C=x y', 'D=new-and two words', 'E=dflt', 'F=set']);
  const l = await applyChanges({ Labels: { keep: '1' } }, ['LABEL a=1 \'b c\'="d e"', 'LABEL legacy some value']);
  assert.deepEqual(l.Labels, { keep: '1', a: '1', 'b c': 'd e', legacy: 'some value' });
  await assert.rejects(() => applyChanges({}, ['ENV a=1 b']), /can't find = in "b"/);
  await assert.rejects(() => applyChanges({}, ['ENV']), InvalidArgumentError);
});

test('EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD', async () => {
  const c = await applyChanges({ WorkingDir: '/app' }, [
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
  assert.deepEqual(Object.keys(c.Volumes!), ['/cache', '/data', '/logs', '/tmp/x']);
  assert.equal(c.WorkingDir, '/app/sub/dir');
  // as dockerd 20.10: an absolute WORKDIR as written, a relative one joined and cleaned, a volume as expanded
  assert.equal((await applyChanges({}, ['WORKDIR /a/../b/'])).WorkingDir, '/a/../b/');
  assert.equal((await applyChanges({}, ['WORKDIR rel/x/'])).WorkingDir, '/rel/x');
  assert.deepEqual((await applyChanges({}, ['ENV P=" /p "', 'VOLUME $P'])).Volumes, { ' /p ': {} });
  assert.equal(c.User, '1000:1000');
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.deepEqual(c.OnBuild, ['RUN make']);
  assert.equal((await applyChanges({}, ['STOPSIGNAL 9'])).StopSignal, '9');
  assert.equal((await applyChanges({}, ['STOPSIGNAL term'])).StopSignal, 'term');
  await assert.rejects(() => applyChanges({}, ['STOPSIGNAL SIGNOPE']), /Invalid signal: SIGNOPE/);
  await assert.rejects(() => applyChanges({}, ['EXPOSE 80/xyz']), /invalid proto/);
  await assert.rejects(() => applyChanges({}, ['EXPOSE http']), /invalid containerPort: http/);
  await assert.rejects(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), /Chaining ONBUILD/);
  await assert.rejects(() => applyChanges({}, ['ONBUILD FROM x']), /FROM isn't allowed as an ONBUILD trigger/);
});

test('instructions other than the ten are refused like docker, before any is applied', async () => {
  for (const [line, instr] of [
    ['RUN make', 'run'],
    ['FROM scratch', 'from'],
    ['COPY a b', 'copy'],
    ['HEALTHCHECK NONE', 'healthcheck'],
    ['SHELL ["/bin/bash"]', 'shell'],
  ]) {
    await assert.rejects(
      () => applyChanges({}, ['CMD ["ok"]', line!]),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === `${instr} is not a valid change command`,
    );
  }
});

test('continuation lines, comments and blank lines', async () => {
  const c = await applyChanges({}, ['# a comment\nENV A=1 \\\n  B=2', '', '  ']);
  assert.deepEqual(c.Env, ['A=1', 'B=2']);
});

test('words are expanded with the Dockerfile rules: quotes, escapes, modifiers', async () => {
  const base = { Env: ['X=ex', 'E=', 'P=linux/arm/v7'] };
  const label = async (text: string) => (await applyChanges(base, [`LABEL l=${text}`])).Labels?.l;
  assert.equal(await label(`'$X'"$X"\\$X`), '$Xex$X');
  assert.equal(await label('${E:-d}${E-d}${U-d}${X+p}${U+p}'), 'ddp');
  assert.equal(await label('"a\\"b"'), 'a"b');
  assert.equal(await label('${P%%/*}-${P##*/}'), 'linux-v7');
  await assert.rejects(() => label('${X'), /missing '}'/);
  await assert.rejects(() => label('"${U:?needs U}"'), /U: needs U/);
});

test("malformed changes are refused with the Dockerfile frontend's words, without a file and line", async () => {
  for (const [line, message] of [
    ['USER', 'USER requires exactly one argument'],
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['VOLUME ["/a", ""]', 'VOLUME specified can not be an empty string'],
    ['BOGUS x', 'bogus is not a valid change command'],
  ] as const) {
    await assert.rejects(
      () => applyChanges({}, [line]),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      line,
    );
  }
  assert.deepEqual(await applyChanges({ User: 'x' }, []), { User: 'x' }, 'no change at all');
  assert.deepEqual(await applyChanges({}, ['# only a comment', '']), {});
});

test('ENTRYPOINT [] removes the entrypoint, as in a Dockerfile', async () => {
  assert.deepEqual(await applyChanges({ Entrypoint: ['/init'], Cmd: ['x'] }, ['ENTRYPOINT []']), {
    Entrypoint: null,
    Cmd: null,
  });
});
