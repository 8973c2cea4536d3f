/**
 * Berth's own bridge backend: what netavark does for a bridge network, without a child process per container.
 * Links, addresses and routes through rtnetlink (src/sys/netlink.ts: the veth peer is created straight into the
 * container's namespace, and a netlink socket opened inside it configures eth0); firewall rules in Berth's own
 * chains with one iptables-restore per change (firewall.ts); DNS through aardvark-dns driven directly (dns.ts).
 *
 * A network's bridge, addresses, sysctls and chains are made with its first endpoint and removed with its last,
 * except the predefined default bridge, which stays while containers come and go and is removed after it has
 * been idle a moment (or at `flush`, which the daemon's stop reaches through the service's `drain`).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { RtNetlink, inNetns } from '../sys/index.ts';
import { errorMessage } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import { KeyedMutex } from '../util/lock.ts';
import { runProcess } from '../util/process.ts';
import type { BackendRepair, ContainerNetworks, NetworkBackend, NetworkDefinition } from './backend.ts';
import { AardvarkDns } from './dns.ts';
import {
  DNAT,
  FORWARD,
  FirewallRunner,
  ISOLATION,
  afterPurge,
  POSTROUTING,
  containerChain,
  hooksChange,
  merge,
  networkChains,
  networkChange,
  type parseSave,
  portsChange,
  purgeChange,
  removeNetworkChange,
  removePortsChange,
  unhookChange,
  type Change,
  type FwNetwork,
  type FwPort,
} from './firewall.ts';
import { contains, parseCidr, parseIP } from './ipam.ts';

/** What the Berth backend needs. */
export interface BridgeBackendOptions {
  /** aardvark-dns's binary; without one, DNS-enabled networks fail to set up. */
  aardvark?: string;
  /** aardvark-dns's config directory (under the exec root). */
  dnsDir: string;
  /** Networks whose bridge outlives its last endpoint for `lingerMs` (the predefined `bridge`). */
  keep?: (networkName: string) => boolean;
  lingerMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

interface NetState {
  info: NetworkDefinition;
  index: number;
  /** Setups between "bridge ready" and "veth attached": the bridge must not go meanwhile. */
  inflight: number;
}

/** The host-side veth name of a container's endpoint on a network (deterministic, so a crash leaves no guess). */
export function vethName(containerId: string, networkId: string): string {
  return `vb${createHash('sha256').update(`${containerId}/${networkId}`).digest('hex').slice(0, 11)}`;
}

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** Berth's own network backend. */
export class BridgeBackend implements NetworkBackend {
  readonly name = 'berth' as const;
  readonly #o: BridgeBackendOptions;
  readonly #lock = new KeyedMutex();
  readonly #nets = new Map<string, NetState>();
  readonly #fw = { 4: new FirewallRunner(4), 6: new FirewallRunner(6) } as const;
  readonly #warnings = new Set<string>();
  /** Idle networks that outlive their last endpoint (`keep`), by ID: their removal's timer, run by `#removeIdle`. */
  readonly #lingering = new Map<string, { info: NetworkDefinition; timer: NodeJS.Timeout }>();
  /** Host-side veths whose namespace is being removed: the kernel deletes them shortly. */
  readonly #dying = new Set<string>();
  /** Bridge removals under way (awaited by `flush`). */
  readonly #removing = new Set<Promise<void>>();
  #host: RtNetlink | undefined;
  #dns: AardvarkDns | undefined;

  constructor(o: BridgeBackendOptions) {
    this.#o = o;
  }

  #nl(): RtNetlink {
    this.#host ??= new RtNetlink();
    return this.#host;
  }

