import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import type { ScanDbImportResponse, ScanDbInfo, ScanReport } from '../../engine-api/trust.ts';
import { pack } from '../../util/tar/index.ts';
import { type AdminTarget, adminCall } from '../commands/client.ts';
import type { ArtifactInfo, KeyInfo, PolicyChange, PolicyInfo, ScanInfo, TrustAdminApi } from './admin.ts';

const seg = encodeURIComponent;

/** The trust policies' admin API of a running registry (`--url`). */
export class TrustAdminClient implements TrustAdminApi {
  readonly #t: AdminTarget;
  constructor(target: AdminTarget) {
    this.#t = target;
  }

  policy(project: string): Promise<PolicyInfo> {
    return adminCall(this.#t, 'GET', `projects/${seg(project)}/policy`);
  }
  setPolicy(project: string, change: PolicyChange): Promise<PolicyInfo> {
    return adminCall(this.#t, 'PUT', `projects/${seg(project)}/policy`, change);
  }
  addKey(project: string, name: string, data: Buffer): Promise<KeyInfo> {
    return adminCall(this.#t, 'POST', `projects/${seg(project)}/keys`, { name, data: data.toString('base64') });
  }
  async removeKey(project: string, name: string): Promise<void> {
    await adminCall(this.#t, 'DELETE', `projects/${seg(project)}/keys/${seg(name)}`);
  }
  scans(filter: { project?: string; repository?: string }): Promise<ScanInfo[]> {
    const q = new URLSearchParams();
    if (filter.project) q.set('project', filter.project);
    if (filter.repository) q.set('repository', filter.repository);
    return adminCall(this.#t, 'GET', `scans${q.size ? `?${q}` : ''}`);
  }
  queueScan(reference: string): Promise<ScanInfo[]> {
    return adminCall(this.#t, 'POST', 'scans', { reference });
  }
  report(reference: string): Promise<{ scans: ScanInfo[]; reports: ScanReport[] }> {
    return adminCall(this.#t, 'GET', `scans/report?${new URLSearchParams({ reference })}`);
  }
  artifacts(project: string): Promise<ArtifactInfo[]> {
    return adminCall(this.#t, 'GET', `projects/${seg(project)}/artifacts`);
  }
  dbInfo(): Promise<ScanDbInfo> {
    return adminCall(this.#t, 'GET', 'scan-db');
  }

  /** Sends a ZIP as it is, or a directory's `*.json` files as a tar. */
  importDb(source: { zip: string } | { dir: string }): Promise<ScanDbImportResponse> {
    if ('zip' in source)
      return adminCall(this.#t, 'POST', 'scan-db', undefined, {
        type: 'application/zip',
        body: createReadStream(source.zip),
      });
    return adminCall(this.#t, 'POST', 'scan-db', undefined, {
      type: 'application/x-tar',
      body: Readable.from(pack(jsonFiles(source.dir))),
    });
  }
}

async function* jsonFiles(root: string) {
  const walk = async function* (dir: string): AsyncGenerator<string> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) yield* walk(p);
      else if (e.isFile() && e.name.endsWith('.json')) yield p;
    }
  };
  for await (const p of walk(root)) yield { header: { name: relative(root, p) }, body: await readFile(p) };
}
