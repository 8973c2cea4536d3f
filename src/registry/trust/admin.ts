/**
 * The trust policies' administration, in-process (`--root`) or behind the admin HTTP API (`--url`, trust/http.ts):
 * a project's policy and keys, scans and their reports, each image's state (signed, scanned, pullable and why),
 * and the registry's vulnerability database. Permissions: a project's admins (and registry admins) change its
 * policy and keys; anyone who may pull from a repository sees its scans and states; queuing a scan needs push; the
 * database is the registry admins'.
 */
import { join } from 'node:path';
import type { ScanDbImportResponse, ScanDbInfo, ScanReport } from '../../engine-api/trust.ts';
import type { Severity } from '../../trust/index.ts';
import { type Digest, isDigest } from '../../util/digest.ts';
import { ForbiddenError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { Principal } from '../auth/gate.ts';
import { type Policy, roleAtLeast } from '../auth/policy.ts';
import { manifestUnknown } from '../errors.ts';
import { checkName, isTag } from '../names.ts';
import type { Registry } from '../service.ts';
import type { TrustGate } from './gate.ts';
import { checkKeyName, parseKey } from './keys.ts';
import { classify } from './kinds.ts';
import type { Scanner } from './scanner.ts';
import {
  isSeverity,
  SEVERITY_ORDER,
  SIGNATURE_RULES,
  type ScanRecord,
  type SignatureRule,
  type TrustPolicy,
  type TrustStore,
} from './store.ts';

export interface KeyInfo {
  name: string;
  kind: 'cosign' | 'gpg';
  fingerprint: string;
  createdAt: string;
}
export interface PolicyInfo {
  project: string;
  requireSignatures: SignatureRule;
  scanOnPush: boolean;
  preventSeverity: Severity | null;
  keys: KeyInfo[];
}
export interface PolicyChange {
  requireSignatures?: string;
  scanOnPush?: boolean;
  /** A severity, or `none` / null to pull whatever the scans found. */
  preventSeverity?: string | null;
}
export interface ScanInfo {
  repository: string;
  digest: string;
  status: ScanRecord['status'];
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  report: string | null;
  counts: Record<Severity, number> | null;
  packages: number | null;
  error: string | null;
}
/** An image (or index) of a project and where it stands. */
export interface ArtifactInfo {
  repository: string;
  digest: string;
  mediaType: string;
  tags: string[];
  signed: boolean;
  signedBy: string | null;
  scan: ScanInfo | null;
  pullable: boolean;
  reason: string;
}

export interface TrustAdminApi {
  policy(project: string): Promise<PolicyInfo>;
  setPolicy(project: string, change: PolicyChange): Promise<PolicyInfo>;
  addKey(project: string, name: string, data: Buffer): Promise<KeyInfo>;
  removeKey(project: string, name: string): Promise<void>;
  scans(filter: { project?: string; repository?: string }): Promise<ScanInfo[]>;
  /** Queues a scan of `repo:tag` or `repo@digest` (anew if it was scanned); the rows queued. */
  queueScan(reference: string): Promise<ScanInfo[]>;
  report(reference: string): Promise<{ scans: ScanInfo[]; reports: ScanReport[] }>;
  artifacts(project: string): Promise<ArtifactInfo[]>;
  dbInfo(): Promise<ScanDbInfo>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function scanInfo(s: ScanRecord): ScanInfo {
  return {
    repository: s.repo,
    digest: s.digest,
    status: s.status,
    queuedAt: iso(s.queuedAt)!,
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    report: s.report,
    counts: s.counts,
    packages: s.packages,
    error: s.error,
  };
}

/** `repo:tag` or `repo@digest` (a bare `repo` is `repo:latest`). */
export function splitReference(reference: string): { repo: string; ref: { tag: string } | { digest: Digest } } {
  const at = reference.indexOf('@');
  if (at > 0) {
    const digest = reference.slice(at + 1);
    if (!isDigest(digest)) throw new InvalidArgumentError(`invalid digest in "${reference}"`);
    return { repo: checkName(reference.slice(0, at)), ref: { digest } };
  }
  const colon = reference.lastIndexOf(':');
  const slash = reference.lastIndexOf('/');
  if (colon > slash) {
    const tag = reference.slice(colon + 1);
    if (!isTag(tag)) throw new InvalidArgumentError(`invalid tag in "${reference}"`);
    return { repo: checkName(reference.slice(0, colon)), ref: { tag } };
  }
  return { repo: checkName(reference), ref: { tag: 'latest' } };
}

export interface TrustAdminDeps {
  registry: Registry;
  trust: TrustStore;
  auth: Policy;
  gate: TrustGate;
  scanner: Scanner;
  /** `<root>/trust`: the vulnerability database. */
  dir: string;
}

export class TrustAdmin implements TrustAdminApi {
  readonly #d: TrustAdminDeps;
  readonly #p: Principal;

  constructor(deps: TrustAdminDeps, principal: Principal) {
    this.#d = deps;
    this.#p = principal;
  }

  async #requireProjectAdmin(project: string): Promise<void> {
    if (this.#p.admin) return;
    if (!roleAtLeast(await this.#d.auth.role(this.#p.name, project), 'admin'))
      throw new ForbiddenError(`only an admin of project "${project}" may do this`);
  }

  async #requireMember(project: string): Promise<void> {
    if (this.#p.admin) return;
    const p = (await this.#d.auth.projects()).find((x) => x.name === project);
    if (!p) throw new NotFoundError(`no project "${project}"`);
    if (!p.public && !(await this.#d.auth.role(this.#p.name, project)))
      throw new ForbiddenError(`only members of project "${project}" may see its policy`);
  }

  async #require(repo: string, action: 'pull' | 'push'): Promise<void> {
    if (!(await this.#d.auth.allowed(this.#p, repo)).has(action))
      throw new ForbiddenError(`${action} access to ${repo} is needed for this`);
  }

  async policy(project: string): Promise<PolicyInfo> {
    await this.#requireMember(project);
    const p = await this.#d.trust.policy(project);
    const keys = (await this.#d.trust.keys(project)).map((k) => ({
      name: k.name,
      kind: k.kind,
      fingerprint: k.fingerprint,
      createdAt: iso(k.createdAt)!,
    }));
    return { project, ...p, keys };
  }

  async setPolicy(project: string, change: PolicyChange): Promise<PolicyInfo> {
    await this.#requireProjectAdmin(project);
    const next: TrustPolicy = { ...(await this.#d.trust.policy(project)) };
    if (change.requireSignatures !== undefined) {
      const r = change.requireSignatures;
      if (!(SIGNATURE_RULES as readonly string[]).includes(r))
        throw new InvalidArgumentError(`invalid signature rule "${r}": off, pull or push`);
      next.requireSignatures = r as SignatureRule;
    }
    if (change.scanOnPush !== undefined) next.scanOnPush = change.scanOnPush === true;
    if (change.preventSeverity !== undefined) {
      const s = change.preventSeverity === null ? 'none' : change.preventSeverity.toUpperCase();
      if (s !== 'NONE' && !isSeverity(s))
        throw new InvalidArgumentError(
          `unknown severity "${change.preventSeverity}": ${[...SEVERITY_ORDER].slice(1).reverse().join(', ')} or none`,
        );
      next.preventSeverity = s === 'NONE' ? null : (s as Severity);
    }
    if (next.requireSignatures !== 'off' && (await this.#d.trust.keys(project)).length === 0)
      throw new InvalidArgumentError(
        `project "${project}" trusts no key yet: add one with "berth registry project key add ${project} FILE" first`,
      );
    await this.#d.trust.setPolicy(project, next);
    this.#d.gate.invalidate();
    return this.policy(project);
  }

  async addKey(project: string, name: string, data: Buffer): Promise<KeyInfo> {
    await this.#requireProjectAdmin(project);
    checkKeyName(name);
    const k = await parseKey(data, `key "${name}"`);
    await this.#d.trust.addKey({ project, name, ...k });
    this.#d.gate.invalidate();
    return { name, kind: k.kind, fingerprint: k.fingerprint, createdAt: new Date().toISOString() };
  }

  async removeKey(project: string, name: string): Promise<void> {
    await this.#requireProjectAdmin(project);
    await this.#d.trust.removeKey(project, name);
    this.#d.gate.invalidate();
  }

  async scans(filter: { project?: string; repository?: string }): Promise<ScanInfo[]> {
    const rows = await this.#d.trust.scans({
      ...(filter.repository !== undefined ? { repo: checkName(filter.repository) } : {}),
      ...(filter.project !== undefined ? { prefix: filter.project } : {}),
    });
    const out: ScanInfo[] = [];
    for (const r of rows) if ((await this.#d.auth.allowed(this.#p, r.repo)).has('pull')) out.push(scanInfo(r));
    return out;
  }

  async #resolve(reference: string): Promise<{ repo: string; repoId: number; digest: Digest }> {
    const { repo, ref } = splitReference(reference);
    await this.#require(repo, 'pull');
    const { store } = this.#d.registry;
    const m = 'tag' in ref ? await store.manifestByTag(repo, ref.tag) : await store.manifestByDigest(repo, ref.digest);
    if (!m) throw manifestUnknown(reference);
    return { repo, repoId: (await store.repoId(repo))!, digest: m.digest };
  }

  /** The rows of `repo@digest`: its own, or its images' for an index. */
  async #rows(repo: string, repoId: number, digest: Digest): Promise<ScanRecord[]> {
    const m = (await this.#d.registry.store.manifestByDigest(repo, digest))!;
    const c = classify(m.mediaType, m.content);
    const digests = c.kind === 'index' ? c.children : [digest];
    const out: ScanRecord[] = [];
    for (const d of digests) {
      const s = await this.#d.trust.scan(repoId, d);
      if (s) out.push(s);
    }
    return out;
  }

  async queueScan(reference: string): Promise<ScanInfo[]> {
    const { repo, repoId, digest } = await this.#resolve(reference);
    await this.#require(repo, 'push');
    await this.#d.scanner.enqueue(repo, digest, { again: true });
    return (await this.#rows(repo, repoId, digest)).map(scanInfo);
  }

  async report(reference: string): Promise<{ scans: ScanInfo[]; reports: ScanReport[] }> {
    const { repo, repoId, digest } = await this.#resolve(reference);
    const rows = await this.#rows(repo, repoId, digest);
    const reports: ScanReport[] = [];
    for (const r of rows) {
      if (!r.report) continue;
      const m = await this.#d.registry.store.manifestByDigest(repo, r.report as Digest);
      const layer = m && (JSON.parse(m.content.toString('utf8')) as { layers?: { digest: Digest }[] }).layers?.[0];
      if (!layer) continue;
      const chunks: Buffer[] = [];
      for await (const c of this.#d.registry.readBlob(layer.digest)) chunks.push(c as Buffer);
      reports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ScanReport);
    }
    return { scans: rows.map(scanInfo), reports };
  }

  async artifacts(project: string): Promise<ArtifactInfo[]> {
    await this.#requireMember(project);
    const { store } = this.#d.registry;
    const rows = await store.db.all<{ repo: string; digest: Digest; media_type: string; tags: string | null }>(
      `SELECT r.name AS repo, m.digest, m.media_type, t.name AS tags FROM manifests m
       JOIN repositories r ON r.id = m.repo_id LEFT JOIN tags t ON t.repo_id = m.repo_id AND t.digest = m.digest
       WHERE (r.name = ? OR r.name LIKE ? ESCAPE '\\') ORDER BY r.name, m.created_at, m.digest, t.name`,
      [project, `${project.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`],
    );
    const byKey = new Map<string, { repo: string; digest: Digest; mediaType: string; tags: string[] }>();
    for (const r of rows) {
      const k = `${r.repo}@${r.digest}`;
      let e = byKey.get(k);
      if (!e) byKey.set(k, (e = { repo: r.repo, digest: r.digest, mediaType: r.media_type, tags: [] }));
      if (r.tags) e.tags.push(r.tags);
    }
    const out: ArtifactInfo[] = [];
    for (const e of byKey.values()) {
      if (!(await this.#d.auth.allowed(this.#p, e.repo)).has('pull')) continue;
      const m = await store.manifestByDigest(e.repo, e.digest);
      if (!m) continue;
      const c = classify(m.mediaType, m.content);
      if (c.kind === 'artifact') continue;
      const sig = await this.#d.gate.signature(project, e.repo, e.digest);
      const repoId = (await store.repoId(e.repo))!;
      const scan = c.kind === 'image' ? await this.#d.trust.scan(repoId, e.digest) : undefined;
      const v = await this.#d.gate.verdict(e.repo, m, c);
      out.push({
        repository: e.repo,
        digest: e.digest,
        mediaType: e.mediaType,
        tags: e.tags,
        signed: sig.signed,
        signedBy: sig.by ?? null,
        scan: scan ? scanInfo(scan) : null,
        pullable: v.pullable,
        reason: v.reason,
      });
    }
    return out;
  }

  async dbInfo(): Promise<ScanDbInfo> {
    return dbInfoAt(this.#d.dir);
  }

  /** Imports OSV records (registry admins only). */
  async importDb(
    source: { zip: string } | { dir: string } | { tar: AsyncIterable<Uint8Array> },
  ): Promise<ScanDbImportResponse> {
    if (!this.#p.admin) throw new ForbiddenError('only a registry administrator may import the vulnerability database');
    return importDbAt(this.#d.dir, source);
  }
}

/** The vulnerability database's size and age. */
export async function dbInfoAt(dir: string): Promise<ScanDbInfo> {
  const t = await import('../../trust/index.ts');
  const db = new t.VulnDb(join(dir, 'osv.db'));
  try {
    return t.scanDbInfo(db.info());
  } finally {
    db.close();
  }
}

/** Imports OSV records into `<dir>/osv.db` from a ZIP, a directory of `*.json` or a tar stream of them. */
export async function importDbAt(
  dir: string,
  source: { zip: string } | { dir: string } | { tar: AsyncIterable<Uint8Array> },
): Promise<ScanDbImportResponse> {
  const t = await import('../../trust/index.ts');
  const files =
    'zip' in source
      ? t.filesFromZip(source.zip)
      : 'dir' in source
        ? t.filesFromDir(source.dir)
        : t.filesFromTar(source.tar);
  const db = new t.VulnDb(join(dir, 'osv.db'));
  let res: Awaited<ReturnType<typeof db.import>>;
  try {
    res = await db.import(files);
  } finally {
    db.close();
  }
  return { ...(await dbInfoAt(dir)), imported: res.imported, skipped: res.skipped, errors: res.errors };
}
