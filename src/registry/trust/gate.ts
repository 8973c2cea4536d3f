/**
 * The trust policies on the distribution API's hot paths: a manifest PUT (signatures required at push) and a
 * manifest GET (signatures required at pull; no pulls of images with vulnerabilities at or above a severity).
 * HEAD is never refused: it gives a digest and no content, and signing needs the digest of what it signs. Only
 * images and indexes are subject to the policies (see kinds.ts); signatures, reports and other artifacts are not.
 *
 * Projects without a policy cost one cached lookup. Policies and keys are re-read at most every second (another
 * process may change them); signature checks are remembered until a signature is added or the keys change.
 */
import type { Severity } from '../../trust/index.ts';
import type { Digest } from '../../util/digest.ts';
import type { Policy } from '../auth/policy.ts';
import { RegistryError } from '../errors.ts';
import type { ManifestRecord, NewManifest } from '../meta/store.ts';
import type { ManifestGuard, Registry } from '../service.ts';
import { type Classified, classify } from './kinds.ts';
import { NO_POLICY, SEVERITY_ORDER, type ScanRecord, type TrustPolicy, type TrustStore } from './store.ts';
import { checkSignatures, type KeySet, keySet, type SignatureCheck, signatureState } from './verify.ts';

const TTL_MS = 1000;
const MAX_CACHED = 10_000;

/** Queues scans (the scanner, or nothing where scanning is not wired). */
export interface ScanQueue {
  enqueue(repo: string, digest: Digest, opts?: { again?: boolean }): Promise<void>;
}

/** Why a manifest may or may not be pulled now. */
export interface Verdict {
  pullable: boolean;
  reason: string;
}

const denied = (message: string) => new RegistryError('DENIED', message);

/** Counts of vulnerabilities at or above `s`, most severe first: [[CRITICAL, 2], [HIGH, 1]]. */
export function countsAtOrAbove(counts: Record<Severity, number>, s: Severity): [Severity, number][] {
  return SEVERITY_ORDER.slice(SEVERITY_ORDER.indexOf(s))
    .reverse()
    .map((x): [Severity, number] => [x, counts[x] ?? 0])
    .filter(([, n]) => n > 0);
}

export class TrustGate implements ManifestGuard {
  readonly #reg: Registry;
  readonly #auth: Policy;
  readonly #trust: TrustStore;
  #queue: ScanQueue | undefined;
  #policies: { at: number; map: Map<string, TrustPolicy> } | undefined;
  readonly #keys = new Map<string, { at: number; set: Promise<KeySet> }>();
  readonly #checks = new Map<string, { state: string; keys: string; check: SignatureCheck }>();

  constructor(deps: { registry: Registry; auth: Policy; trust: TrustStore }) {
    this.#reg = deps.registry;
    this.#auth = deps.auth;
    this.#trust = deps.trust;
  }

  set queue(q: ScanQueue) {
    this.#queue = q;
  }

  /** Forgets cached policies and keys (after a change in this process). */
  invalidate(): void {
    this.#policies = undefined;
    this.#keys.clear();
  }

