/** Exec, attach and logs: hijacking, stream framing (stdcopy or raw), content types, exit codes. */
import type { Scenario } from '../runner.ts';
import { create, remove, running, start, wait } from './util.ts';

export const streams: Scenario[] = [
  {
    name: 'exec',
    async run(c) {
      const id = await running(c, 'df-exec');
      const mk = async (label: string, body: object) => {
        const r = await c.http('POST', `/containers/${id}/exec`, body);
        c.rec.http(`create ${label}`, r);
        return (JSON.parse(r.body) as { Id?: string }).Id ?? 'none';
      };
      const e1 = await mk('echo', {
        Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'],
        AttachStdout: true,
        AttachStderr: true,
      });
      c.rec.http('inspect before start', await c.http('GET', `/exec/${e1}/json`), {
        values: ['Running', 'ExitCode', 'ProcessConfig'],
      });
      c.rec.hijacked('start hijacked', await c.hijack(`/exec/${e1}/start`, { Detach: false, Tty: false }));
      c.rec.http('inspect after', await c.http('GET', `/exec/${e1}/json`), { values: ['Running', 'ExitCode'] });
      c.rec.http('start again', await c.http('POST', `/exec/${e1}/start`, { Detach: false }));
      const e2 = await mk('detached', { Cmd: ['sh', '-c', 'exit 3'] });
      c.rec.http('start Detach: true', await c.http('POST', `/exec/${e2}/start`, { Detach: true }), { text: true });
      const e3 = await mk('tty', {
        Cmd: ['sh', '-c', 'echo hello out'],
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
      });
      c.rec.hijacked('start tty', await c.hijack(`/exec/${e3}/start`, { Detach: false, Tty: true }));
      const e4 = await mk('not found', { Cmd: ['/no/such'], AttachStdout: true, AttachStderr: true });
      c.rec.hijacked('start missing command', await c.hijack(`/exec/${e4}/start`, { Detach: false }));
      c.rec.http('inspect missing command', await c.http('GET', `/exec/${e4}/json`), { values: ['ExitCode'] });
      const e5 = await mk('not executable', { Cmd: ['/etc/passwd'], AttachStdout: true, AttachStderr: true });
      c.rec.hijacked('start not executable', await c.hijack(`/exec/${e5}/start`, { Detach: false }));
      c.rec.http('inspect not executable', await c.http('GET', `/exec/${e5}/json`), { values: ['ExitCode'] });
      const e6 = await mk('stdin', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
      c.rec.hijacked(
        'start with stdin',
        await c.hijack(`/exec/${e6}/start`, { Detach: false }, { stdin: 'in-data\n' }),
      );
      c.rec.http('create without Cmd', await c.http('POST', `/containers/${id}/exec`, { AttachStdout: true }));
      c.rec.http('inspect missing exec', await c.http('GET', '/exec/df-nosuch/json'));
      c.rec.http('resize missing exec', await c.http('POST', '/exec/df-nosuch/resize?h=10&w=10'));
      const stopped = await create(c, 'df-exec-stopped', ['true']);
      c.rec.http(
        'create on a stopped container',
        await c.http('POST', `/containers/${stopped}/exec`, { Cmd: ['true'] }),
      );
      c.rec.cli('docker exec exit code', await c.cli(['exec', 'df-exec', 'sh', '-c', 'echo hi; exit 5']));
      c.rec.cli('docker exec -t', await c.cli(['exec', '-t', 'df-exec', 'echo', 'tty']));
      c.rec.cli('docker exec missing command', await c.cli(['exec', 'df-exec', '/no/such']));
      c.rec.cli('docker exec not executable', await c.cli(['exec', 'df-exec', '/etc/passwd']));
      c.rec.cli('docker exec -d', await c.cli(['exec', '-d', 'df-exec', 'true']));
      await remove(c, id, stopped);
    },
  },
  {
    name: 'attach',
    async run(c) {
      const done = await create(c, 'df-attach-done', ['sh', '-c', 'echo out; sleep 0.2; echo err >&2']);
      await start(c, done);
      await wait(c, done);
      c.rec.http(
        'logs=1&stream=0 (no upgrade)',
        await c.http('POST', `/containers/${done}/attach?logs=1&stream=0&stdout=1&stderr=1`),
        { text: true },
      );
      c.rec.hijacked(
        'logs=1&stream=0 hijacked',
        await c.hijack(`/containers/${done}/attach?logs=1&stream=0&stdout=1&stderr=1`),
      );
      c.rec.hijacked(
        'stream=1 on an exited container',
        await c.hijack(`/containers/${done}/attach?stream=1&stdout=1`, undefined, { timeoutMs: 3000 }),
      );
      const cat = await create(c, 'df-attach-cat', ['cat'], {
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
      });
      const att = c.hijack(`/containers/${cat}/attach?stream=1&stdin=1&stdout=1&stderr=1`, undefined, {
        stdin: 'hello-attach\n',
      });
      await new Promise((r) => setTimeout(r, 300));
      await start(c, cat);
      c.rec.hijacked('attach stdin before start', await att);
      const tty = await create(c, 'df-attach-tty', ['sh', '-c', 'sleep 0.5; echo tty-out'], { Tty: true });
      const at = c.hijack(`/containers/${tty}/attach?stream=1&stdout=1&stderr=1`);
      await new Promise((r) => setTimeout(r, 300));
      await start(c, tty);
      c.rec.hijacked('attach tty', await at);
      c.rec.http('attach missing', await c.http('POST', '/containers/df-nosuch/attach?stream=1&stdout=1'));
      c.rec.http('resize not running', await c.http('POST', `/containers/${done}/resize?h=10&w=10`));
      c.rec.cli('docker start -a', await c.cli(['start', '-a', 'df-attach-done']));
      await remove(c, done, cat, tty);
    },
  },
  {
    name: 'logs',
    async run(c) {
      // 0.6 s apart: dockerd copies stdout and stderr on two goroutines, and under load 0.2 s let it log them out of
      // order (one, three, two)
      const id = await create(c, 'df-logs', ['sh', '-c', 'echo one; sleep 0.6; echo two >&2; sleep 0.6; echo three'], {
        Labels: { 'df.logs': 'x' },
        HostConfig: { LogConfig: { Type: 'json-file', Config: { labels: 'df.logs' } } },
      });
      await start(c, id);
      await wait(c, id);
      const logs = (label: string, query: string) =>
        c.http('GET', `/containers/${id}/logs?${query}`).then((r) => c.rec.http(label, r, { text: true }));
      await logs('stdout and stderr', 'stdout=1&stderr=1');
      await logs('stdout only', 'stdout=1');
      await logs('tail=1', 'stdout=1&stderr=1&tail=1');
      await logs('tail=all', 'stdout=1&stderr=1&tail=all');
      await logs('since the future', `stdout=1&stderr=1&since=${Math.floor(Date.now() / 1000) + 3600}`);
      await logs('until the past', 'stdout=1&stderr=1&until=1000');
      await logs('no stream chosen', '');
      const ts = await c.http('GET', `/containers/${id}/logs?stdout=1&timestamps=1`);
      c.rec.add('timestamps=1', {
        status: ts.status,
        'lines start with a time':
          ts.body.split('\n').filter(Boolean).length > 0 && /^\S+Z one$/m.test(ts.raw.subarray(8).toString()),
      });
      c.rec.cli('docker logs --details', await c.cli(['logs', '--details', 'df-logs']));
      c.rec.cli('docker logs -t --tail 1', await c.cli(['logs', '-t', '--tail', '1', 'df-logs']));
      c.rec.cli('docker logs --since', await c.cli(['logs', '--since', '2001-01-01', 'df-logs']));
      const tty = await create(c, 'df-logs-tty', ['echo', 'tty-line'], { Tty: true });
      await start(c, tty);
      await wait(c, tty);
      c.rec.http('tty logs are raw', await c.http('GET', `/containers/${tty}/logs?stdout=1`), { text: true });
      const f = await running(c, 'df-logs-follow', ['sh', '-c', 'echo first; sleep 60']);
      const fr = await c.stream(`/containers/${f}/logs?stdout=1&follow=1`, 1500);
      c.rec.http('follow', fr, { text: true });
      c.rec.http('logs missing', await c.http('GET', '/containers/df-nosuch/logs?stdout=1'));
      await remove(c, id, tty, f);
    },
  },
];
