/**
 * Networks through real clients (docker CLI 28, `berth`, docker-py) against berthd: user networks with DNS,
 * published ports, connect/disconnect, `port`, bad input, and a check that the host's links, namespaces and
 * firewall hold nothing of this test's networks afterwards. Subnets only inside 10.202.0.0/16.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, berth, docker, run, sh, startDaemon, waitFor, type Daemon, type RunResult } from './harness.ts';

const SFX = randomBytes(3).toString('hex');

/** A /24 inside 10.202.0.0/16 that no interface or route of the host uses now. */
async function freeSubnet(taken: Set<number>): Promise<{ cidr: string; prefix: string }> {
  const routes = await sh('ip -o -4 route; ip -o -4 addr');
  for (;;) {
    const x = randomInt(0, 256);
    const prefix = `10.202.${x}.`;
    if (taken.has(x) || routes.includes(prefix)) continue;
    taken.add(x);
    return { cidr: `${prefix}0/24`, prefix };
  }
}

/** A TCP port the kernel hands out now (free on every address). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The host's global IPv4 addresses on interfaces that are not bridges (eth0's, say). */
async function otherHostAddresses(): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await sh('ip -o -4 addr show scope global')).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(line);
    if (m && !existsSync(`/sys/class/net/${m[1]}/bridge`)) out.push(m[2]!);
  }
  return out;
}