  async rename(containerId: string, name: string): Promise<void> {
    // After a daemon restart no record was written yet by this process, but aardvark's files are still there.
    if (this.#o.aardvark) await this.#aardvark().rename(containerId, name);
  }

  #aardvark(): AardvarkDns {
    if (!this.#o.aardvark)
      throw new Error(
        'aardvark-dns not found: install it (Debian package aardvark-dns) for name resolution on user networks',
      );
    this.#dns ??= new AardvarkDns({ binary: this.#o.aardvark, dir: this.#o.dnsDir });
    return this.#dns;
  }

  /** Restore-executions so far (v4 + v6), for tests and the benchmark. */
  get restoreRuns(): number {
    return this.#fw[4].runs + this.#fw[6].runs;
  }

  chains(networkId: string): string[] {
    const c = networkChains(networkId);
    return [`filter/${c.filter}`, `nat/${c.nat}`, `filter/${ISOLATION}`];
  }

  info(): { chains: string[]; warnings: string[] } {
    return {
      chains: [`filter/FORWARD → ${FORWARD}`, `nat/POSTROUTING → ${POSTROUTING}`, `nat/PREROUTING,OUTPUT → ${DNAT}`],
      warnings: [...this.#warnings],
    };
  }

  // ---------------------------------------------------------------- setup

  async setup(netns: string, input: ContainerNetworks): Promise<void> {
    const names = Object.keys(input.networks);
    const tried: string[] = [];
    try {
      for (const name of names) {
        tried.push(name);
        // The network that carries the published ports: its port in hairpin mode, so the container reaches its
        // own published port through the host (the nat chain's DNAT masquerade rule covers the address).
        await this.#setupOne(netns, input, name, name === names[0] && Boolean(input.port_mappings?.length));
      }
      const first = names[0];
      if (first && input.port_mappings?.length) {
        for (const fam of [4, 6] as const)
          await this.#fw[fam].apply(portsChange(input.container_id, this.#ports(input, first, fam)));
      }
      for (const name of names) {
        const info = input.network_info[name]!;
        if (!info.dns_enabled) continue;
        const per = input.networks[name]!;
        const listen = info.subnets.map((s) => s.gateway).filter((g): g is string => Boolean(g));
        await this.#aardvark().add(name, listen, {
          id: input.container_id,
          ipv4: per.static_ips.filter((ip) => !ip.includes(':')),
          ipv6: per.static_ips.filter((ip) => ip.includes(':')),
          names: [...new Set([input.container_name, ...(per.aliases ?? [])])],
        });
      }
    } catch (err) {
      await this.teardown(netns, {
        ...input,
        networks: Object.fromEntries(tried.map((n) => [n, input.networks[n]!])),
      }).catch((e) => this.#o.log?.warn(`undoing a failed network setup: ${errorMessage(e)}`));
      throw err;
    }
  }

  /** The published ports of one family, resolved to the container's address on its first network. */
  #ports(input: ContainerNetworks, network: string, fam: 4 | 6): FwPort[] {
    const ip = input.networks[network]!.static_ips.find((a) => familyOf(a) === fam);
    if (!ip) return [];
    return (input.port_mappings ?? []).flatMap((p) => {
      const hostFam = p.host_ip ? familyOf(p.host_ip) : undefined;
      if (hostFam && hostFam !== fam && !(p.host_ip === '0.0.0.0' && fam === 4)) return [];
      if (p.host_ip === '0.0.0.0' && fam === 6) return [];
      const out: FwPort[] = [];
      for (let i = 0; i < (p.range || 1); i++)
        out.push({
          hostIp: p.host_ip,
          hostPort: p.host_port + i,
          protocol: p.protocol,
          containerIp: ip,
          containerPort: p.container_port + i,
        });
      return out;
    });
  }

