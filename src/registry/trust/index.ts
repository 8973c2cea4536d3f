/**
 * The registry's trust policies, per project as Harbor offers them: signatures required (at pull or at push),
 * scan on push, and no pulls of images with vulnerabilities at or above a severity; the keys each project trusts;
 * the scan queue and its worker; the admin routes and the signatures API extension. `wireTrust` puts them into a
 * registry: the guard on manifest PUT and GET, scan on push from the push events.
 */
import { join } from 'node:path';
import type { Principal } from '../auth/gate.ts';
import type { Policy } from '../auth/policy.ts';
import type { RegistryConfig } from '../config.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { Registry } from '../service.ts';
import { TrustAdmin } from './admin.ts';
import { TrustGate } from './gate.ts';
import { Scanner } from './scanner.ts';
import { TrustStore } from './store.ts';

export { trustAdminRoute, SignatureExtension } from './http.ts';
export type { TrustAdminApi } from './admin.ts';

export interface RegistryTrust {
  store: TrustStore;
  gate: TrustGate;
  scanner: Scanner;
  /** `<root>/trust`: the vulnerability database, scratch trees of scans. */
  dir: string;
  admin(p: Principal): TrustAdmin;
  close(): Promise<void>;
}

export function wireTrust(deps: {
  config: RegistryConfig;
  db: SqlDb;
  registry: Registry;
  auth: Policy;
  log?: (line: string) => void;
}): RegistryTrust {
  const { registry, auth } = deps;
  const store = new TrustStore(deps.db);
  const gate = new TrustGate({ registry, auth, trust: store });
  const scanner = new Scanner({ registry, trust: store, config: deps.config, ...(deps.log ? { log: deps.log } : {}) });
  const log = deps.log ?? (() => {});
  gate.queue = scanner;
  registry.guard = gate;
  registry.onEvent((e) => {
    if (e.action !== 'push' || e.mediaType === undefined) return;
    void (async () => {
      const p = await gate.policyOf(e.repo);
      if (p?.policy.scanOnPush) await scanner.enqueue(e.repo, e.digest);
    })().catch((err: unknown) => log(`scan on push of ${e.repo}@${e.digest}: ${(err as Error).message}`));
  });
  const dir = join(deps.config.root, 'trust');
  return {
    store,
    gate,
    scanner,
    dir,
    admin: (p) => new TrustAdmin({ registry, trust: store, auth, gate, scanner, dir }, p),
    close: () => scanner.close(),
  };
}
