/** System endpoints: ping, version negotiation, version, info, df, auth, and paths a client may call. */
import type { Scenario } from '../runner.ts';
import { create, remove, start, wait } from './util.ts';

const PING_HEADERS = ['Api-Version', 'Ostype', 'Docker-Experimental', 'Cache-Control', 'Pragma', 'Content-Length'];

export const system: Scenario[] = [
  {
    name: 'system/ping',
    async run(c) {
      c.rec.http('GET /_ping', await c.http('GET', '/_ping', undefined, { version: null }), {
        text: true,
        headers: PING_HEADERS,
      });
      c.rec.http('HEAD /_ping', await c.http('HEAD', '/_ping', undefined, { version: null }), {
        text: true,
        headers: PING_HEADERS,
      });
      c.rec.http('GET /v1.41/_ping', await c.http('GET', '/_ping'), { text: true, headers: PING_HEADERS });
      c.rec.http('POST /_ping', await c.http('POST', '/_ping', undefined, { version: null }));
    },
  },
  {
    name: 'system/versions',
    async run(c) {
      c.rec.http('unversioned /version', await c.http('GET', '/version', undefined, { version: null }), {
        values: ['Os', 'Arch', 'Components[].Name'],
      });
      c.rec.http('/v1.41/version', await c.http('GET', '/version'), { values: ['Os'] });
      c.rec.http(
        '/v1.12/version (oldest of the reference)',
        await c.http('GET', '/version', undefined, { version: '1.12' }),
      );
      c.rec.http('/v1.24/version', await c.http('GET', '/version', undefined, { version: '1.24' }));
      c.rec.http('/v1.99/version (too new)', await c.http('GET', '/version', undefined, { version: '1.99' }));
      c.rec.http('/v1.0/version (too old)', await c.http('GET', '/version', undefined, { version: '1.0' }));
      c.rec.http('unknown path', await c.http('GET', '/no/such/path'));
      c.rec.http('wrong method', await c.http('DELETE', '/version'));
      // The CLI negotiates when not pinned: the server's version, never above its own 1.50.
      const v = await c.cli(['version', '--format', '{{.Client.APIVersion}} {{.Server.Os}}'], undefined, {
        DOCKER_API_VERSION: '',
      });
      c.rec.cli('docker version (negotiated)', v);
      c.rec.cli('docker version (pinned 1.41)', await c.cli(['version', '--format', '{{.Client.APIVersion}}']));
    },
  },
  {
    name: 'system/info',
    async run(c) {
      c.rec.http('GET /info', await c.http('GET', '/info'), {
        values: ['OSType', 'Swarm.LocalNodeState', 'IndexServerAddress', 'CgroupDriver', 'LoggingDriver'],
      });
      c.rec.cli('docker info --format', await c.cli(['info', '--format', '{{.OSType}} {{.Swarm.LocalNodeState}}']));
      c.rec.cli('docker info --format json', await c.cli(['info', '--format', '{{json .Plugins.Volume}}']));
    },
  },
  {
    name: 'system/auth',
    async run(c) {
      // No registry is reachable: a bad address, and a body that is not an AuthConfig.
      c.rec.http('POST /auth without body', await c.http('POST', '/auth'));
      c.rec.http(
        'POST /auth invalid JSON',
        await c.http('POST', '/auth', '{', { headers: { 'Content-Type': 'application/json' } }),
      );
    },
  },
  {
    name: 'system/plugins and distribution',
    async run(c) {
      c.rec.http('GET /plugins', await c.http('GET', '/plugins'));
      c.rec.cli('docker plugin ls', await c.cli(['plugin', 'ls']));
      c.rec.http('GET /plugins/privileges', await c.http('GET', '/plugins/privileges?remote=x'), { noBody: true });
      // A registry no one serves: both must fail, with a client's error, not "page not found".
      const r = await c.http('GET', '/distribution/127.0.0.1:9/busybox:latest/json');
      c.rec.add('GET /distribution (unreachable registry)', {
        status: r.status,
        routed: !r.body.includes('page not found'),
      });
    },
  },
  {
    name: 'system/search',
    async run(c) {
      const r = await c.http('GET', '/images/search?term=127.0.0.1:9/busybox&limit=5');
      c.rec.add('GET /images/search (unreachable registry)', {
        'status class': `${String(r.status)[0]}xx`,
        routed: !r.body.includes('page not found'),
      });
      const bad = await c.http('GET', '/images/search');
      c.rec.add('GET /images/search without term', { 'status class': `${String(bad.status)[0]}xx` });
      const lim = await c.http('GET', '/images/search?term=x&limit=abc');
      c.rec.add('GET /images/search bad limit', { status: lim.status });
    },
  },
  {
    name: 'system prune: docker and berth CLIs',
    serial: true,
    async run(c) {
      // The same leftovers twice: once for each CLI. Labels keep the prune to what the scenario made.
      const leftovers = async () => {
        const r = await c.http('POST', '/containers/create?name=df-sp', {
          Image: 'busybox',
          Cmd: ['true'],
          Labels: { 'df.sp': '1' },
          HostConfig: { NetworkMode: 'none' },
        });
        await c.http('POST', '/networks/create', {
          Name: 'df-sp-net',
          Labels: { 'df.sp': '1' },
          Internal: true,
          IPAM: { Config: [{ Subnet: '10.205.77.0/24' }] },
        });
        return r.status;
      };
      c.rec.add('leftovers for docker', { create: await leftovers() });
      const d = await c.cli(['system', 'prune', '-f', '--filter', 'label=df.sp=1']);
      c.rec.cli('docker system prune -f --filter', d);
      c.rec.add('leftovers for berth', { create: await leftovers() });
      const b = await c.berth(['system', 'prune', '-f', '--filter', 'label=df.sp=1']);
      c.rec.cli('berth system prune -f --filter', b);
      c.rec.add('the two CLIs print the same', { same: b.stdout === d.stdout && b.code === d.code });
      c.rec.cli('berth system prune without -f, answered no', await c.berth(['system', 'prune'], 'n\n'));
      c.rec.http(
        'containers left',
        await c.http('GET', `/containers/json?all=1&filters=${encodeURIComponent('{"label":["df.sp"]}')}`),
        { noBody: true },
      );
    },
  },
  {
    name: 'system/df and prune',
    serial: true,
    async run(c) {
      // A container that wrote 3000 bytes and a symlink (4) in its root and 6 in a volume: sizes as dockerd counts.
      const id = await create(
        c,
        'df-du',
        ['sh', '-c', 'echo hello > /data/x; head -c 3000 /dev/zero > /big; ln -s /big /lnk'],
        {
          HostConfig: { Binds: ['df-du-vol:/data'] },
        },
      );
      await start(c, id);
      await wait(c, id);
      c.rec.http('GET /system/df', await c.http('GET', '/system/df'), {
        values: ['Containers[].SizeRw', 'Containers[].Names', 'Volumes[].UsageData', 'Images[].Containers'],
      });
      c.rec.http('GET /system/df?type=container', await c.http('GET', '/system/df?type=container'));
      c.rec.http('inspect ?size=1', await c.http('GET', `/containers/${id}/json?size=1`), {
        values: ['SizeRw', 'SizeRootFs'],
      });
      c.rec.http('list size=1', await c.http('GET', `/containers/json?all=1&size=1`), {
        values: ['[].SizeRw', '[].SizeRootFs'],
      });
      c.rec.cli('docker system df -v', await c.cli(['system', 'df', '-v']));
      await remove(c, id);
      await c.http('DELETE', '/volumes/df-du-vol');
      c.rec.http('POST /build/prune', await c.http('POST', '/build/prune'), { values: ['SpaceReclaimed'] });
      c.rec.http('POST /build/prune all', await c.http('POST', '/build/prune?all=1'), { values: ['SpaceReclaimed'] });
      c.rec.cli('docker system df', await c.cli(['system', 'df']));
      c.rec.cli('docker builder prune -f', await c.cli(['builder', 'prune', '-f']));
      // -af would remove the seed image; the scenario keeps it by filter.
      c.rec.cli(
        'docker system prune -f --filter label=df-none',
        await c.cli(['system', 'prune', '-f', '--filter', 'label=df-none']),
      );
    },
  },
];