  async #setupOne(netns: string, input: ContainerNetworks, name: string, hairpin: boolean): Promise<void> {
    const info = input.network_info[name]!;
    const per = input.networks[name]!;
    const st = await this.#ensure(info);
    try {
      const mtu = info.options?.mtu ? Number(info.options.mtu) : undefined;
      const inner = inNetns(netns, () => new RtNetlink());
      try {
        inner.setUp('lo');
        const veth = vethName(input.container_id, info.id);
        // The same container restarted: its previous veth may still be on its way out with the old namespace.
        if (this.#dying.has(veth)) await this.#awaitGone(veth);
        const fd = openSync(netns, 'r');
        try {
          this.#nl().addVeth({
            host: veth,
            master: st.index,
            peer: per.interface_name,
            nsFd: fd,
            ...(per.static_mac ? { mac: per.static_mac } : {}),
            ...(mtu ? { mtu } : {}),
          });
        } finally {
          closeSync(fd);
        }
        if (hairpin) this.#nl().setHairpin(veth);
        const idx = inner.linkIndex(per.interface_name);
        if (idx === undefined) throw new Error(`${per.interface_name} did not appear in ${netns}`);
        inner.setUp(per.interface_name);
        const routed = new Set<number>();
        for (const ip of per.static_ips) {
          const p = parseIP(ip)!;
          const sub = info.subnets.find((s) => contains(parseCidr(s.subnet), p.family, p.value));
          if (!sub) continue;
          inner.addAddress(idx, ip, parseCidr(sub.subnet).prefix);
          if (!info.internal && sub.gateway && !routed.has(p.family)) {
            inner.addDefaultRoute(idx, sub.gateway);
            routed.add(p.family);
          }
        }
      } finally {
        inner.close();
      }
    } finally {
      st.inflight--;
    }
  }

  /** The network's bridge, addresses, sysctls and chains, made once; counts the caller in `inflight`. */
  async #ensure(info: NetworkDefinition): Promise<NetState> {
    return this.#lock.run(`net:${info.id}`, async () => {
      clearTimeout(this.#lingering.get(info.id)?.timer);
      this.#lingering.delete(info.id);
      let st = this.#nets.get(info.id);
      if (st) {
        st.inflight++;
        return st;
      }
      const br = info.network_interface;
      const mtu = info.options?.mtu ? Number(info.options.mtu) : undefined;
      const index = this.#nl().addBridge(br, mtu);
      try {
        await this.#install(info, index);
      } catch (err) {
        if (ports(br).length === 0) await deleteLink(br).catch(() => {});
        throw err;
      }
      st = { info, index, inflight: 1 };
      this.#nets.set(info.id, st);
      return st;
    });
  }

  /** The bridge's addresses, sysctls and firewall chains. */
  async #install(info: NetworkDefinition, index: number): Promise<void> {
    const br = info.network_interface;
    for (const s of info.subnets) if (s.gateway) this.#nl().addAddress(index, s.gateway, parseCidr(s.subnet).prefix);
    const fams = new Set(info.subnets.map((s) => familyOf(s.subnet)));
    if (fams.has(4)) await writeFile(`/proc/sys/net/ipv4/conf/${br}/route_localnet`, '1');
    if (!info.internal) {
      if (fams.has(4)) await this.#forwarding('/proc/sys/net/ipv4/ip_forward', 'net.ipv4.ip_forward');
      if (fams.has(6)) await this.#forwarding('/proc/sys/net/ipv6/conf/all/forwarding', 'net.ipv6.conf.all.forwarding');
    }
    for (const fam of fams) {
      // Another berthd on this host may create or remove the shared chains between our read and our write
      // (`-N` of an existing chain, or a jump into a removed one, fails the whole restore): read again, retry.
      for (let attempt = 1; ; attempt++) {
        const saved = await this.#fw[fam].save();
        const present = {
          chains: new Set([...saved.filter.chains, ...saved.nat.chains]),
          rules: new Set([...saved.filter.rules, ...saved.nat.rules]),
        };
        const net = networkChange(this.#fwNet(info, fam), fam);
        // A daemon restart finds the jumps of a network whose containers kept running: not twice.
        const fresh: Change = {
          filter: net.filter.filter((l) => !present.rules.has(l)),
          nat: net.nat.filter((l) => !present.rules.has(l)),
        };
        try {
          await this.#fw[fam].apply(merge(hooksChange(present), fresh));
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }
  }

  async #forwarding(path: string, key: string): Promise<void> {
    if ((await readFile(path, 'utf8')).trim() === '1') return;
    await writeFile(path, '1');
    this.#warnings.add(`WARNING: ${key} was 0: Berth set it to 1 for its bridge networks`);
    this.#o.log?.warn(`${key} was 0: set to 1 for bridge networks`);
  }

  #fwNet(info: NetworkDefinition, fam: 4 | 6): FwNetwork {
    return {
      id: info.id,
      bridge: info.network_interface,
      subnets: info.subnets.map((s) => s.subnet).filter((s) => familyOf(s) === fam),
      internal: info.internal,
    };
  }

  // ---------------------------------------------------------------- teardown

  /**
   * With `netnsGoing` (the caller removes the namespace next: a container's whole teardown) the veths are left to
   * the kernel, which deletes them with the namespace, off the daemon's thread and without a child process
   * (`ip link del` of each cost about half of this backend's CPU per container); the bridge is then removed once
   * they are gone. Otherwise (disconnect) each veth is deleted here.
   */
  async teardown(_netns: string, input: ContainerNetworks, opts: { netnsGoing?: boolean } = {}): Promise<void> {
    const names = Object.keys(input.networks);
    const errors: unknown[] = [];
    // The names go from DNS beside the rest (aardvark's file and reload do not need the veth, rules or bridge): the
    // last endpoint's bridge deletion, the longest step, need not wait behind the DNS lock.
    const dns = Promise.all(
      names.map(async (name) => {
        if (!input.network_info[name]!.dns_enabled || !this.#o.aardvark) return;
        await phase('net.dns.remove', input.container_id, () => this.#aardvark().remove(name, input.container_id));
      }),
    ).catch((e) => errors.push(e));
    const first = names[0];
    if (first && input.port_mappings?.length) {
      for (const fam of [4, 6] as const) {
        if (!this.#ports(input, first, fam).length) continue;
        await phase('net.ports.remove', input.container_id, () =>
          this.#fw[fam].apply(removePortsChange(input.container_id)).catch(async () => {
            await this.#purge(fam, new Set([containerChain(input.container_id)])).catch((e) => errors.push(e));
          }),
        );
      }
    }
    // Those the kernel has finished are forgotten here (a bridge removed at once does not wait for them).
    if (opts.netnsGoing) this.#forgetGone();
    for (const name of names) {
      const info = input.network_info[name]!;
      try {
        const veth = vethName(input.container_id, info.id);
        if (opts.netnsGoing) this.#dying.add(veth);
        else await deleteLink(veth);
        await this.#release(info, this.#o.keep?.(name) ?? false);
      } catch (err) {
        errors.push(err);
      }
    }
    await dns;
    if (errors.length) throw errors[0];
  }

  /** Waits (up to `ms`) until link `name` is gone, then deletes it if it is still there. */
  async #awaitGone(name: string, ms = 3000): Promise<void> {
    const until = Date.now() + ms;
    while (existsSync(`/sys/class/net/${name}`) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    if (existsSync(`/sys/class/net/${name}`)) await deleteLink(name);
    this.#dying.delete(name);
  }

  /** The bridge's ports that are not on their way out with their namespace. */
  #livePorts(bridge: string): string[] {
    const all = ports(bridge);
    return all.filter((p) => !this.#dying.has(p));
  }

  /** Forgets the dying veths the kernel has finished removing. */
  #forgetGone(): void {
    for (const p of this.#dying) if (!existsSync(`/sys/class/net/${p}`)) this.#dying.delete(p);
  }

  /**
   * After an endpoint went: when no live endpoint is left, removes the network's bridge and rules; the veths still
   * dying with their namespaces do not need the bridge (deleting it detaches them), so nothing waits for the
   * kernel to finish them. A network that outlives its endpoints (the default bridge) goes only after `lingerMs`
   * idle (`#removeIdle`); a setup meanwhile (`#ensure`) cancels that.
   */
  async #release(info: NetworkDefinition, keep: boolean): Promise<void> {
    await this.#lock.run(`net:${info.id}`, async () => {
      if (!this.#idle(info)) return;
      if (!keep) return this.#removeNetwork(info);
      if (this.#lingering.has(info.id)) return;
      const timer = setTimeout(
        () =>
          void this.#removeIdle(info.id).catch((e) =>
            this.#o.log?.warn(`network ${info.name}: removing the idle bridge: ${errorMessage(e)}`),
          ),
        this.#o.lingerMs ?? 2000,
      );
      timer.unref();
      this.#lingering.set(info.id, { info, timer });
    });
  }

  /** No setup under way on the network and no live endpoint on its bridge (the caller holds its lock). */
  #idle(info: NetworkDefinition): boolean {
    const st = this.#nets.get(info.id);
    return !(st && st.inflight > 0) && this.#livePorts(info.network_interface).length === 0;
  }

  /**
   * Removes a lingering network whose time has come (or at `flush`), unless a setup took it meanwhile. Tracked in
   * `#removing`, which `flush` awaits.
   */
  #removeIdle(id: string): Promise<void> {
    const entry = this.#lingering.get(id);
    if (!entry) return Promise.resolve();
    clearTimeout(entry.timer);
    this.#lingering.delete(id);
    const { info } = entry;
    const p = this.#lock.run(`net:${id}`, async () => {
      // A setup queued on the lock before the timer fired went first: its endpoint keeps the bridge.
      if (!this.#idle(info)) return;
      // Removed meanwhile, or never made by this process and gone (a daemon restarted with the bridge idle).
      if (!this.#nets.has(id) && !existsSync(`/sys/class/net/${info.network_interface}`)) return;
      await this.#removeNetwork(info);
    });
    this.#removing.add(p);
    void p.catch(() => {}).finally(() => this.#removing.delete(p));
    return p;
  }

  async #removeNetwork(info: NetworkDefinition): Promise<void> {
    this.#nets.delete(info.id);
    const fams = new Set(info.subnets.map((s) => familyOf(s.subnet)));
    const c = networkChains(info.id);
    const rules = async (fam: 4 | 6): Promise<void> => {
      const n = this.#fwNet(info, fam);
      const own = removeNetworkChange(n);
      // What the network leaves in the ruleset, purged when the exact removal finds the ruleset changed.
      const chains = new Set([c.filter, c.nat]);
      const extra = new Set([`-A ${ISOLATION} -o ${n.bridge} -j DROP`]);
      const purge = () => this.#purge(fam, chains, extra);
      // The last network: its rules and the shared hooks go in one restore, from one save of the ruleset as it will
      // be without this network (instead of a restore, then a save and a restore for the hooks).
      const last = this.#nets.size === 0;
      const saved = last
        ? await phase('net.rules.save', info.id, () => this.#fw[fam].save()).catch(() => undefined)
        : undefined;
      if (saved === undefined) {
        await phase('net.rules.remove', info.id, () => this.#fw[fam].apply(own).catch(purge));
        if (last) await phase('net.unhook', info.id, () => this.#unhook(fam));
        return;
      }
      const unhook = unhookOf(afterPurge(saved, chains, extra));
      await phase('net.rules.remove', info.id, () =>
        this.#fw[fam].apply(merge(own, unhook)).catch(async () => {
          await purge();
          await this.#unhook(fam);
        }),
      );
    };
    // The rules name the bridge but do not need it: the rules (with the shared hooks, when this was the last
    // network) and the bridge go at once (iptables-restore beside a netlink delete that waits for the kernel), each
    // finishing even when the other fails.
    const done = await Promise.allSettled([
      (async () => {
        for (const fam of fams) await rules(fam);
      })(),
      phase('net.bridge.delete', info.id, () => deleteLink(info.network_interface)),
    ]);
    for (const r of done) if (r.status === 'rejected') throw r.reason;
  }

  /**
   * Removes the hooks and shared chains when no rule is left in them (no network of any Berth daemon here).
   * `saved` is the ruleset as the caller knows it is now; without it, `iptables-save` is asked.
   */
  async #unhook(fam: 4 | 6, known?: ReturnType<typeof parseSave>): Promise<void> {
    const saved = known ?? (await this.#fw[fam].save());
    await this.#fw[fam]
      .apply(unhookOf(saved))
      .catch((e) => this.#o.log?.warn(`removing the firewall hooks: ${errorMessage(e)}`));
  }

  async #purge(fam: 4 | 6, chains: Set<string>, extra?: Set<string>): Promise<void> {
    await this.#fw[fam].apply(purgeChange(await this.#fw[fam].save(), chains, extra));
  }

  /** Removes idle default bridges now (daemon stop). */
  async flush(): Promise<void> {
    for (const id of [...this.#lingering.keys()])
      await this.#removeIdle(id).catch((e) => this.#o.log?.warn(`removing an idle bridge: ${errorMessage(e)}`));
    while (this.#removing.size) await Promise.allSettled([...this.#removing]);
    if (this.#nets.size === 0 && this.#dns) await phase('net.dns.stop', '', () => this.#dns!.stop().catch(() => {}));
  }

  /**
   * Startup repair: removes the chains of networks and containers of this daemon that have no live endpoint
   * (`liveNetworks` / `liveContainers` are the IDs that do), bridges of `idleBridges`, and the hooks when unused.
   */
  async repair(o: BackendRepair): Promise<void> {
    for (const fam of [4, 6] as const) {
      let saved: ReturnType<typeof parseSave>;
      try {
        saved = await this.#fw[fam].save();
      } catch {
        continue;
      }
      const chains = new Set<string>();
      const extra = new Set<string>();
      for (const n of o.ownNetworks) {
        if (o.liveNetworks.has(n.id)) continue;
        const c = networkChains(n.id);
        chains.add(c.filter).add(c.nat);
        extra.add(`-A ${ISOLATION} -o ${n.network_interface} -j DROP`);
      }
      for (const id of o.ownContainers) if (!o.liveContainers.has(id)) chains.add(containerChain(id));
      // One `iptables-save` per family: what is left after the purge is known without asking again.
      let after: ReturnType<typeof parseSave> | undefined = afterPurge(saved, chains, extra);
      await this.#fw[fam].apply(purgeChange(saved, chains, extra)).catch((e) => {
        after = undefined;
        this.#o.log?.warn(`startup repair of the firewall: ${errorMessage(e)}`);
      });
      if (o.liveNetworks.size === 0) await this.#unhook(fam, after);
    }
    for (const n of o.ownNetworks) {
      if (o.liveNetworks.has(n.id)) continue;
      // Veths still dying with the namespaces the repair removed are detached by the bridge's deletion.
      if (this.#livePorts(n.network_interface).length === 0) await deleteLink(n.network_interface);
    }
  }
}

/**
 * Deletes a link through `ip link del` in a child process: the kernel holds RTM_DELLINK for an RCU grace period
 * (25–120 ms measured here), which through the blocking netlink socket would stall the daemon's event loop.
 * A link that is gone is fine.
 */
async function deleteLink(name: string): Promise<void> {
  const r = await runProcess('ip', ['link', 'del', 'dev', name]);
  if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr))
    throw new Error(`ip link del ${name}: ${r.stderr.trim()}`);
}

/** The interfaces enslaved to a bridge (none when it does not exist). */
function ports(bridge: string): string[] {
  try {
    return readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

/** The change that removes the hooks and shared chains, given the ruleset; empty while any rule is left in them. */
function unhookOf(saved: ReturnType<typeof parseSave>): Change {
  const shared = [FORWARD, ISOLATION, POSTROUTING, DNAT];
  const used = [...saved.filter.rules, ...saved.nat.rules].some((r) => shared.includes(r.split(' ')[1] ?? ''));
  if (used || !saved.filter.chains.has(FORWARD)) return { filter: [], nat: [] };
  const present = new Set([...saved.filter.rules, ...saved.nat.rules]);
  const c = unhookChange();
  const keep = (l: string) => !l.startsWith('-D ') || present.has(l.replace(/^-D /, '-A '));
  const chainOk = (l: string) =>
    !l.startsWith('-X ') || saved.filter.chains.has(l.slice(3)) || saved.nat.chains.has(l.slice(3));
  return { filter: c.filter.filter(keep).filter(chainOk), nat: c.nat.filter(keep).filter(chainOk) };
}
