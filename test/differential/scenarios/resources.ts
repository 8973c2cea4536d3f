/** Volumes, networks and events. */
import { randomInt } from 'node:crypto';
import type { Ctx } from '../clients.ts';
import type { Scenario } from '../runner.ts';
import { create, q, remove, start, wait } from './util.ts';

/** One /24 for the scenario's network, the same on both engines; chosen once per run. */
const SUBNET = `10.204.${randomInt(256)}`;
/** The bridge device the networks scenario names, so that the test can remove it if a run stops half-way. */
export const DIFF_BRIDGE = `dfbr${SUBNET.split('.')[2]}`;

/** The events since `since` (to a second from now) under each filter: their types and actions, in order. */
async function events(c: Ctx, since: number, cases: [string, object][]): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
  const until = Math.floor(Date.now() / 1000) + 1;
  for (const [label, filters] of cases)
    c.rec.http(label, await c.stream(`/events?since=${since}&until=${until}&filters=${q(filters)}`, 4000), {
      lines: true,
      values: ['[].Action', '[].Type'],
    });
}

export const resources: Scenario[] = [
  {
    name: 'volumes',
    async run(c) {
      const since = Math.floor(Date.now() / 1000) - 1;
      c.rec.http(
        'create',
        await c.http('POST', '/volumes/create', { Name: 'df-vol', Labels: { 'df.vol': 'x' }, DriverOpts: {} }),
        { values: ['Name', 'Driver', 'Scope', 'Labels'] },
      );
      c.rec.http('create again (same)', await c.http('POST', '/volumes/create', { Name: 'df-vol' }), {
        values: ['Name'],
      });
      c.rec.http('create bad name', await c.http('POST', '/volumes/create', { Name: 'a/b' }));
      c.rec.http(
        'create bad driver',
        await c.http('POST', '/volumes/create', { Name: 'df-vol-drv', Driver: 'df-nosuch' }),
      );
      c.rec.http('inspect', await c.http('GET', '/volumes/df-vol'), {
        values: ['Name', 'Driver', 'Scope', 'Labels', 'Options'],
      });
      c.rec.http('inspect missing', await c.http('GET', '/volumes/df-nosuch'));
      c.rec.http('list by label', await c.http('GET', `/volumes?filters=${q({ label: ['df.vol'] })}`), {
        values: ['Volumes[].Name', 'Warnings'],
      });
      c.rec.http('list by name', await c.http('GET', `/volumes?filters=${q({ name: ['df-vol'] })}`), {
        values: ['Volumes[].Name'],
      });
      c.rec.http('list bad filter', await c.http('GET', `/volumes?filters=${q({ nosuch: ['x'] })}`));
      const user = await create(c, 'df-vol-user', ['true'], { HostConfig: { Binds: ['df-vol:/data'] } });
      c.rec.http('delete in use', await c.http('DELETE', '/volumes/df-vol'));
      c.rec.http('delete in use, force', await c.http('DELETE', '/volumes/df-vol?force=1'));
      await remove(c, user);
      c.rec.http('delete', await c.http('DELETE', '/volumes/df-vol'));
      c.rec.http('delete missing', await c.http('DELETE', '/volumes/df-vol'));
      c.rec.cli('docker volume create/ls/rm', await c.cli(['volume', 'create', 'df-vol-cli']));
      c.rec.cli(
        'docker volume inspect --format',
        await c.cli(['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Scope}}', 'df-vol-cli']),
      );
      c.rec.cli('docker volume rm', await c.cli(['volume', 'rm', 'df-vol-cli']));
      await events(c, since, [
        ['events volume=df-vol', { volume: ['df-vol'] }],
        [
          'events type=volume,event=destroy',
          { type: ['volume'], event: ['destroy'], volume: ['df-vol', 'df-vol-cli'] },
        ],
      ]);
      c.rec.cli(
        'docker events --filter volume',
        await c.cli([
          'events',
          '--since',
          String(since),
          '--until',
          String(Math.floor(Date.now() / 1000)),
          '--filter',
          'volume=df-vol-cli',
          '--format',
          '{{.Type}} {{.Action}} {{.Actor.ID}}',
        ]),
      );
    },
  },
  {
    name: 'volumes/prune',
    serial: true,
    async run(c) {
      await c.http('POST', '/volumes/create', { Name: 'df-prune-named', Labels: { 'df.vp': '1' } });
      const anon = await create(c, 'df-vp', ['true'], { Volumes: { '/anon': {} }, Labels: { 'df.vp': '1' } });
      await remove(c, 'df-vp-none');
      await c.http('DELETE', `/containers/${anon}`);
      c.rec.http(
        'prune by label (API 1.41: named too)',
        await c.http('POST', `/volumes/prune?filters=${q({ label: ['df.vp=1'] })}`),
        { values: ['VolumesDeleted'] },
      );
      c.rec.http('prune bad filter', await c.http('POST', `/volumes/prune?filters=${q({ nosuch: ['x'] })}`));
      c.rec.http(
        'prune at 1.43, all=true',
        await c.http('POST', `/volumes/prune?filters=${q({ all: ['true'], label: ['df.vp'] })}`, undefined, {
          version: '1.43',
        }),
        { values: ['SpaceReclaimed'] },
      );
      c.rec.cli('docker volume prune -f', await c.cli(['volume', 'prune', '-f', '--filter', 'label=df.vp']));
    },
  },
  {
    name: 'networks',
    async run(c) {
      const since = Math.floor(Date.now() / 1000) - 1;
      const body = {
        Name: 'df-net',
        CheckDuplicate: true,
        Driver: 'bridge',
        Labels: { 'df.net': 'x' },
        IPAM: { Config: [{ Subnet: `${SUBNET}.0/24`, Gateway: `${SUBNET}.1` }] },
        Options: { 'com.docker.network.bridge.name': DIFF_BRIDGE },
      };
      c.rec.http('create', await c.http('POST', '/networks/create', body), { values: ['Warning'] });
      c.rec.http('create duplicate', await c.http('POST', '/networks/create', body));
      c.rec.http(
        'create bad driver',
        await c.http('POST', '/networks/create', { Name: 'df-net-bad', Driver: 'df-nosuch' }),
      );
      c.rec.http(
        'create overlapping subnet',
        await c.http('POST', '/networks/create', { ...body, Name: 'df-net-overlap', Options: {} }),
      );
      c.rec.http('inspect', await c.http('GET', '/networks/df-net'), {
        values: ['Name', 'Driver', 'Scope', 'IPAM', 'Internal', 'Attachable', 'Labels', 'EnableIPv6'],
      });
      c.rec.http('inspect missing', await c.http('GET', '/networks/df-nosuch'));
      c.rec.http('list by label', await c.http('GET', `/networks?filters=${q({ label: ['df.net'] })}`), {
        values: ['[].Name'],
      });
      c.rec.http('list by name', await c.http('GET', `/networks?filters=${q({ name: ['df-net'] })}`), {
        values: ['[].Name'],
      });
      c.rec.http(
        'list type=builtin',
        await c.http('GET', `/networks?filters=${q({ type: ['builtin'], name: ['none'] })}`),
        { values: ['[].Name'] },
      );
      c.rec.http('list bad filter', await c.http('GET', `/networks?filters=${q({ nosuch: ['x'] })}`));
      const ctr = await create(c, 'df-net-ctr', ['true'], { HostConfig: { NetworkMode: 'default' } });
      const none = await create(c, 'df-net-none', ['true']);
      c.rec.http(
        'connect',
        await c.http('POST', '/networks/df-net/connect', { Container: ctr, EndpointConfig: { Aliases: ['df-alias'] } }),
      );
      c.rec.http('connect again', await c.http('POST', '/networks/df-net/connect', { Container: ctr }));
      c.rec.http('connect a none container', await c.http('POST', '/networks/df-net/connect', { Container: none }));
      c.rec.http(
        'connect missing container',
        await c.http('POST', '/networks/df-net/connect', { Container: 'df-nosuch' }),
      );
      c.rec.http('inspect container networks', await c.http('GET', `/containers/${ctr}/json`), {
        values: ['HostConfig.NetworkMode'],
      });
      c.rec.http('delete in use', await c.http('DELETE', '/networks/df-net'));
      c.rec.http('disconnect', await c.http('POST', '/networks/df-net/disconnect', { Container: ctr }));
      c.rec.http('disconnect again', await c.http('POST', '/networks/df-net/disconnect', { Container: ctr }));
      c.rec.http('delete builtin', await c.http('DELETE', '/networks/none'));
      await remove(c, ctr, none);
      c.rec.http('delete', await c.http('DELETE', '/networks/df-net'));
      c.rec.http('delete missing', await c.http('DELETE', '/networks/df-net'));
      await events(c, since, [
        ['events network=df-net', { network: ['df-net'] }],
        ['events type=network,event=connect', { type: ['network'], event: ['connect'], network: ['df-net'] }],
        ['events network=df-net,container', { network: ['df-net'], container: ['df-net-ctr'] }],
      ]);
      c.rec.cli(
        'docker network ls',
        await c.cli(['network', 'ls', '--filter', 'name=none', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']),
      );
    },
  },
  {
    name: 'events',
    async run(c) {
      const since = Math.floor(Date.now() / 1000) - 1;
      const id = await create(c, 'df-events', ['true'], { Labels: { 'df.ev': 'yes' } });
      await start(c, id);
      await wait(c, id);
      await c.http('POST', '/containers/df-events/rename?name=df-events2');
      await remove(c, id);
      await new Promise((r) => setTimeout(r, 1100));
      const until = Math.floor(Date.now() / 1000) + 1;
      const ev = (label: string, filters: object) =>
        c
          .stream(`/events?since=${since}&until=${until}&filters=${q(filters)}`, 4000)
          .then((r) => c.rec.http(label, r, { lines: true, values: ['[].Action', '[].Type'] }));
      await ev('container=name', { container: ['df-events'] });
      await ev('label', { label: ['df.ev=yes'] });
      await ev('event=start', { label: ['df.ev'], event: ['start'] });
      await ev('type=container,event=die', { type: ['container'], event: ['die'], label: ['df.ev'] });
      await ev('image=busybox', { image: ['busybox'], label: ['df.ev'] });
      await ev('type=image (none here)', { type: ['image'], label: ['df.ev'] });
      c.rec.http('until before since', await c.http('GET', `/events?since=${until}&until=${since}`));
      c.rec.http('bad filter', await c.http('GET', `/events?filters=${q({ nosuch: ['x'] })}`));
      c.rec.http('bad since', await c.http('GET', '/events?since=yesterday'));
      c.rec.cli(
        'docker events --since --until --filter',
        await c.cli([
          'events',
          '--since',
          String(since),
          '--until',
          String(until),
          '--filter',
          'label=df.ev',
          '--format',
          '{{.Type}} {{.Action}}',
        ]),
      );
    },
  },
];
