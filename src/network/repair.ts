/**
 * Start-up repair of the containers' networking, after the containers were reconciled: what a crash left for
 * containers that no longer run (sandbox records, state files, namespace files, addresses, endpoints of containers
 * that are gone) is removed, that of running ones kept; then the backend removes the rules and bridges that no
 * live endpoint needs.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../util/errors.ts';
import type { BackendRepair, NetworkBackend, NetworkDefinition } from './backend.ts';
import type { ContainerLookup, Records } from './model.ts';
import { removeNetns } from './netns.ts';
import type { SandboxFiles } from './sandboxfiles.ts';

export interface RepairDeps {
  records: Records;
  files: SandboxFiles;
  backend: NetworkBackend;
  containers?: ContainerLookup | undefined;
  log?: { info(msg: string): void } | undefined;
  /** A container's whole teardown (as `Sandboxes.tearDown`). */
  tearDown(containerId: string): Promise<void>;
}

export async function repairSandboxes(
  d: RepairDeps,
  isRunning: (containerId: string) => boolean,
): Promise<{ tornDown: string[] }> {
  const records = d.records;
  const tornDown = new Set<string>();
  for (const sb of records.sandboxes()) {
    if (isRunning(sb.containerId)) continue;
    await d.tearDown(sb.containerId);
    tornDown.add(sb.containerId);
  }
  const list = async (dir: string) =>
    readdir(join(d.files.root, dir)).catch((err: unknown) => (isErrno(err, 'ENOENT') ? [] : Promise.reject(err)));
  for (const f of await list('sandboxes')) {
    const id = f.replace(/\.json(\.tmp)?$/, '');
    if (f.endsWith('.tmp')) await rm(join(d.files.root, 'sandboxes', f), { force: true });
    else if (!records.sandbox(id) && !isRunning(id)) {
      await d.tearDown(id);
      tornDown.add(id);
    }
  }
  for (const id of await list('netns')) {
    if (records.sandbox(id) && isRunning(id)) continue;
    await removeNetns(d.files.netnsPath(id));
    tornDown.add(id);
  }
  // Endpoints that kept addresses without a sandbox (a crash between the two writes), and endpoints of containers
  // that no longer exist (a crash during create or rm).
  const containers = d.containers;
  records.transaction(() => {
    for (const e of records.allEndpoints()) {
      if (containers && !containers(e.containerId)) {
        records.deleteEndpoint(e.containerId, e.networkId);
        continue;
      }
      if (e.endpointId && !records.sandbox(e.containerId))
        records.setLive(e.containerId, e.networkId, { ipv4: null, ipv6: null, mac: null, endpointId: null });
    }
  });
  await d.backend.repair?.(inUse(records, tornDown));
  if (tornDown.size)
    d.log?.info(`startup repair: removed the networking of ${tornDown.size} container(s) that no longer run`);
  return { tornDown: [...tornDown] };
}

/** What is still in use, for the backend's repair: rules and bridges a crash left mid-setup go. */
function inUse(records: Records, tornDown: Set<string>): BackendRepair {
  const endpoints = records.allEndpoints();
  return {
    ownNetworks: records
      .all()
      .filter((n) => n.driver === 'bridge' && n.spec.bridge)
      .map((n) => ({ name: n.name, id: n.id, network_interface: n.spec.bridge }) as NetworkDefinition),
    liveNetworks: new Set(endpoints.filter((e) => e.endpointId).map((e) => e.networkId)),
    ownContainers: [...new Set([...tornDown, ...endpoints.map((e) => e.containerId)])],
    liveContainers: new Set(records.sandboxes().map((sb) => sb.containerId)),
  };
}
