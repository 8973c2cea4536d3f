/** Containers: create, inspect, list with filters and size, the lifecycle, and the error texts clients match. */
import type { Scenario } from '../runner.ts';
import { create, q, remove, running, sleep, start, wait } from './util.ts';

const STATE = ['State.Status', 'State.Running', 'State.Paused', 'State.ExitCode', 'State.OOMKilled'];

export const containers: Scenario[] = [
  {
    name: 'containers/create and inspect',
    async run(c) {
      const body = {
        Image: 'busybox',
        Cmd: ['sleep', '60'],
        Env: ['A=1'],
        Labels: { 'df.scenario': 'create' },
        WorkingDir: '/tmp',
        StopSignal: 'SIGUSR1',
        ExposedPorts: { '8080/tcp': {} },
        HostConfig: {
          NetworkMode: 'none',
          Memory: 64 << 20,
          CpuShares: 512,
          RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
        },
      };
      const r = await c.http('POST', '/containers/create?name=df-create', body);
      c.rec.http('create', r);
      const id = (JSON.parse(r.body) as { Id: string }).Id;
      c.rec.http('create: the name again', await c.http('POST', '/containers/create?name=df-create', body));
      c.rec.http('create: no such image', await c.http('POST', '/containers/create', { Image: 'df-nosuch:1' }));
      c.rec.http('create: invalid name', await c.http('POST', '/containers/create?name=a%20b', { Image: 'busybox' }));
      c.rec.http('create: no body', await c.http('POST', '/containers/create', ''));
      const noImage = await c.http('POST', '/containers/create', { Cmd: ['true'] });
      c.rec.http('create: no image', noImage);
      // dockerd 20.10 creates it (deliberate difference): it goes, or system df would count it.
      if (noImage.status === 201) await remove(c, (JSON.parse(noImage.body) as { Id: string }).Id);
      c.rec.http(
        'create: bad restart policy',
        await c.http('POST', '/containers/create', {
          Image: 'busybox',
          HostConfig: { RestartPolicy: { Name: 'sometimes' } },
        }),
      );
      c.rec.http(
        'create: negative memory',
        await c.http('POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: -5 } }),
      );
      c.rec.http('inspect created', await c.http('GET', `/containers/${id}/json`), {
        values: [
          ...STATE,
          'Name',
          'Path',
          'Args',
          'Config.Env',
          'Config.WorkingDir',
          'Config.StopSignal',
          'HostConfig.RestartPolicy',
          'HostConfig.Memory',
          'RestartCount',
          'Driver',
        ],
      });
      c.rec.http('inspect ?size=1', await c.http('GET', `/containers/${id}/json?size=1`), { values: ['SizeRw'] });
      c.rec.http('inspect by name and short id', await c.http('GET', `/containers/${id.slice(0, 12)}/json`), {
        noBody: true,
      });
      c.rec.http('inspect missing', await c.http('GET', '/containers/df-nosuch/json'));
      await start(c, id);
      c.rec.http('inspect running', await c.http('GET', `/containers/${id}/json`), { values: STATE });
      c.rec.cli(
        'docker container inspect --size',
        await c.cli(['container', 'inspect', '--size', '--format', '{{.SizeRw}} {{.SizeRootFs}}', 'df-create']),
      );
      await remove(c, id);
    },
  },
  {
    name: 'containers/log drivers',
    async run(c) {
      for (const [label, LogConfig] of [
        ['none', { Type: 'none', Config: {} }],
        ['local', { Type: 'local', Config: { 'max-size': '1m' } }],
        ['json-file max-size', { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } }],
        ['unknown driver', { Type: 'df-nosuchdriver', Config: {} }],
        ['json-file bad option', { Type: 'json-file', Config: { 'no-such-opt': 'x' } }],
      ] as const) {
        const r = await c.http('POST', `/containers/create?name=df-log-${label.replace(/\W/g, '')}`, {
          Image: 'busybox',
          Cmd: ['echo', 'logged'],
          HostConfig: { NetworkMode: 'none', LogConfig },
        });
        c.rec.http(`create with log driver ${label}`, r);
        if (r.status !== 201) continue;
        const id = (JSON.parse(r.body) as { Id: string }).Id;
        await start(c, id);
        await wait(c, id);
        c.rec.http(`logs with log driver ${label}`, await c.http('GET', `/containers/${id}/logs?stdout=1`), {
          text: true,
        });
        await remove(c, id);
      }
      c.rec.cli(
        'docker run --log-driver syslog',
        await c.cli([
          'run',
          '--rm',
          '--network',
          'none',
          '--log-driver',
          'syslog',
          '--log-opt',
          'syslog-address=udp://127.0.0.1:9',
          'busybox',
          'true',
        ]),
      );
    },
  },
  {
    name: 'containers/list filters and size',
    async run(c) {
      const L = { 'df.list': 'yes' };
      const a = await create(c, 'df-list-a', ['true'], { Labels: { ...L, role: 'a' } });
      await start(c, a);
      await wait(c, a);
      const b = await running(c, 'df-list-b', ['sleep', '60'], {
        Labels: { ...L, role: 'b' },
        ExposedPorts: { '80/tcp': {} },
      });
      const v = await create(c, 'df-list-c', ['true'], { Labels: L, HostConfig: { Binds: ['df-list-vol:/data'] } });
      const f = (o: Record<string, string[]>) => q({ label: ['df.list=yes'], ...o });
      const list = async (label: string, query: string) =>
        c.rec.http(label, await c.http('GET', `/containers/json?${query}`), { values: ['[].Names', '[].State'] });
      await list('list (running, label)', `filters=${f({})}`);
      await list('list all (label)', `all=1&filters=${f({})}`);
      await list('status=exited', `all=1&filters=${f({ status: ['exited'] })}`);
      await list('status=created', `all=1&filters=${f({ status: ['created'] })}`);
      await list('status=bogus', `all=1&filters=${f({ status: ['bogus'] })}`);
      await list('name', `all=1&filters=${f({ name: ['df-list-a'] })}`);
      await list('id', `all=1&filters=${f({ id: [b.slice(0, 12)] })}`);
      await list('ancestor', `all=1&filters=${f({ ancestor: ['busybox'] })}`);
      await list('before', `all=1&filters=${f({ before: ['df-list-c'] })}`);
      await list('since', `all=1&filters=${f({ since: ['df-list-a'] })}`);
      await list('volume', `all=1&filters=${f({ volume: ['df-list-vol'] })}`);
      await list('network', `all=1&filters=${f({ network: ['none'] })}`);
      await list('expose', `all=1&filters=${f({ expose: ['80/tcp'] })}`);
      await list('publish', `all=1&filters=${f({ publish: ['80'] })}`);
      await list('is-task', `all=1&filters=${f({ 'is-task': ['false'] })}`);
      await list('exited=0', `all=1&filters=${f({ exited: ['0'] })}`);
      await list('label role=b', `all=1&filters=${f({ label: ['df.list=yes', 'role=b'] })}`);
      await list('unknown filter', `all=1&filters=${q({ nosuch: ['x'] })}`);
      await list('limit=1', `all=1&limit=1&filters=${f({})}`);
      c.rec.http('size=1', await c.http('GET', `/containers/json?size=1&filters=${f({ name: ['df-list-b'] })}`));
      c.rec.cli(
        'docker ps --filter --format',
        await c.cli([
          'ps',
          '-a',
          '--filter',
          'label=df.list',
          '--filter',
          'status=exited',
          '--format',
          '{{.Names}} {{.Status}}',
        ]),
      );
      c.rec.cli(
        'docker ps -s',
        await c.cli(['ps', '-s', '--filter', 'name=df-list-b', '--format', '{{.Names}} {{.Size}}']),
      );
      await remove(c, a, b, v);
      await c.http('DELETE', '/volumes/df-list-vol');
    },
  },
  {
    name: 'containers/lifecycle',
    async run(c) {
      const id = await create(c, 'df-life', ['sleep', '60']);
      c.rec.http('start', await c.http('POST', `/containers/${id}/start`));
      c.rec.http('start again', await c.http('POST', `/containers/${id}/start`));
      c.rec.http('delete running', await c.http('DELETE', `/containers/${id}`));
      c.rec.http('pause', await c.http('POST', `/containers/${id}/pause`));
      c.rec.http('pause again', await c.http('POST', `/containers/${id}/pause`));
      c.rec.http('inspect paused', await c.http('GET', `/containers/${id}/json`), { values: STATE });
      c.rec.http('delete paused', await c.http('DELETE', `/containers/${id}`));
      c.rec.http('stop paused (t=1)', await c.http('POST', `/containers/${id}/stop?t=1`));
      c.rec.http('unpause not paused', await c.http('POST', `/containers/${id}/unpause`));
      c.rec.http('stop again', await c.http('POST', `/containers/${id}/stop`));
      c.rec.http('kill stopped', await c.http('POST', `/containers/${id}/kill`));
      c.rec.http('restart (t=1)', await c.http('POST', `/containers/${id}/restart?t=1`));
      c.rec.http('kill bad signal', await c.http('POST', `/containers/${id}/kill?signal=SIGNOPE`));
      c.rec.http('kill SIGKILL', await c.http('POST', `/containers/${id}/kill?signal=SIGKILL`));
      c.rec.http('inspect right after kill', await c.http('GET', `/containers/${id}/json`), {
        values: ['State.Running', 'State.Status', 'State.ExitCode'],
      });
      c.rec.http('wait exited', await c.http('POST', `/containers/${id}/wait`), { values: ['StatusCode', 'Error'] });
      c.rec.http('wait bad condition', await c.http('POST', `/containers/${id}/wait?condition=bogus`));
      c.rec.http('wait next-exit headers', await c.stream(`/containers/${id}/wait?condition=next-exit`, 300), {
        noBody: true,
      });
      c.rec.http('delete with link=1 (no such link)', await c.http('DELETE', `/containers/${id}/nolink?link=1`));
      c.rec.http('delete', await c.http('DELETE', `/containers/${id}?v=1`));
      c.rec.http('delete again', await c.http('DELETE', `/containers/${id}`));
      const ex = await create(c, 'df-life-exit', ['sh', '-c', 'exit 3']);
      await start(c, ex);
      c.rec.http('wait exit 3', await c.http('POST', `/containers/${ex}/wait`), { values: ['StatusCode', 'Error'] });
      c.rec.http('inspect exit 3', await c.http('GET', `/containers/${ex}/json`), { values: STATE });
      c.rec.http(
        'start a missing command',
        await c.http('POST', `/containers/${await create(c, 'df-life-nocmd', ['/no/such'])}/start`),
      );
      c.rec.http(
        'start a non-executable',
        await c.http('POST', `/containers/${await create(c, 'df-life-noexec', ['/etc/passwd'])}/start`),
      );
      c.rec.cli(
        'docker run exit 3',
        await c.cli(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; exit 3']),
      );
      c.rec.cli('docker run missing command', await c.cli(['run', '--rm', '--network', 'none', 'busybox', '/no/such']));
      c.rec.cli(
        'docker run not executable',
        await c.cli(['run', '--rm', '--network', 'none', 'busybox', '/etc/passwd']),
      );
      c.rec.cli('docker rm running', await c.cli(['rm', (await running(c, 'df-life-rm')).slice(0, 12)]));
      await remove(c, ex, 'df-life-nocmd', 'df-life-noexec', 'df-life-rm');
    },
  },
  {
    name: 'containers/rename top stats update changes export',
    async run(c) {
      const id = await running(c, 'df-misc', ['sh', '-c', 'echo x > /tmp/new; rm /etc/group; sleep 60']);
      const other = await create(c, 'df-misc-other', ['true']);
      c.rec.http('rename', await c.http('POST', `/containers/${id}/rename?name=df-misc2`));
      c.rec.http('rename to a used name', await c.http('POST', `/containers/${id}/rename?name=df-misc-other`));
      c.rec.http('rename without name', await c.http('POST', `/containers/${id}/rename`));
      c.rec.http('top', await c.http('GET', `/containers/${id}/top`), { values: ['Titles'] });
      c.rec.http('top ps_args', await c.http('GET', `/containers/${id}/top?ps_args=-o%20pid,comm`), {
        values: ['Titles'],
      });
      c.rec.http('top stopped', await c.http('GET', `/containers/${other}/top`));
      c.rec.http('stats one-shot', await c.http('GET', `/containers/${id}/stats?stream=false`));
      c.rec.http('stats one-shot=1', await c.http('GET', `/containers/${id}/stats?stream=false&one-shot=1`));
      c.rec.http('stats stream', await c.stream(`/containers/${id}/stats`, 2500), { lines: true });
      c.rec.http('stats stopped one-shot', await c.http('GET', `/containers/${other}/stats?stream=false`));
      c.rec.http(
        'update',
        await c.http('POST', `/containers/${id}/update`, {
          Memory: 96 << 20,
          MemorySwap: -1,
          RestartPolicy: { Name: 'unless-stopped' },
        }),
      );
      c.rec.http('inspect after update', await c.http('GET', `/containers/${id}/json`), {
        values: ['HostConfig.Memory', 'HostConfig.RestartPolicy'],
      });
      c.rec.http('update bad body', await c.http('POST', `/containers/${id}/update`, '{'));
      const ch = await c.http('GET', `/containers/${id}/changes`);
      c.rec.http('changes', ch);
      // The order is the upper directory's walk order on either engine: compare the set.
      const list = ch.status === 200 ? (JSON.parse(ch.body) as { Path: string; Kind: number }[]) : [];
      c.rec.add('changes', { set: list.map((x) => `${x.Kind} ${x.Path}`).sort() });
      const ex = await c.http('GET', `/containers/${id}/export`);
      c.rec.http('export', ex, { noBody: true });
      c.rec.add('export', { 'is a tar': ex.raw.subarray(257, 262).toString('latin1') === 'ustar' });
      c.rec.cli(
        'docker stats --no-stream',
        await c.cli(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'df-misc2']),
      );
      // PIDs and start times are each engine's own: the user, the columns and the command are compared.
      const t = await c.cli(['top', 'df-misc2']);
      c.rec.cli('docker top', {
        ...t,
        stdout: t.stdout.replace(
          /^(\S+) +\d+ +\d+ +\d+ +\S+ +(\S+) +\S+ +(.*)$/gm,
          '$1 <pid> <ppid> <c> <stime> $2 <time> $3',
        ),
      });
      await remove(c, id, other);
    },
  },
  {
    name: 'containers/prune',
    serial: true,
    async run(c) {
      const a = await create(c, 'df-prune-a', ['true'], { Labels: { 'df.prune': 'a' } });
      const b = await create(c, 'df-prune-b', ['true'], { Labels: { 'df.prune': 'b' } });
      const keep = await running(c, 'df-prune-run', ['sleep', '60'], { Labels: { 'df.prune': 'a' } });
      await sleep(10);
      c.rec.http(
        'prune label=df.prune=a',
        await c.http('POST', `/containers/prune?filters=${q({ label: ['df.prune=a'] })}`),
        { values: ['ContainersDeleted'] },
      );
      c.rec.http(
        'prune until in the past',
        await c.http('POST', `/containers/prune?filters=${q({ until: ['2001-01-01T00:00:00Z'] })}`),
        { values: ['ContainersDeleted'] },
      );
      c.rec.http('prune bad filter', await c.http('POST', `/containers/prune?filters=${q({ nosuch: ['x'] })}`));
      c.rec.http('inspect a', await c.http('GET', `/containers/${a}/json`), { noBody: true });
      c.rec.cli(
        'docker container prune -f --filter',
        await c.cli(['container', 'prune', '-f', '--filter', 'label=df.prune=b']),
      );
      c.rec.http('inspect b', await c.http('GET', `/containers/${b}/json`), { noBody: true });
      await remove(c, keep);
    },
  },
];
