/**
 * NetworkService against each backend (Berth's own and netavark) with the real aardvark-dns, kernel and iptables: networks made, two namespaces
 * joined and talking, names resolved, a port published, and everything gone afterwards. Subnets only inside
 * 10.201.0.0/16, bridges named `btl…`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { MetadataDB, NetworkRecords } from '../metadata/index.ts';
import { ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { EventLog } from '../util/events.ts';
import { BridgeBackend } from './bridge.ts';
import { NetavarkBackend, dnatChain, findHelper } from './netavark.ts';
import type { ContainerLink, SandboxRequest } from './model.ts';
import { NetworkService } from './service.ts';

const exec = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const third = () => randomInt(0, 64) * 4; // a /22-aligned base inside 10.201.0.0/16, random per run
const base = third();
const net = (i: number) => `10.201.${base + i}`;
const BR_DEFAULT = `btld${tag}`;
const BR_USER = `btlu${tag}`;
/** How long Berth's backend keeps the idle default bridge here. */
const LINGER_MS = 1000;

// The same suite against each backend (the daemon option `network-backend`).
for (const backend of ['berth', 'netavark'] as const) {
  describe(`${backend} backend`, () => {
    let dir: string;
    let db: MetadataDB;
    const containers = new Map<string, ContainerLink>();
    let svc: NetworkService;

    function service(): NetworkService {
      return new NetworkService({
        records: new NetworkRecords(db),
        events: new EventLog(),
        execRoot: join(dir, 'exec'),
        config: {
          bridge: BR_DEFAULT,
          bip: `${net(0)}.1/24`,
          defaultBindAddress: '0.0.0.0',
          pools: [{ base: `${net(2)}.0/23`, size: 24 }],
        },
        backend:
          backend === 'berth'
            ? new BridgeBackend({
                aardvark: findHelper('aardvark-dns')!,
                dnsDir: join(dir, 'exec', 'network', 'aardvark-dns'),
                keep: (name) => name === 'bridge',
                lingerMs: LINGER_MS,
              })
            : new NetavarkBackend({
                netavark: findHelper('netavark'),
                aardvark: findHelper('aardvark-dns'),
                configDir: join(dir, 'exec', 'network', 'netavark'),
              }),
        containers: (ref) => containers.get(ref) ?? [...containers.values()].find((c) => c.name === ref),
      });
    }

    function fakeContainer(name: string, networkMode: string): ContainerLink {
      const c = { id: randomBytes(32).toString('hex'), name, running: true, networkMode };
      containers.set(c.id, c);
      return c;
    }

    /** Sets up a container's sandbox in a directory of its own; the namespace's path and the files' text. */
    async function up(req: Omit<SandboxRequest, 'dir'>): Promise<{ netns: string; hosts: string; resolvConf: string }> {
      const cdir = join(dir, 'containers', req.id);
      await mkdir(cdir, { recursive: true });
      const sb = await svc.sandboxes.setUp({ ...req, dir: cdir });
      assert.equal(sb.hosts, join(cdir, 'hosts'), 'the files are written in the container directory');
      assert.equal(sb.resolvConf, join(cdir, 'resolv.conf'));
      assert.ok(typeof sb.netns === 'object', 'a namespace of its own');
      return {
        netns: sb.netns.path,
        hosts: await readFile(sb.hosts, 'utf8'),
        resolvConf: await readFile(sb.resolvConf, 'utf8'),
      };
    }

    async function sh(cmd: string, args: string[]): Promise<string> {
      return (await exec(cmd, args, { timeout: 20_000 })).stdout;
    }

    /**
     * An A lookup through aardvark-dns on the gateway, from a namespace. aardvark reloads its records on SIGHUP and
     * drops queries meanwhile, so a few tries.
     */
    async function lookup(netns: string, name: string, server: string): Promise<string> {
      let last = '';
      for (let i = 0; i < 20; i++) {
        try {
          last = await sh('nsenter', [`--net=${netns}`, 'busybox', 'nslookup', '-type=a', '-timeout=1', name, server]);
          if (/Address: \d/.test(last.split('\n').slice(2).join('\n'))) return last;
        } catch (err) {
          last = String((err as { stdout?: string }).stdout ?? err);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      return last;
    }

    /** Lines of `ip link`, `ip netns`, `iptables-save` that mention this test's bridges or subnets. */
    async function traces(): Promise<string[]> {
      const text = [
        await sh('ip', ['-o', 'link']),
        await sh('ip', ['netns', 'list']),
        await sh('iptables-save', []),
      ].join('\n');
      const marks = [BR_DEFAULT, BR_USER, `${net(0)}.`, `${net(1)}.`, `${net(2)}.`, `${net(3)}.`];
      return text.split('\n').filter((l) => marks.some((m) => l.includes(m)));
    }

    /**
     * netavark's port-forwarding chain of a network (named by a hash of the network's name) when it is left empty:
     * its rules, or undefined when it is gone or still holds rules (another user of the name, e.g. `bridge`).
     */
    async function emptyDnatChain(networkName: string): Promise<string | undefined> {
      const chain = dnatChain(networkName);
      const rules = await sh('iptables', ['-w', '-t', 'nat', '-S', chain]).catch(() => undefined);
      return rules !== undefined && rules.trim() === `-N ${chain}` ? rules : undefined;
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'berth-net-'));
      db = new MetadataDB(join(dir, 'berth.db'));
      svc = service();
      assert.deepEqual(await traces(), [], 'nothing of ours before the test');
    });

    after(async () => {
      for (const id of containers.keys()) await svc.sandboxes.release(id).catch(() => {});
      db.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('predefined networks as Docker lists them; they cannot be removed', async () => {
      const names = svc.list().map((n) => [n.Name, n.Driver]);
      assert.deepEqual(names, [
        ['bridge', 'bridge'],
        ['host', 'host'],
        ['none', 'null'],
      ]);
      const bridge = svc.inspect('bridge');
      assert.deepEqual(bridge.IPAM.Config, [{ Subnet: `${net(0)}.0/24`, Gateway: `${net(0)}.1` }]);
      assert.equal(bridge.Options?.['com.docker.network.bridge.name'], BR_DEFAULT);
      assert.equal(svc.inspect(bridge.Id.slice(0, 10)).Name, 'bridge', 'found by ID prefix');
      await assert.rejects(
        svc.remove('host'),
        (e: unknown) =>
          e instanceof ForbiddenError && e.message === 'host is a pre-defined network and cannot be removed',
      );
      assert.throws(
        () => svc.inspect('nope'),
        (e: unknown) => e instanceof NotFoundError && e.message === 'network nope not found',
      );
    });

    test('bad input is refused and nothing is recorded', async () => {
      const before = svc.list().length;
      const bad: [object, new (...a: never[]) => Error, RegExp][] = [
        [
          { Name: `x${tag}`, IPAM: { Config: [{ Subnet: '10.201.0.0/33' }] } },
          InvalidArgumentError,
          /invalid subnet 10\.201\.0\.0\/33 : invalid CIDR address/,
        ],
        [
          { Name: `x${tag}`, IPAM: { Config: [{ Subnet: `${net(0)}.0/25` }] } },
          ForbiddenError,
          /^Pool overlaps with other one on this address space$/,
        ],
        [
          { Name: `x${tag}`, IPAM: { Config: [{ Subnet: `${net(1)}.0/24`, Gateway: `${net(3)}.1` }] } },
          InvalidArgumentError,
          /^no matching subnet for gateway /,
        ],
        [
          { Name: `x${tag}`, IPAM: { Config: [{ Subnet: `${net(1)}.0/24`, IPRange: `${net(3)}.0/25` }] } },
          InvalidArgumentError,
          /^no matching subnet for range /,
        ],
        [{ Name: `x${tag}`, Driver: 'overlay' }, NotFoundError, /^plugin "overlay" not found$/],
        [{ Name: 'bridge' }, ConflictError, /^network with name bridge already exists$/],
      ];
      for (const [req, cls, msg] of bad)
        await assert.rejects(
          svc.create(req as never),
          (e: unknown) => e instanceof cls && msg.test((e as Error).message),
        );
      assert.equal(svc.list().length, before);
    });

    test('user network: two namespaces talk, resolve each other by name and alias, a published port answers on 127.0.0.1; teardown leaves no trace', async () => {
      const { Id } = await svc.create({
        Name: `btlnet${tag}`,
        IPAM: { Config: [{ Subnet: `${net(1)}.0/24`, IPRange: `${net(1)}.128/25` }] },
        Options: { 'com.docker.network.bridge.name': BR_USER },
        Labels: { t: tag },
      });
      assert.equal(
        svc
          .list(new Map([['label', [`t=${tag}`]]]))
          .map((n) => n.Id)
          .join(),
        Id,
      );
      const a = fakeContainer(`a${tag}`, `btlnet${tag}`);
      const b = fakeContainer(`b${tag}`, `btlnet${tag}`);
      assert.equal(
        svc.sandboxes.prepare(a.id, `btlnet${tag}`, { [`btlnet${tag}`]: { Aliases: ['alpha'] } }),
        `btlnet${tag}`,
      );
      svc.sandboxes.prepare(b.id, `btlnet${tag}`, {
        [`btlnet${tag}`]: { IPAMConfig: { IPv4Address: `${net(1)}.200` } },
      });
      assert.throws(
        () =>
          svc.sandboxes.prepare(randomBytes(32).toString('hex'), 'bridge', {
            bridge: { IPAMConfig: { IPv4Address: `${net(0)}.9` } },
          }),
        /user specified IP address is supported on user defined networks only/,
      );
      assert.throws(() => svc.sandboxes.prepare('x', 'nosuchnet', {}), /network nosuchnet not found/);

      // A host port for A: the first free one from the kernel.
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const hostPort = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));

      const t0 = performance.now();
      const sa = await up({
        id: a.id,
        name: a.name,
        hostname: 'ha',
        networkMode: `btlnet${tag}`,
        portBindings: { '8080/tcp': [{ HostPort: String(hostPort) }] },
      });
      const t1 = performance.now();
      const sb = await up({
        id: b.id,
        name: b.name,
        hostname: 'hb',
        networkMode: `btlnet${tag}`,
        extraHosts: ['gw:host-gateway'],
      });
      process.stderr.write(
        `${backend} setup with a port: ${(t1 - t0).toFixed(0)} ms; without: ${(performance.now() - t1).toFixed(0)} ms\n`,
      );
      assert.ok(sa.netns && sb.netns);
      const ia = svc.sandboxes.settings(a.id, `btlnet${tag}`).Networks[`btlnet${tag}`]!;
      const ib = svc.sandboxes.settings(b.id, `btlnet${tag}`).Networks[`btlnet${tag}`]!;
      assert.equal(ia.IPAddress, `${net(1)}.128`, 'first address of the ip-range');
      assert.equal(ib.IPAddress, `${net(1)}.200`, 'the static address');
      assert.equal(ia.Gateway, `${net(1)}.1`);
      assert.deepEqual(ia.Aliases, ['alpha']);
      assert.match(sb.hosts, new RegExp(`${net(1)}\\.1\\tgw\\n${net(1)}\\.200\\thb\\n$`));
      assert.match(sb.resolvConf, new RegExp(`^nameserver ${net(1)}\\.1$`, 'm'));
      assert.deepEqual(Object.keys(svc.inspect(Id).Containers ?? {}).sort(), [a.id, b.id].sort());
      if (backend === 'berth') {
        // Every rule in Berth's own chains, named in inspect.
        assert.equal(
          svc.inspect(Id).Options?.['berth.firewall.chains'],
          `filter/BERTH-F-${Id.slice(0, 12)},nat/BERTH-N-${Id.slice(0, 12)},filter/BERTH-ISOLATION`,
        );
        const rules = (await sh('iptables-save', []))
          .split('\n')
          .filter((l) => l.includes(BR_USER) || l.includes(`${net(1)}.`));
        assert.ok(rules.length > 0 && rules.every((l) => /^-A BERTH-/.test(l)), rules.join('\n'));
        assert.ok(
          rules.some((l) => l.startsWith(`-A BERTH-D-${a.id.slice(0, 12)} `) && l.includes(`--dport ${hostPort}`)),
          'the DNAT rule of the published port',
        );
      }

      await sh('nsenter', [`--net=${sb.netns}`, 'busybox', 'ping', '-c1', '-W2', ia.IPAddress]);
      const names = await lookup(sb.netns, 'alpha', `${net(1)}.1`);
      assert.match(names, new RegExp(`Address: ${net(1)}\\.128`));
      const byName = await lookup(sb.netns, a.name, `${net(1)}.1`);
      assert.match(byName, new RegExp(`Address: ${net(1)}\\.128`));

      // A server in A's namespace answers through the published port on the host's loopback.
      const server = execFile('nsenter', [
        `--net=${sa.netns}`,
        'busybox',
        'nc',
        '-l',
        '-p',
        '8080',
        '-e',
        'echo',
        `hello-${tag}`,
      ]);
      try {
        let answer = '';
        for (let i = 0; i < 50 && !answer.includes(`hello-${tag}`); i++) {
          await new Promise((r) => setTimeout(r, 100));
          answer = await sh('busybox', ['nc', '-w', '2', '127.0.0.1', String(hostPort)]).catch(() => '');
        }
        assert.match(answer, new RegExp(`hello-${tag}`));
      } finally {
        server.kill('SIGKILL');
      }
      assert.deepEqual(svc.sandboxes.settings(a.id, `btlnet${tag}`).Ports, {
        '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }],
      });
      if (backend === 'netavark')
        assert.match(
          await sh('iptables', ['-w', '-t', 'nat', '-S', dnatChain(`btlnet${tag}`)]),
          new RegExp(`--dport ${hostPort} `),
          "the port's DNAT rule in the chain named as netavark names it",
        );

      // The port is Berth's while A runs.
      const c = fakeContainer(`c${tag}`, 'bridge');
      svc.sandboxes.prepare(c.id, 'bridge', {});
      await assert.rejects(
        up({
          id: c.id,
          name: c.name,
          hostname: 'hc',
          networkMode: 'bridge',
          portBindings: { '80/tcp': [{ HostPort: String(hostPort) }] },
        }),
        /port is already allocated/,
      );
      assert.equal(svc.sandboxes.settings(c.id, 'bridge').SandboxKey, '', 'nothing left of the failed setup');

      await assert.rejects(
        svc.remove(Id),
        (e: unknown) => e instanceof ConflictError && /has active endpoints/.test((e as Error).message),
      );
      await svc.disconnect(Id, b.id);
      assert.deepEqual(Object.keys(svc.inspect(Id).Containers ?? {}), [a.id]);
      await svc.connect(Id, b.id, { Aliases: ['beta'] });
      await assert.rejects(svc.connect(Id, b.id), /endpoint with name .* already exists in network/);
      const beta = await lookup(sa.netns, 'beta', `${net(1)}.1`);
      assert.match(beta, new RegExp(`Address: ${net(1)}\\.`));

      const t2 = performance.now();
      await svc.sandboxes.tearDown(a.id);
      const t3 = performance.now();
      await svc.sandboxes.release(b.id);
      process.stderr.write(
        `${backend} teardown with a port: ${(t3 - t2).toFixed(0)} ms; without: ${(performance.now() - t3).toFixed(0)} ms\n`,
      );
      await svc.remove(Id);
      assert.deepEqual(await traces(), []);
      assert.doesNotMatch(
        await sh('iptables-save', []),
        new RegExp(`${Id.slice(0, 12)}|${a.id.slice(0, 12)}`),
        'no chain of the network or the container left',
      );
      // netavark keeps this chain when the last endpoint to go (b) has no published port, unless the backend removes it.
      assert.doesNotMatch(await sh('iptables-save', ['-t', 'nat']), new RegExp(dnatChain(`btlnet${tag}`)));
      assert.deepEqual(await readdir(join(dir, 'exec', 'network', 'netns')), []);
    });

    if (backend === 'berth')
      test('the default bridge outlives its last container a moment, is taken again by a setup meanwhile, then goes with the veths still dying', async () => {
        const bridge = `/sys/class/net/${BR_DEFAULT}`;
        const start = async (name: string) => {
          const c = fakeContainer(`${name}${tag}`, 'bridge');
          svc.sandboxes.prepare(c.id, 'bridge', {});
          await up({ id: c.id, name: c.name, hostname: name, networkMode: 'bridge' });
          return c;
        };
        const a = await start('la');
        await svc.sandboxes.release(a.id);
        assert.ok(existsSync(bridge), 'the bridge stays after its last endpoint');
        const b = await start('lb');
        await new Promise((r) => setTimeout(r, LINGER_MS * 2));
        assert.ok(existsSync(bridge), 'a container set up while it lingered keeps it');
        // b's namespace goes with its release: its veth dies with it, and the bridge does not wait for that.
        await svc.sandboxes.release(b.id);
        assert.ok(existsSync(bridge), 'it lingers again');
        for (let i = 0; i < 200 && existsSync(bridge); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(!existsSync(bridge), 'removed after it was idle');
        await svc.drain();
        assert.deepEqual(await traces(), []);
      });

    test("default bridge and repair: a crashed daemon's namespaces, interfaces and rules are removed at the next start", async () => {
      const c = fakeContainer(`r${tag}`, 'bridge');
      svc.sandboxes.prepare(c.id, 'bridge', {});
      const sb = await up({
        id: c.id,
        name: c.name,
        hostname: 'hr',
        networkMode: 'bridge',
        portBindings: { '80/tcp': [{ HostIp: '127.0.0.1' }] },
      });
      assert.ok(!/nameserver 10\.201\./.test(sb.resolvConf), 'the default bridge has no name service');
      assert.ok((await traces()).some((l) => l.includes(BR_DEFAULT)));
      const port = svc.sandboxes.ports(c.id)[0]!;
      assert.equal(port.hostIp, '127.0.0.1');
      assert.ok(port.hostPort >= 1024);
      const live = fakeContainer(`l${tag}`, 'bridge');
      svc.sandboxes.prepare(live.id, 'bridge', {});
      const lsb = await up({ id: live.id, name: live.name, hostname: 'hl', networkMode: 'bridge' });
      const liveIp = svc.sandboxes.settings(live.id, 'bridge').IPAddress;
      // "Crash": a new service on the same DB and exec root; one container still runs (live restore), one does not.
      svc = service();
      const { tornDown } = await svc.sandboxes.repair((id) => id === live.id);
      assert.deepEqual(tornDown, [c.id]);
      assert.equal(svc.sandboxes.settings(c.id, 'bridge').Networks.bridge!.IPAddress, '');
      assert.equal(
        svc.sandboxes.settings(live.id, 'bridge').IPAddress,
        liveIp,
        'the running container keeps its address',
      );
      await sh('nsenter', [`--net=${lsb.netns}`, 'busybox', 'ping', '-c1', '-W2', `${net(0)}.1`]);
      await svc.sandboxes.release(live.id);
      // The default bridge outlives its last endpoint a moment (Berth's backend); drain() finishes that now.
      await svc.drain();
      assert.deepEqual(await traces(), []);
      // The last to go (live) published nothing: netavark alone would keep the bridge's port chain, empty.
      if (backend === 'netavark')
        assert.equal(await emptyDnatChain('bridge'), undefined, 'no empty port chain of the bridge network left');
    });
  });
}
