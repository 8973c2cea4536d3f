import { BerthError } from '../../util/errors.ts';
import { isDaemonError, type EngineClient, type SystemInfo } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { describeError } from '../errors.ts';
import { asGoStruct, compileFormat } from '../output.ts';
import { bytesSize } from '../units.ts';

export interface InfoOptions {
  format: string;
}

interface ClientInfo {
  Debug: boolean;
  Version: string;
  Plugins: unknown[];
  Warnings: string[] | null;
}

/** A `name=seccomp,profile=builtin` security option, decoded as moby's `DecodeSecurityOptions`. */
export function decodeSecurityOption(opt: string): { name: string; options: [string, string][] } {
  if (!opt.includes('=')) return { name: opt, options: [] };
  let name = '';
  const options: [string, string][] = [];
  for (const pair of opt.split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw new BerthError(`invalid security option ${JSON.stringify(pair)}`);
    const k = pair.slice(0, eq);
    const v = pair.slice(eq + 1);
    if (k === 'name') name = v;
    else options.push([k, v]);
  }
  return { name, options };
}

/** The `Server:` section of `docker info`, line for line (Go's Println spacing). */
export function serverInfoText(info: SystemInfo, debugClient: boolean): string {
  const lines: string[] = [];
  const ln = (...parts: unknown[]): void => {
    lines.push(parts.map((p) => (p === undefined || p === null ? '' : String(p))).join(' '));
  };
  const nonEmpty = (label: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') ln(label, value);
  };
  const n = (v: number | undefined): number => v ?? 0;
  ln(' Containers:', n(info.Containers));
  ln('  Running:', n(info.ContainersRunning));
  ln('  Paused:', n(info.ContainersPaused));
  ln('  Stopped:', n(info.ContainersStopped));
  ln(' Images:', n(info.Images));
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  for (const [k, v] of info.DriverStatus ?? []) lines.push(`  ${k}: ${v}`);
  for (const [k, v] of info.SystemStatus ?? []) lines.push(` ${k}: ${v}`);
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  ln(' Plugins:');
  ln('  Volume:', (info.Plugins?.Volume ?? []).join(' '));
  ln('  Network:', (info.Plugins?.Network ?? []).join(' '));
  if (info.BerthNetwork?.Backend) {
    ln(' Network Backend:', info.BerthNetwork.Backend);
    if ((info.BerthNetwork.FirewallChains ?? []).length > 0)
      ln('  Firewall Chains:', (info.BerthNetwork.FirewallChains ?? []).join(' '));
  }
  if ((info.Plugins?.Authorization ?? []).length > 0)
    ln('  Authorization:', (info.Plugins?.Authorization ?? []).join(' '));
  ln('  Log:', (info.Plugins?.Log ?? []).join(' '));
  if ((info.CDISpecDirs ?? []).length > 0) {
    ln(' CDI spec directories:');
    for (const dir of info.CDISpecDirs ?? []) lines.push(`  ${dir}`);
  }
  const swarm = info.Swarm?.LocalNodeState ?? '';
  ln(' Swarm:', swarm);
  if (swarm !== 'inactive' && swarm !== 'locked') {
    const sw = (info.Swarm ?? {}) as { NodeID?: string; NodeAddr?: string; Error?: string; ControlAvailable?: boolean };
    ln('  NodeID:', sw.NodeID ?? '');
    if (sw.Error !== undefined && sw.Error !== '') ln('  Error:', sw.Error);
    ln('  Is Manager:', sw.ControlAvailable ?? false);
    ln('  Node Address:', sw.NodeAddr ?? '');
  }
  const runtimes = Object.keys(info.Runtimes ?? {});
  if (runtimes.length > 0) {
    ln(' Runtimes:', runtimes.join(' '));
    ln(' Default Runtime:', info.DefaultRuntime ?? '');
  }
  if (info.OSType === 'linux') {
    ln(' Init Binary:', info.InitBinary ?? '');
    ln(' containerd version:', info.ContainerdCommit?.ID ?? '');
    ln(' runc version:', info.RuncCommit?.ID ?? '');
    ln(' init version:', info.InitCommit?.ID ?? '');
    if ((info.SecurityOptions ?? []).length > 0) {
      const decoded = (info.SecurityOptions ?? []).map(decodeSecurityOption);
      ln(' Security Options:');
      for (const so of decoded) {
        ln(`  ${so.name}`);
        for (const [k, v] of so.options) if (k === 'profile') ln('   Profile:', v);
      }
    }
  }
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  ln(' CPUs:', n(info.NCPU));
  ln(' Total Memory:', bytesSize(n(info.MemTotal)));
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  ln(' Docker Root Dir:', info.DockerRootDir ?? '');
  ln(' Debug Mode:', info.Debug ?? false);
  if (info.Debug === true || debugClient) {
    ln('  File Descriptors:', info.NFd ?? 0);
    ln('  Goroutines:', info.NGoroutines ?? 0);
    ln('  System Time:', info.SystemTime ?? '');
    ln('  EventsListeners:', info.NEventsListener ?? 0);
  }
  nonEmpty(' HTTP Proxy:', info.HttpProxy);
  nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  nonEmpty(' No Proxy:', info.NoProxy);
  if ((info.Labels ?? []).length > 0) {
    ln(' Labels:');
    for (const l of info.Labels ?? []) ln(`  ${l}`);
  }
  ln(' Experimental:', info.ExperimentalBuild ?? false);
  const reg = info.RegistryConfig;
  const indexConfigs = Object.values(reg?.IndexConfigs ?? {});
  if (reg !== undefined && reg !== null && ((reg.InsecureRegistryCIDRs ?? []).length > 0 || indexConfigs.length > 0)) {
    ln(' Insecure Registries:');
    for (const ic of indexConfigs) if (!ic.Secure) ln(`  ${ic.Name}`);
    for (const cidr of reg.InsecureRegistryCIDRs ?? []) lines.push(`  ${cidr}`);
  }
  if ((reg?.Mirrors ?? []).length > 0) {
    ln(' Registry Mirrors:');
    for (const m of reg?.Mirrors ?? []) ln(`  ${m}`);
  }
  ln(' Live Restore Enabled:', info.LiveRestoreEnabled ?? false);
  if (info.ProductLicense !== undefined && info.ProductLicense !== '') ln(' Product License:', info.ProductLicense);
  if ((info.DefaultAddressPools ?? []).length > 0) {
    ln(' Default Address Pools:');
    for (const p of info.DefaultAddressPools ?? []) lines.push(`   Base: ${p.Base}, Size: ${p.Size}`);
  }
  ln();
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * `berth info`: the client section, then the engine's. Warnings go to stderr. An engine that cannot
 * be reached is an error after the client section (exit 1), as with docker.
 */
export async function showInfo(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  clientInfo: { version: string; debug: boolean },
  opts: InfoOptions,
  signal?: AbortSignal,
): Promise<void> {
  const ci: ClientInfo = { Debug: clientInfo.debug, Version: clientInfo.version, Plugins: [], Warnings: null };
  if (opts.format !== '') {
    const template = await compileFormat(opts.format === 'json' ? '{{json .}}' : opts.format, { execPrefix: '' });
    let info: SystemInfo = {};
    const serverErrors: string[] = [];
    let connFailure: unknown;
    try {
      info = await client.info({ signal });
    } catch (e) {
      if (!isDaemonError(e)) connFailure = e;
      else {
        serverErrors.push(describeError(e));
        err.write(`${describeError(e)}\n`);
      }
    }
    const data = { ...info, ...(serverErrors.length > 0 ? { ServerErrors: serverErrors } : {}), ClientInfo: ci };
    let text = '';
    let failure: unknown;
    try {
      text = template(await asGoStruct(data, 'system.dockerInfo'));
    } catch (e) {
      failure = e;
    }
    out.write(`${text}\n`);
    if (failure !== undefined) throw failure;
    if (connFailure !== undefined) throw connFailure;
    return;
  }
  out.write('Client:\n');
  out.write(` Version:    ${ci.Version}\n`);
  out.write(` Debug Mode: ${ci.Debug}\n`);
  out.write('\nServer:\n');
  let info: SystemInfo;
  try {
    info = await client.info({ signal });
  } catch (e) {
    if (!isDaemonError(e)) throw e;
    err.write(`ERROR: ${describeError(e)}\n`);
    throw new BerthError('errors pretty printing info');
  }
  out.write(serverInfoText(info, clientInfo.debug));
  for (const w of info.Warnings ?? []) err.write(`${w}\n`);
}
