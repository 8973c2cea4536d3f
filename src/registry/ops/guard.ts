import type { Digest } from '../../util/digest.ts';
import { RegistryError } from '../errors.ts';
import type { SqlDb, SqlQueries } from '../meta/sql.ts';
import type { StoreGuard } from '../meta/store.ts';
import { Glob } from './glob.ts';
import { type ProjectRow, projectOfRepo, projectRepoIds, projectUsage } from './projects.ts';

/** `1.5 MiB (1572864 bytes)`. */
export function bytesText(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]} (${n} bytes)`;
}

/** What a refused push reports to listeners (the `quota` webhook). */
export interface QuotaRefusal {
  repo: string;
  digest: Digest;
  project: string;
  limit: number;
  usage: number;
  size: number;
}

/**
 * An immutable tag rule: `GLOB` matches tags in every repository of the project; `REPO:TAG` matches tags `TAG` in
 * repositories whose name inside the project (without `project/`) matches `REPO`.
 */
export function immutableMatch(rule: string, project: string, repo: string, tag: string): boolean {
  const i = rule.lastIndexOf(':');
  if (i < 0) return new Glob(rule).matches(tag);
  const inner = repo === project ? '' : repo.slice(project.length + 1);
  return new Glob(rule.slice(0, i)).matches(inner) && new Glob(rule.slice(i + 1)).matches(tag);
}

/**
 * The checks of quotas and immutable tags, made inside the store's transactions. Quotas: bytes per project, a
 * blob counted once however many of the project's repositories link it; a link that would go past the limit is
 * DENIED naming the limit and the usage. Immutable tags: a push that would move a tag matching a rule, or a
 * delete that would remove it, is DENIED naming the tag and the rule.
 */
export class OpsGuard implements StoreGuard {
  readonly #db: SqlDb;
  readonly #onQuota: (r: QuotaRefusal) => void;

  constructor(db: SqlDb, onQuota: (r: QuotaRefusal) => void = () => {}) {
    this.#db = db;
    this.#onQuota = onQuota;
  }

  async #checkQuota(q: SqlQueries, project: ProjectRow, repo: string, digest: Digest, size: number): Promise<void> {
    if (project.quota === null) return;
    const ids = await projectRepoIds(q, project.name);
    if (ids.length > 0) {
      const linked = await q.get(
        `SELECT 1 AS x FROM repo_blobs WHERE digest = ? AND repo_id IN (${ids.map(() => '?').join(', ')}) LIMIT 1`,
        [digest, ...ids],
      );
      if (linked) return;
    }
    const usage = await projectUsage(q, project.name);
    if (usage + size <= project.quota) return;
    this.#onQuota({ repo, digest, project: project.name, limit: project.quota, usage, size });
    throw new RegistryError(
      'DENIED',
      `quota exceeded: project "${project.name}" may hold ${bytesText(project.quota)} and holds ${bytesText(usage)}; ` +
        `blob ${digest} of ${bytesText(size)} would take it past the limit`,
      { detail: { project: project.name, limit: project.quota, usage, size } },
    );
  }

  async beforeUpload(repo: string, digest: Digest, size: number): Promise<void> {
    const project = await projectOfRepo(this.#db, repo);
    if (project && project.quota !== null) await this.#checkQuota(this.#db, project, repo, digest, size);
  }

  async link(q: SqlQueries, repo: string, digest: Digest, size: number): Promise<void> {
    const project = await projectOfRepo(q, repo);
    if (!project || project.quota === null) return;
    // Pushes into one project take turns here (PostgreSQL; SQLite has one writer anyway).
    await q.get(`SELECT id FROM projects WHERE id = ?${this.#db.dialect.forUpdate}`, [project.id]);
    await this.#checkQuota(q, project, repo, digest, size);
  }

  async #rules(q: SqlQueries, repo: string): Promise<{ project: ProjectRow; patterns: string[] } | undefined> {
    const project = await projectOfRepo(q, repo);
    if (!project) return undefined;
    const rows = await q.all<{ pattern: string }>('SELECT pattern FROM immutable_rules WHERE project_id = ?', [
      project.id,
    ]);
    return rows.length > 0 ? { project, patterns: rows.map((r) => r.pattern) } : undefined;
  }

  async tag(q: SqlQueries, repo: string, repoId: number, tags: string[], digest: Digest): Promise<void> {
    const rules = await this.#rules(q, repo);
    if (!rules) return;
    for (const tag of tags) {
      const rule = rules.patterns.find((p) => immutableMatch(p, rules.project.name, repo, tag));
      if (rule === undefined) continue;
      const cur = await q.get<{ digest: string }>('SELECT digest FROM tags WHERE repo_id = ? AND name = ?', [
        repoId,
        tag,
      ]);
      if (cur && cur.digest !== digest)
        throw new RegistryError(
          'DENIED',
          `tag ${repo}:${tag} is immutable (rule "${rule}" of project "${rules.project.name}"): it points at ` +
            `${cur.digest} and may not be moved to ${digest}`,
          { detail: { tag, rule } },
        );
    }
  }

  async untag(q: SqlQueries, repo: string, _repoId: number, tags: string[]): Promise<void> {
    const rules = await this.#rules(q, repo);
    if (!rules) return;
    for (const tag of tags) {
      const rule = rules.patterns.find((p) => immutableMatch(p, rules.project.name, repo, tag));
      if (rule !== undefined)
        throw new RegistryError(
          'DENIED',
          `tag ${repo}:${tag} is immutable (rule "${rule}" of project "${rules.project.name}") and may not be deleted`,
          { detail: { tag, rule } },
        );
    }
  }
}
