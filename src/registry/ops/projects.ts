import type { SqlQueries } from '../meta/sql.ts';

/** A project as the operations see it: its quota and, for a proxy project, its upstream. */
export interface ProjectRow {
  id: number;
  name: string;
  quota: number | null;
}

/** Every project name a repository could belong to, longest first (`a/b/c`, `a/b`, `a`). */
export function projectCandidates(repo: string): string[] {
  const out: string[] = [];
  for (let i = repo.length; i > 0; i = repo.lastIndexOf('/', i - 1)) out.push(repo.slice(0, i));
  return out;
}

/** The project `repo` belongs to (the longest project name equal to it or a prefix of it at a `/`). */
export async function projectOfRepo(q: SqlQueries, repo: string): Promise<ProjectRow | undefined> {
  const names = projectCandidates(repo);
  const r = await q.get<{ id: number; name: string; quota_bytes: number | null }>(
    `SELECT id, name, quota_bytes FROM projects WHERE name IN (${names.map(() => '?').join(', ')})
     ORDER BY length(name) DESC LIMIT 1`,
    names,
  );
  return r && { id: Number(r.id), name: r.name, quota: r.quota_bytes === null ? null : Number(r.quota_bytes) };
}

/** The project named `name`, or undefined. */
export async function projectNamed(q: SqlQueries, name: string): Promise<ProjectRow | undefined> {
  const r = await q.get<{ id: number; name: string; quota_bytes: number | null }>(
    'SELECT id, name, quota_bytes FROM projects WHERE name = ?',
    [name],
  );
  return r && { id: Number(r.id), name: r.name, quota: r.quota_bytes === null ? null : Number(r.quota_bytes) };
}

/** IDs of the repositories of a project: under its name, and not under a longer project's. */
export async function projectRepoIds(q: SqlQueries, project: string): Promise<number[]> {
  const prefix = `${project}/`;
  const repos = await q.all<{ id: number; name: string }>(
    'SELECT id, name FROM repositories WHERE name = ? OR substr(name, 1, ?) = ?',
    [project, prefix.length, prefix],
  );
  const inner = (
    await q.all<{ name: string }>('SELECT name FROM projects WHERE substr(name, 1, ?) = ?', [prefix.length, prefix])
  ).map((p) => p.name);
  return repos.filter((r) => !inner.some((p) => r.name === p || r.name.startsWith(`${p}/`))).map((r) => Number(r.id));
}

/**
 * Bytes a project holds: each blob linked to one of its repositories counted once however many repositories
 * link it, plus each manifest once. A query over the links, so what garbage collection unlinks stops counting.
 */
export async function projectUsage(q: SqlQueries, project: string): Promise<number> {
  const ids = await projectRepoIds(q, project);
  if (ids.length === 0) return 0;
  const sizes = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const batch = ids.slice(i, i + 500);
    const marks = batch.map(() => '?').join(', ');
    const rows = await q.all<{ digest: string; size: number }>(
      `SELECT DISTINCT b.digest, b.size FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
       WHERE l.repo_id IN (${marks}) AND b.state = 'live'
       UNION SELECT DISTINCT digest, size FROM manifests WHERE repo_id IN (${marks})`,
      [...batch, ...batch],
    );
    for (const r of rows) sizes.set(r.digest, Number(r.size));
  }
  let total = 0;
  for (const n of sizes.values()) total += n;
  return total;
}