  /** The project a repository is in and its policy, or undefined outside projects. */
  async policyOf(repo: string): Promise<{ project: string; policy: TrustPolicy } | undefined> {
    const project = await this.#auth.projectOf(repo);
    if (!project) return undefined;
    const now = Date.now();
    if (!this.#policies || now - this.#policies.at > TTL_MS)
      this.#policies = { at: now, map: await this.#trust.policies() };
    return { project: project.name, policy: this.#policies.map.get(project.name) ?? NO_POLICY };
  }

  #keySet(project: string): Promise<KeySet> {
    const now = Date.now();
    let c = this.#keys.get(project);
    if (!c || now - c.at > TTL_MS) {
      const set = (async () => keySet(await import('../../trust/index.ts'), await this.#trust.keys(project)))();
      set.catch(() => this.#keys.delete(project));
      c = { at: now, set };
      this.#keys.set(project, c);
    }
    return c.set;
  }

  /** Whether `repo@digest` carries a signature the project's keys verify (remembered while nothing changes). */
  async signature(project: string, repo: string, digest: Digest): Promise<SignatureCheck> {
    const repoId = await this.#reg.store.repoId(repo);
    if (repoId === undefined) return { signed: false, rejected: [], found: 0 };
    const keys = await this.#keySet(project);
    const state = await signatureState(this.#reg, this.#trust, repo, repoId, digest);
    const k = `${repo}@${digest}`;
    const c = this.#checks.get(k);
    if (c && c.state === state.fingerprint && c.keys === keys.version) return c.check;
    const check = await checkSignatures(this.#reg, state, keys, repo, digest);
    if (this.#checks.size > MAX_CACHED) this.#checks.clear();
    this.#checks.set(k, { state: state.fingerprint, keys: keys.version, check });
    return check;
  }

  /** Signed itself, or a child of a signed index in the same repository (an index is signed as a whole). */
  async #signedOrParent(project: string, repo: string, digest: Digest): Promise<SignatureCheck> {
    const own = await this.signature(project, repo, digest);
    if (own.signed) return own;
    const parents = await this.#reg.store.db.all<{ parent: Digest }>(
      `SELECT f.parent FROM manifest_refs f JOIN repositories r ON r.id = f.repo_id
       WHERE r.name = ? AND f.child = ? AND f.kind = 1`,
      [repo, digest],
    );
    for (const p of parents) {
      const c = await this.signature(project, repo, p.parent);
      if (c.signed) return { ...c, where: `index ${p.parent} (${c.where})` };
    }
    return own;
  }

  async beforePut(repo: string, m: NewManifest, tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const p = await this.policyOf(repo);
    if (p?.policy.requireSignatures !== 'push') return;
    if (classify(m.mediaType, m.content).kind === 'artifact') return;
    const check = await this.signature(p.project, repo, m.digest);
    if (check.signed) return;
    throw denied(
      `project "${p.project}" requires images to be signed before they are tagged: ${repo}@${m.digest} has ${unsignedWhy(check)}; push it by digest, sign it, then push the tag ${tags[0]}`,
    );
  }

  async beforePull(repo: string, m: ManifestRecord): Promise<void> {
    const v = await this.verdict(repo, m);
    if (!v.pullable) throw denied(v.reason);
  }

  /** Whether `m` may be pulled from `repo` now, and why not. */
  async verdict(repo: string, m: ManifestRecord, classified?: Classified): Promise<Verdict> {
    const p = await this.policyOf(repo);
    if (!p) return { pullable: true, reason: 'not in a project' };
    const { requireSignatures, preventSeverity } = p.policy;
    if (requireSignatures === 'off' && preventSeverity === null) return { pullable: true, reason: 'no policy' };
    const c = classified ?? classify(m.mediaType, m.content);
    if (c.kind === 'artifact') return { pullable: true, reason: 'an artifact' };
    const name = `${repo}@${m.digest}`;
    if (requireSignatures !== 'off') {
      const check = await this.#signedOrParent(p.project, repo, m.digest);
      if (!check.signed)
        return {
          pullable: false,
          reason: `${name} is not signed by a key project "${p.project}" trusts, and the project requires signatures to pull: it has ${unsignedWhy(check)}`,
        };
    }
    if (preventSeverity !== null) {
      const images = c.kind === 'index' ? await this.#imageChildren(repo, c.children) : [m.digest];
      const why = await this.#vulnerable(repo, images, preventSeverity);
      if (why)
        return {
          pullable: false,
          reason: `${name} ${why}; project "${p.project}" prevents pulls of images with vulnerabilities at or above ${preventSeverity}`,
        };
    }
    return { pullable: true, reason: 'the policy is met' };
  }

  async #imageChildren(repo: string, children: Digest[]): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const d of children) {
      const child = await this.#reg.store.manifestByDigest(repo, d);
      if (child && classify(child.mediaType, child.content).kind === 'image') out.push(d);
    }
    return out;
  }

  /** Why the images cannot be pulled under `severity` (not scanned, pending, failed, vulnerable), or undefined. */
  async #vulnerable(repo: string, digests: Digest[], severity: Severity): Promise<string | undefined> {
    const repoId = await this.#reg.store.repoId(repo);
    if (repoId === undefined) return undefined;
    const found: [Severity, number][] = [];
    for (const d of digests) {
      const s: ScanRecord | undefined = await this.#trust.scan(repoId, d);
      const which = digests.length > 1 ? ` (${d})` : '';
      if (!s) {
        await this.#queue?.enqueue(repo, d);
        return `has not been scanned for vulnerabilities yet${which}; a scan is queued, pull again when it is done`;
      }
      if (s.status === 'queued' || s.status === 'running')
        return `cannot be pulled until its vulnerability scan is done${which} (the scan is ${s.status})`;
      if (s.status === 'error')
        return `could not be scanned for vulnerabilities${which}: ${s.error ?? 'unknown error'}`;
      for (const [sev, n] of countsAtOrAbove(s.counts ?? ({} as Record<Severity, number>), severity)) {
        const at = found.find((f) => f[0] === sev);
        if (at) at[1] += n;
        else found.push([sev, n]);
      }
    }
    if (found.length === 0) return undefined;
    found.sort((a, b) => SEVERITY_ORDER.indexOf(b[0]) - SEVERITY_ORDER.indexOf(a[0]));
    const total = found.reduce((n, [, k]) => n + k, 0);
    return `has ${total} ${total === 1 ? 'vulnerability' : 'vulnerabilities'} at or above ${severity} (${found
      .map(([s, n]) => `${n} ${s}`)
      .join(', ')})`;
  }
}

function unsignedWhy(c: SignatureCheck): string {
  if (c.found === 0 && c.rejected.length === 0) return 'no signature';
  return `no valid signature (${c.rejected.join('; ')})`;
}