function fail(r: RunResult, what: string): string {
  return `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The host state this test compares: links, addresses, namespaces, firewall rules (v4 and v6). */
async function hostState(): Promise<string[]> {
  const text = await sh(
    'ip -o link; ip -o addr; ip netns list 2>/dev/null; iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; true',
  );
  return text.split('\n');
}

describe('networks through the docker CLI, berth and docker-py', () => {
  let d: Daemon;
  let www: string;
  const subnets = new Set<number>();
  /** Strings that identify what this test made on the host (subnet prefixes, bridge names, host ports). */
  const marks = new Set<string>();
  const containerIds = new Set<string>();
  let app = { name: `app-${SFX}`, cidr: '', prefix: '' };
  const web = `web-${SFX}`;
  const blockers: Server[] = [];
  const mine = (line: string) => [...marks].some((m) => m !== '' && line.includes(m));

  async function ok(args: string[], input?: string): Promise<string> {
    const r = await docker(d, args, input);
    assert.equal(r.code, 0, fail(r, `docker ${args.join(' ')}`));
    return r.stdout;
  }

  /** Records what identifies a network on the host: its subnet and its bridge device. */
  async function remember(net: string): Promise<void> {
    const r = await api(d.socket, 'GET', `/networks/${net}`);
    assert.equal(r.status, 200, r.body);
    const n = JSON.parse(r.body) as {
      Options?: Record<string, string>;
      IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
    };
    for (const c of n.IPAM?.Config ?? []) {
      if (c.Subnet) marks.add(c.Subnet.replace(/0\/\d+$/, ''));
      if (c.Subnet) marks.add(c.Subnet);
    }
    const bridge = n.Options?.['com.docker.network.bridge.name'];
    if (bridge) marks.add(bridge);
  }

  /** Bridges that hold an address of `prefix`, found while they are up (for the teardown check). */
  async function rememberBridge(prefix: string): Promise<void> {
    for (const line of (await sh('ip -o -4 addr')).split('\n')) {
      if (line.includes(` inet ${prefix}`)) marks.add(` ${line.split(/\s+/)[1]}`.replace(/@.*$/, ''));
    }
  }

  async function runDetached(args: string[]): Promise<string> {
    const id = (await ok(['run', '-d', ...args])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    containerIds.add(id);
    return id;
  }

  /**
   * `wget` from a throwaway container on `net`, retried while DNS and the server come up. (busybox's own
   * `timeout`, since Debian's static busybox wget crashes with `-T`.)
   */
  async function fetchFrom(net: string, url: string, tries = 25): Promise<RunResult> {
    let r: RunResult = { code: -1, stdout: '', stderr: '' };
    for (let i = 0; i < tries; i++) {
      r = await docker(d, ['run', '--rm', '--network', net, 'busybox', 'timeout', '5', 'wget', '-qO-', url]);
      if (r.code === 0) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
    return r;
  }

  before(async () => {
    // The default bridge gets this test's own device name and subnet, so it can be told apart on the host.
    const def = await freeSubnet(subnets);
    marks.add(def.prefix);
    marks.add(`bnc${SFX}`);
    d = await startDaemon({ seed: true, args: ['--bridge', `bnc${SFX}`, '--bip', `${def.prefix}1/24`] });
    www = join(d.dir, 'www');
    await mkdir(www);
    await writeFile(join(www, 'index.html'), `hello from ${SFX}\n`);
    const s = await freeSubnet(subnets);
    app = { ...app, ...s };
    marks.add(s.prefix);
    marks.add(s.cidr);
    await remember('bridge').catch(() => undefined);
  });

  after(async () => {
    for (const b of blockers) b.close();
    if (!d) return;
    // Remember the default bridge's device and subnet too, then remove everything this daemon made.
    const list = await api(d.socket, 'GET', '/containers/json?all=1').catch(() => undefined);
    for (const c of list?.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : []) {
      containerIds.add(c.Id);
      await api(d.socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
    }
    const nets = await api(d.socket, 'GET', '/networks').catch(() => undefined);
    for (const n of nets?.status === 200 ? (JSON.parse(nets.body) as { Name: string; Id: string }[]) : []) {
      if (!['bridge', 'host', 'none'].includes(n.Name)) await api(d.socket, 'DELETE', `/networks/${n.Id}`);
    }
    const left = await api(d.socket, 'GET', '/containers/json?all=1');
    await d.cleanup();
    assert.equal(left.body.trim(), '[]', 'every container removed');
    for (const id of containerIds) marks.add(id.slice(0, 12));
    // netavark removes bridges and rules when their last endpoint goes; allow it a moment.
    const leftovers = await waitFor(
      'the host to hold nothing of this test',
      async () => {
        const lines = (await hostState()).filter(mine);
        return lines.length === 0 ? 'clean' : undefined;
      },
      10_000,
    ).catch(async () => (await hostState()).filter(mine));
    assert.deepEqual(
      leftovers === 'clean' ? [] : leftovers,
      [],
      `host lines left with this test's marks (${[...marks].join(' ')})`,
    );
  });

  it('network create, ls, inspect (docker CLI and berth print the same)', async () => {
    const id = (await ok(['network', 'create', '--subnet', app.cidr, '--label', `t=${SFX}`, app.name])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await remember(app.name);
    const ls = await ok(['network', 'ls']);
    assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n/);
    assert.match(ls, new RegExp(`^${id.slice(0, 12)}\\s+${app.name}\\s+bridge\\s+local$`, 'm'));
    for (const name of ['bridge', 'host', 'none'])
      assert.match(ls, new RegExp(`\\s${name}\\s`), `predefined ${name} listed`);
    const b = await berth(d, ['network', 'ls']);
    assert.equal(b.code, 0, fail(b, 'berth network ls'));
    assert.equal(b.stdout, ls, 'berth network ls prints what docker prints');
    for (const args of [
      ['network', 'ls', '-q', '--filter', `name=${app.name}`],
      [
        'network',
        'ls',
        '--no-trunc',
        '--format',
        '{{.ID}} {{.Name}} {{.Driver}} {{.Labels}} {{.Internal}}',
        '--filter',
        `label=t=${SFX}`,
      ],
      ['network', 'ls', '--format', 'json', '--filter', `id=${id.slice(0, 12)}`],
      ['network', 'inspect', app.name],
      [
        'network',
        'inspect',
        '-f',
        '{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels}}',
        app.name,
      ],
    ]) {
      const want = await ok(args);
      const got = await berth(d, args);
      assert.equal(got.code, 0, fail(got, `berth ${args.join(' ')}`));
      assert.equal(got.stdout, want, `berth ${args.join(' ')}`);
    }
    assert.equal(await ok(['network', 'ls', '-q', '--filter', `name=${app.name}`]), `${id.slice(0, 12)}\n`);
    assert.equal(
      await ok([
        'network',
        'inspect',
        '-f',
        '{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels}}',
        app.name,
      ]),
      `${app.name} bridge ${app.cidr} map[t:${SFX}]\n`,
    );
    const custom = await ok(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}']);
    assert.ok(custom.split('\n').includes(app.name) && !custom.includes('bridge\n'), custom);
  });

  it('containers on a user network resolve each other by name: wget http://web/ prints the page', async () => {
    await runDetached([
      '--network',
      app.name,
      '--name',
      web,
      '-v',
      `${www}:/www:ro`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    await rememberBridge(app.prefix);
    const r = await fetchFrom(app.name, `http://${web}/`);
    assert.equal(r.code, 0, fail(r, 'wget http://web/'));
    assert.equal(r.stdout, `hello from ${SFX}\n`);
    const ip = (
      await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${app.name}").IPAddress}}`, web])
    ).trim();
    assert.ok(ip.startsWith(app.prefix), `web's address ${ip} is in ${app.cidr}`);
    // The teardown check looks for these marks: while web runs, the host shows its bridge, address and rules.
    const live = (await hostState()).filter(mine);
    assert.ok(
      live.some((l) => l.includes(` inet ${app.prefix}`)),
      `the app bridge holds an address of ${app.cidr}:\n${live.join('\n')}`,
    );
    assert.ok(
      live.some((l) => l.startsWith('-A ') && l.includes(app.cidr)),
      `firewall rules name ${app.cidr}:\n${live.join('\n')}`,
    );
    // docker rename: the new name resolves, the old one no longer does (as Docker's embedded DNS).
    await ok(['rename', web, `${web}-new`]);
    try {
      const renamed = await fetchFrom(app.name, `http://${web}-new/`);
      assert.equal(renamed.stdout, `hello from ${SFX}\n`, fail(renamed, 'wget by the new name'));
      const old = await docker(d, ['run', '--rm', '--network', app.name, 'busybox', 'nslookup', web]);
      assert.notEqual(old.code, 0, `the old name should not resolve: ${old.stdout}`);
    } finally {
      await ok(['rename', `${web}-new`, web]);
    }
  });

  it('-p HOSTPORT:80 is reachable from the host; port, ps and berth port agree; the port is freed on stop', async () => {
    const hostPort = await freePort();
    marks.add(`--dport ${hostPort} `);
    const pub = `pub-${SFX}`;
    await runDetached([
      '-p',
      `${hostPort}:80`,
      '--name',
      pub,
      '-v',
      `${www}:/www:ro`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    await remember('bridge').catch(() => undefined);
    const body = await waitFor(
      'the published port to answer',
      async () => {
        const r = await run('curl', ['-sS', '--max-time', '2', `http://127.0.0.1:${hostPort}/`]);
        return r.code === 0 ? r.stdout : undefined;
      },
      15_000,
    );
    assert.equal(body, `hello from ${SFX}\n`);
    const port = await ok(['port', pub]);
    assert.match(port, new RegExp(`^80/tcp -> 0\\.0\\.0\\.0:${hostPort}$`, 'm'));
    assert.match(await ok(['port', pub, '80']), new RegExp(`^0\\.0\\.0\\.0:${hostPort}$`, 'm'));
    for (const args of [
      ['port', pub],
      ['port', pub, '80/tcp'],
    ]) {
      const b = await berth(d, args);
      assert.equal(b.code, 0, fail(b, `berth ${args.join(' ')}`));
      assert.equal(b.stdout, await ok(args), `berth ${args.join(' ')}`);
    }
    const bad = await docker(d, ['port', pub, '81']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, new RegExp(`No public port '81' published for ${pub}`));
    const bb = await berth(d, ['port', pub, '81']);
    assert.equal(bb.code, bad.code);
    assert.equal(bb.stderr, bad.stderr);
    const ps = await ok(['ps', '--filter', `name=${pub}`, '--format', '{{.Ports}}']);
    assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${hostPort}->80/tcp`));
    const bps = await berth(d, ['ps', '--filter', `name=${pub}`, '--format', '{{.Ports}}']);
    assert.equal(bps.stdout, ps);
    // Hairpin: the container reaches its own published port through the host, by the default bridge's gateway and
    // by an address of the host on another interface (its bridge port in hairpin mode, the reply masqueraded).
    const gateway = (
      await ok(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', 'bridge'])
    ).trim();
    assert.match(gateway, /^10\.202\.\d+\.1$/, `the default bridge's gateway is this test's`);
    const hostIps = await otherHostAddresses();
    assert.ok(hostIps.length > 0, 'the host has an address on an interface that is not a bridge');
    for (const host of [gateway, hostIps[0]!]) {
      const r = await docker(d, ['exec', pub, 'timeout', '5', 'wget', '-qO-', `http://${host}:${hostPort}/`]);
      assert.equal(r.code, 0, fail(r, `wget from ${pub} to its own published port via ${host}:${hostPort}`));
      assert.equal(r.stdout, `hello from ${SFX}\n`);
    }
    await ok(['stop', '-t', '1', pub]);
    const s = createServer();
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(hostPort, '0.0.0.0', () => res());
    });
    await new Promise((r) => s.close(r));
  });

  it('a host port in use: "port is already allocated", and no container left running', async () => {
    const s = createServer();
    blockers.push(s);
    await new Promise<void>((r) => s.listen(0, '0.0.0.0', () => r()));
    const busyPort = (s.address() as { port: number }).port;
    const name = `busy-${SFX}`;
    const r = await docker(d, ['run', '-d', '-p', `${busyPort}:80`, '--name', name, 'busybox', 'sleep', '60']);
    assert.notEqual(r.code, 0, fail(r, 'run -p on a port in use'));
    assert.match(r.stderr, /port is already allocated/);
    const running = await ok(['ps', '-q', '--filter', `name=${name}`]);
    assert.equal(running, '', 'nothing running');
    await docker(d, ['rm', '-f', name]);
    s.close();
  });

  it('connect with an alias makes it resolve from that network; disconnect takes it away; connect twice fails', async () => {
    const other = await freeSubnet(subnets);
    marks.add(other.prefix);
    const net2 = `net2-${SFX}`;
    await ok(['network', 'create', '--subnet', other.cidr, '--gateway', `${other.prefix}1`, net2]);
    await remember(net2);
    const client = `cli-${SFX}`;
    await runDetached(['--network', net2, '--name', client, 'busybox', 'sleep', '300']);
    await rememberBridge(other.prefix);
    const get = (host: string) => docker(d, ['exec', client, 'timeout', '3', 'wget', '-qO-', `http://${host}/`]);
    const before = await get(web);
    assert.notEqual(before.code, 0, 'web does not resolve from a network it is not on');
    await ok(['network', 'connect', '--alias', `site-${SFX}`, '--ip', `${other.prefix}77`, net2, web]);
    const viaAlias = await waitFor(
      'the alias to resolve',
      async () => {
        const r = await get(`site-${SFX}`);
        return r.code === 0 ? r.stdout : undefined;
      },
      15_000,
    );
    assert.equal(viaAlias, `hello from ${SFX}\n`);
    assert.equal((await get(web)).stdout, `hello from ${SFX}\n`, 'by name as well');
    assert.equal(
      (await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net2}").IPAddress}}`, web])).trim(),
      `${other.prefix}77`,
    );
    // /etc/hosts follows: a line for the new network's address, with the container's hostname (as Docker).
    const hostname = (await ok(['inspect', '-f', '{{.Config.Hostname}}', web])).trim();
    const appIp = (
      await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${app.name}").IPAddress}}`, web])
    ).trim();
    const hostsNow = await ok(['exec', web, 'cat', '/etc/hosts']);
    assert.match(hostsNow, new RegExp(`^${appIp.replaceAll('.', '\\.')}\t${hostname}$`, 'm'), hostsNow);
    assert.match(
      hostsNow,
      new RegExp(`\\n${other.prefix.replaceAll('.', '\\.')}77\t${hostname}\n$`),
      `connect appends the address:\n${hostsNow}`,
    );
    const members = await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', net2]);
    assert.deepEqual(members.trim().split(' ').sort(), [client, web].sort());
    const twice = await docker(d, ['network', 'connect', net2, web]);
    assert.notEqual(twice.code, 0, 'connecting twice is an error');
    assert.match(twice.stderr, /Error response from daemon: .+/);
    const inUse = await api(d.socket, 'DELETE', `/networks/${net2}`);
    assert.equal(inUse.status, 409, inUse.body);
    const brm = await berth(d, ['network', 'rm', net2]);
    assert.equal(brm.code, 1);
    assert.match(brm.stderr, /^Error response from daemon: /);
    await ok(['network', 'disconnect', net2, web]);
    const hostsAfter = await ok(['exec', web, 'cat', '/etc/hosts']);
    assert.equal(
      hostsAfter,
      hostsNow.replace(`${other.prefix}77\t${hostname}\n`, ''),
      'disconnect removes that line alone',
    );
    assert.doesNotMatch(hostsAfter, new RegExp(`${other.prefix.replaceAll('.', '\\.')}77`));
    const gone = await waitFor(
      'the alias to stop resolving',
      async () => ((await get(`site-${SFX}`)).code !== 0 ? true : undefined),
      15_000,
    );
    assert.equal(gone, true);
    await ok(['rm', '-f', client]);
    assert.equal(await ok(['network', 'rm', net2]), `${net2}\n`);
  });

  it("--network container:X joins X's namespace and shares X's /etc/hosts and resolv.conf, the same files", async () => {
    const x = `cx-${SFX}`;
    const y = `cy-${SFX}`;
    await runDetached(['--name', x, '--dns-search', `s${SFX}.example`, 'busybox', 'sleep', '300']);
    await runDetached(['--network', `container:${x}`, '--name', y, 'busybox', 'sleep', '300']);
    const addr = async (c: string) => ok(['exec', c, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.match(await addr(x), /inet \d/);
    assert.equal(await addr(y), await addr(x), 'one namespace');
    const cat = async (c: string, f: string) => ok(['exec', c, 'cat', f]);
    assert.equal(await cat(y, '/etc/hosts'), await cat(x, '/etc/hosts'));
    const resolv = await cat(y, '/etc/resolv.conf');
    assert.equal(resolv, await cat(x, '/etc/resolv.conf'));
    assert.match(resolv, new RegExp(`^search s${SFX}\\.example$`, 'm'), "X's --dns-search");
    const paths = async (c: string) => ok(['inspect', '-f', '{{.HostsPath}} {{.ResolvConfPath}}', c]);
    assert.equal(await paths(y), await paths(x), "inspect names X's files");
    // Not a copy: X's connect to another network adds a line to X's /etc/hosts, which Y sees as well.
    const other = await freeSubnet(subnets);
    marks.add(other.prefix);
    const net3 = `net3-${SFX}`;
    await ok(['network', 'create', '--subnet', other.cidr, net3]);
    await remember(net3);
    await ok(['network', 'connect', '--ip', `${other.prefix}9`, net3, x]);
    await rememberBridge(other.prefix);
    const shared = await cat(y, '/etc/hosts');
    assert.match(shared, new RegExp(`^${other.prefix.replaceAll('.', '\\.')}9\t`, 'm'), shared);
    assert.equal(shared, await cat(x, '/etc/hosts'));
    await ok(['rm', '-f', y, x]);
    assert.equal(await ok(['network', 'rm', net3]), `${net3}\n`);
  });

  it('the same through berth: network create/connect/disconnect, run --network --network-alias --ip, -p, port', async () => {
    const sub = await freeSubnet(subnets);
    marks.add(sub.prefix);
    const net = `bnet-${SFX}`;
    const ok2 = async (args: string[]) => {
      const r = await berth(d, args);
      assert.equal(r.code, 0, fail(r, `berth ${args.join(' ')}`));
      return r.stdout;
    };
    assert.match(
      await ok2([
        'network',
        'create',
        '--subnet',
        sub.cidr,
        '--ip-range',
        `${sub.prefix}128/25`,
        '--label',
        'via=berth',
        net,
      ]),
      /^[0-9a-f]{64}\n$/,
    );
    await remember(net);
    const srv = `bsrv-${SFX}`;
    const hostPort = await freePort();
    marks.add(`--dport ${hostPort} `);
    const id = (
      await ok2([
        'run',
        '-d',
        '--network',
        net,
        '--network-alias',
        `api-${SFX}`,
        '--ip',
        `${sub.prefix}9`,
        '-p',
        `127.0.0.1:${hostPort}:80`,
        '--name',
        srv,
        '-v',
        `${www}:/www:ro`,
        'busybox',
        'httpd',
        '-f',
        '-p',
        '80',
        '-h',
        '/www',
      ])
    ).trim();
    containerIds.add(id);
    await rememberBridge(sub.prefix);
    assert.equal(
      (await ok2(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, srv])).trim(),
      `${sub.prefix}9`,
    );
    const viaAlias = await waitFor(
      'the alias to answer',
      async () => {
        const r = await berth(d, [
          'run',
          '--rm',
          '--network',
          net,
          'busybox',
          'timeout',
          '5',
          'wget',
          '-qO-',
          `http://api-${SFX}/`,
        ]);
        return r.code === 0 ? r.stdout : undefined;
      },
      20_000,
    );
    assert.equal(viaAlias, `hello from ${SFX}\n`);
    const body = await waitFor(
      'the published port to answer',
      async () => {
        const r = await run('curl', ['-sS', '--max-time', '2', `http://127.0.0.1:${hostPort}/`]);
        return r.code === 0 ? r.stdout : undefined;
      },
      15_000,
    );
    assert.equal(body, `hello from ${SFX}\n`);
    assert.equal(await ok2(['port', srv]), `80/tcp -> 127.0.0.1:${hostPort}\n`);
    assert.match(
      await ok2(['ps', '--filter', `name=${srv}`]),
      new RegExp(`127\\.0\\.0\\.1:${hostPort}->80/tcp\\s+${srv}\\n$`),
    );
    // A second container joins through connect with an alias and a fixed address; disconnect -f takes it out.
    const other = `bother-${SFX}`;
    containerIds.add(
      (await ok2(['run', '-d', '--network', 'none', '--name', other, 'busybox', 'sleep', '300'])).trim(),
    );
    const none = await berth(d, ['network', 'connect', net, other]);
    assert.notEqual(none.code, 0, 'a --network none container cannot join a network');
    await ok2(['rm', '-f', other]);
    containerIds.add((await ok2(['run', '-d', '--name', other, 'busybox', 'sleep', '300'])).trim());
    await ok2(['network', 'connect', '--alias', `peer-${SFX}`, '--ip', `${sub.prefix}200`, net, other]);
    assert.equal(
      (
        await ok2([
          'network',
          'inspect',
          '-f',
          `{{range .Containers}}{{if eq .Name "${other}"}}{{.IPv4Address}}{{end}}{{end}}`,
          net,
        ])
      ).trim(),
      `${sub.prefix}200/24`,
    );
    const resolved = await waitFor(
      'peer alias to resolve',
      async () => {
        const r = await berth(d, ['exec', srv, 'nslookup', `peer-${SFX}`]);
        return r.code === 0 && r.stdout.includes(`${sub.prefix}200`) ? true : undefined;
      },
      15_000,
    );
    assert.equal(resolved, true);
    await ok2(['network', 'disconnect', '-f', net, other]);
    assert.equal((await ok2(['network', 'inspect', '-f', '{{len .Containers}}', net])).trim(), '1');
    await ok2(['rm', '-f', srv, other]);
    assert.equal(await ok2(['network', 'rm', net]), `${net}\n`);
  });

  it('bad input: overlapping subnet, bad CIDR, gateway outside the subnet, unknown driver; nothing created', async () => {
    const bad = `bad-${SFX}`;
    const cases: { args: string[]; body?: unknown; re: RegExp }[] = [
      { args: ['--subnet', app.cidr.replace(/0\/24$/, '128/25')], re: /overlap/i },
      { args: ['--subnet', '10.202.300.0/24'], re: /invalid|CIDR/i },
      { args: ['-d', 'nosuchdriver'], re: /nosuchdriver/ },
    ];
    for (const c of cases) {
      const r = await docker(d, ['network', 'create', ...c.args, bad]);
      assert.notEqual(r.code, 0, fail(r, `network create ${c.args.join(' ')}`));
      assert.match(r.stderr, c.re, `network create ${c.args.join(' ')}`);
      const b = await berth(d, ['network', 'create', ...c.args, bad]);
      assert.equal(b.code, r.code);
      assert.equal(b.stderr, r.stderr, `berth network create ${c.args.join(' ')}`);
    }
    // The docker CLI checks a gateway against the subnet itself; the daemon must refuse it too.
    const outside = await api(
      d.socket,
      'POST',
      '/networks/create',
      JSON.stringify({
        Name: bad,
        Driver: 'bridge',
        IPAM: { Config: [{ Subnet: '10.202.251.0/24', Gateway: '10.202.250.1' }] },
      }),
      { 'Content-Type': 'application/json' },
    );
    assert.equal(outside.status, 400, outside.body);
    const cli = await docker(d, ['network', 'create', '--subnet', '10.202.251.0/24', '--gateway', '10.202.250.1', bad]);
    assert.equal(cli.stderr, 'no matching subnet for gateway 10.202.250.1\n');
    const b = await berth(d, ['network', 'create', '--subnet', '10.202.251.0/24', '--gateway', '10.202.250.1', bad]);
    assert.equal(b.stderr, cli.stderr);
    assert.equal(await ok(['network', 'ls', '-q', '--filter', `name=${bad}`]), '');
    const none = await docker(d, ['network', 'inspect', bad]);
    assert.equal(none.code, 1);
    // A create that fails after its endpoint was recorded (a bind source that does not exist) leaves no endpoint:
    // the network is still removable.
    const s = await freeSubnet(subnets);
    const tmpNet = `tmpnet-${SFX}`;
    await ok(['network', 'create', '--subnet', s.cidr, tmpNet]);
    const ip = `${s.prefix}9`;
    const failed = await docker(d, [
      'create',
      '--network',
      tmpNet,
      '--ip',
      ip,
      '--mount',
      'type=bind,source=/nonexistent-berth-src,target=/x',
      'busybox',
    ]);
    assert.notEqual(failed.code, 0, failed.stdout);
    assert.match(failed.stderr, /bind source path does not exist/);
    const again = await docker(d, ['create', '--network', tmpNet, '--ip', ip, 'busybox']);
    assert.equal(again.code, 0, `the address of the failed create was not left allocated: ${again.stderr}`);
    containerIds.add(again.stdout.trim());
    await ok(['rm', again.stdout.trim()]);
    await ok(['network', 'rm', tmpNet]);
  });

  it('docker-py: networks.create with a pool, connect with aliases, inspect, disconnect, remove', async () => {
    const s = await freeSubnet(subnets);
    marks.add(s.prefix);
    const script = join(d.dir, 'net.py');
    const pyNet = `py-${SFX}`;
    await writeFile(
      script,
      [
        'import docker',
        `c = docker.DockerClient(base_url='unix://${d.socket}')`,
        `pool = docker.types.IPAMPool(subnet='${s.cidr}', gateway='${s.prefix}1')`,
        `n = c.networks.create('${pyNet}', driver='bridge', ipam=docker.types.IPAMConfig(pool_configs=[pool]), labels={'t': '${SFX}'})`,
        'print(n.name, n.attrs["Driver"], n.attrs["IPAM"]["Config"][0]["Subnet"], n.attrs["Labels"])',
        `ct = c.containers.run('busybox', ['sleep', '60'], detach=True, name='pyc-${SFX}')`,
        `other = c.containers.run('busybox', ['sleep', '60'], detach=True, name='pyo-${SFX}', network='${pyNet}')`,
        'n.connect(ct, aliases=["alpha", "beta"])',
        'n.reload()',
        'print(sorted(v["Name"] for v in n.attrs["Containers"].values()))',
        'ct.reload()',
        `ep = ct.attrs["NetworkSettings"]["Networks"]["${pyNet}"]`,
        `print(sorted(a for a in (ep["Aliases"] or []) if a in ("alpha", "beta")), ep["IPAddress"].startswith("${s.prefix}"))`,
        'import time',
        'for _ in range(30):',
        '    r = other.exec_run(["nslookup", "alpha"])',
        '    if r.exit_code == 0: break',
        '    time.sleep(0.2)',
        'print(r.exit_code)',
        'n.disconnect(ct, force=True)',
        'other.remove(force=True)',
        'ct.remove(force=True)',
        'n.remove()',
        `print([x.name for x in c.networks.list(names=['${pyNet}'])])`,
      ].join('\n'),
    );
    const r = await run('/usr/bin/python3', [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `${pyNet} bridge ${s.cidr} {'t': '${SFX}'}\n['pyc-${SFX}', 'pyo-${SFX}']\n['alpha', 'beta'] True\n0\n[]\n`,
    );
  });

  it('network prune removes unused networks and prints them as docker does', async () => {
    const s = await freeSubnet(subnets);
    marks.add(s.prefix);
    const unused = `unused-${SFX}`;
    await ok(['network', 'create', '--subnet', s.cidr, '--label', `prune=${SFX}`, unused]);
    const b = await berth(d, ['network', 'prune', '-f', '--filter', `label=prune=${SFX}`]);
    assert.equal(b.code, 0, fail(b, 'berth network prune'));
    assert.equal(b.stdout, `Deleted Networks:\n${unused}\n\n`);
    assert.equal(await ok(['network', 'prune', '-f', '--filter', `label=prune=${SFX}`]), '');
    assert.equal(await ok(['network', 'ls', '-q', '--filter', `name=${unused}`]), '');
    // The app network is still in use by web, so prune leaves it.
    assert.notEqual(await ok(['network', 'ls', '-q', '--filter', `name=${app.name}`]), '');
  });

  it('removing a network with containers is a 409; after the container goes it is removed', async () => {
    const r = await api(d.socket, 'DELETE', `/networks/${app.name}`);
    assert.equal(r.status, 409, r.body);
    const cli = await docker(d, ['network', 'rm', app.name]);
    assert.equal(cli.code, 1);
    await ok(['rm', '-f', web]);
    assert.equal(await ok(['network', 'rm', app.name]), `${app.name}\n`);
    const again = await berth(d, ['network', 'rm', '-f', app.name]);
    assert.equal(again.code, 0, 'rm -f of a missing network is not an error');
  });
});
