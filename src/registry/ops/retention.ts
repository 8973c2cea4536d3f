import type { Digest } from '../../util/digest.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { Registry } from '../service.ts';
import type { RetentionReport, RetentionRuleInfo, RetentionRuleInput } from './api.ts';
import { parseCron } from './cron.ts';
import { immutableMatch } from './guard.ts';
import { Glob, checkGlob } from './glob.ts';
import { projectNamed, projectRepoIds } from './projects.ts';

const DAY_MS = 86_400_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

interface RuleRow {
  id: number;
  keep_last: number;
  keep_pulled_days: number | null;
  match_pattern: string | null;
  schedule: string | null;
  next_run_at: number | null;
  created_at: number;
}

function toInfo(project: string, r: RuleRow): RetentionRuleInfo {
  return {
    id: Number(r.id),
    project,
    keepLast: Number(r.keep_last),
    keepPulledDays: r.keep_pulled_days === null ? null : Number(r.keep_pulled_days),
    match: r.match_pattern,
    schedule: r.schedule,
    nextRunAt: iso(r.next_run_at),
    createdAt: iso(r.created_at)!,
  };
}

/** A rule keeps nothing when it keeps no recent tag, no pulled tag and no matching tag. */
function keepsNothing(r: RetentionRuleInput): boolean {
  return r.keepLast === 0 && !r.keepPulledDays && !r.match;
}

/**
 * Tag retention: per project, rules that keep the N most recently pushed tags of each repository, the tags pulled
 * within D days, and the tags matching a pattern (a tag any rule keeps is kept; immutable tags always are); the
 * other tags are deleted, with the manifests left without a tag (their blobs go at the next garbage collection).
 * A run that would leave a repository with no tag at all is refused unless forced.
 */
export class Retention {
  readonly #db: SqlDb;
  readonly #reg: Registry;

  constructor(db: SqlDb, registry: Registry) {
    this.#db = db;
    this.#reg = registry;
  }

  async #project(name: string) {
    const p = await projectNamed(this.#db, name);
    if (!p) throw new NotFoundError(`no project "${name}"`);
    return p;
  }

  async rules(project: string): Promise<RetentionRuleInfo[]> {
    const p = await this.#project(project);
    const rows = await this.#db.all<RuleRow>(
      `SELECT id, keep_last, keep_pulled_days, match_pattern, schedule, next_run_at, created_at FROM retention_rules
       WHERE project_id = ? ORDER BY id`,
      [p.id],
    );
    return rows.map((r) => toInfo(project, r));
  }

  async add(project: string, rule: RetentionRuleInput, force = false): Promise<RetentionRuleInfo> {
    if (!Number.isSafeInteger(rule.keepLast) || rule.keepLast < 0)
      throw new InvalidArgumentError(`invalid --keep-last ${rule.keepLast}: a number of tags, 0 or more`);
    if (
      rule.keepPulledDays !== undefined &&
      rule.keepPulledDays !== null &&
      !(Number.isSafeInteger(rule.keepPulledDays) && rule.keepPulledDays > 0)
    )
      throw new InvalidArgumentError(`invalid --keep-pulled ${rule.keepPulledDays}: a number of days, 1 or more`);
    if (rule.match) checkGlob(rule.match, 'tag pattern');
    const schedule = rule.schedule ? parseCron(rule.schedule) : undefined;
    if (keepsNothing(rule) && !force)
      throw new FailedPreconditionError(
        `a rule that keeps no tag would delete every tag of project "${project}"; give --force to mean it`,
      );
    const p = await this.#project(project);
    const row = await this.#db.tx((q) =>
      q.get<{ id: number }>(
        `INSERT INTO retention_rules (project_id, keep_last, keep_pulled_days, match_pattern, schedule, next_run_at,
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [
          p.id,
          rule.keepLast,
          rule.keepPulledDays ?? null,
          rule.match ?? null,
          schedule?.text ?? null,
          schedule ? schedule.next(Date.now()) : null,
          Date.now(),
        ],
      ),
    );
    return (await this.rules(project)).find((r) => r.id === Number(row!.id))!;
  }

  async remove(project: string, id: number): Promise<void> {
    const p = await this.#project(project);
    const r = await this.#db.run('DELETE FROM retention_rules WHERE id = ? AND project_id = ?', [id, p.id]);
    if (r.changes === 0) throw new NotFoundError(`project "${project}" has no retention rule ${id}`);
  }

  /** Applies the project's rules (or says what they would do, with dryRun). */
  async run(
    project: string,
    opts: { dryRun?: boolean; force?: boolean; actor?: string } = {},
  ): Promise<RetentionReport> {
    const p = await this.#project(project);
    const rules = await this.rules(project);
    if (rules.length === 0) throw new FailedPreconditionError(`project "${project}" has no retention rule`);
    const immutable = (
      await this.#db.all<{ pattern: string }>('SELECT pattern FROM immutable_rules WHERE project_id = ?', [p.id])
    ).map((r) => r.pattern);
    const report: RetentionReport = { project, dryRun: opts.dryRun === true, deleted: [], kept: [], manifests: 0 };
    const now = Date.now();
    const emptied: string[] = [];
    const ids = await projectRepoIds(this.#db, project);
    const plan: { repo: string; tags: { name: string; digest: string }[] }[] = [];
    for (const repoId of ids) {
      const tags = await this.#db.all<{
        name: string;
        digest: string;
        updated_at: number;
        pulled_at: number | null;
        repo: string;
      }>(
        `SELECT t.name, t.digest, t.updated_at, t.pulled_at, r.name AS repo FROM tags t
         JOIN repositories r ON r.id = t.repo_id WHERE t.repo_id = ? ORDER BY t.updated_at DESC, t.name`,
        [repoId],
      );
      if (tags.length === 0) continue;
      const repo = tags[0]!.repo;
      const why = new Map<string, string>();
      for (const t of tags)
        if (immutable.some((rule) => immutableMatch(rule, project, repo, t.name))) why.set(t.name, 'immutable');
      for (const r of rules) {
        for (const t of tags.slice(0, r.keepLast))
          if (!why.has(t.name)) why.set(t.name, `among the last ${r.keepLast}`);
        if (r.keepPulledDays !== null)
          for (const t of tags)
            if (t.pulled_at !== null && Number(t.pulled_at) >= now - r.keepPulledDays * DAY_MS && !why.has(t.name))
              why.set(t.name, `pulled within ${r.keepPulledDays} days`);
        if (r.match !== null) {
          const g = new Glob(r.match);
          for (const t of tags) if (g.matches(t.name) && !why.has(t.name)) why.set(t.name, `matches ${r.match}`);
        }
      }
      const doomed = tags.filter((t) => !why.has(t.name));
      for (const [tag, reason] of why) report.kept.push({ repo, tag, why: reason });
      if (doomed.length === 0) continue;
      if (doomed.length === tags.length) emptied.push(repo);
      plan.push({ repo, tags: doomed });
      for (const t of doomed) report.deleted.push({ repo, tag: t.name, digest: t.digest });
    }
    if (emptied.length > 0 && !opts.force && !opts.dryRun)
      throw new FailedPreconditionError(
        `retention would delete every tag of ${emptied.join(', ')}; give --force to mean it (--dry-run lists them)`,
      );
    if (opts.dryRun) return report;
    const actor = opts.actor ?? 'retention';
    for (const { repo, tags } of plan) {
      for (const t of tags) {
        await this.#reg.store.deleteTag(repo, t.name);
        this.#reg.emit({ action: 'delete', repo, digest: t.digest as Digest, tag: t.name, actor });
      }
      for (const digest of new Set(tags.map((t) => t.digest))) {
        if (await this.#untagged(repo, digest)) {
          await this.#reg.store.deleteManifest(repo, digest as Digest);
          report.manifests++;
        }
      }
    }
    return report;
  }

  /** Whether a manifest has no tag left and no index of its repository lists it. */
  async #untagged(repo: string, digest: string): Promise<boolean> {
    const row = await this.#db.get(
      `SELECT 1 AS x FROM repositories r WHERE r.name = ? AND (
         EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = r.id AND t.digest = ?)
         OR EXISTS (SELECT 1 FROM manifest_refs m WHERE m.repo_id = r.id AND m.child = ? AND m.kind = 1))`,
      [repo, digest, digest],
    );
    return row === undefined;
  }

  /** Claims the rules whose schedule is due (moving them to their next time); the projects to run. */
  async due(): Promise<string[]> {
    const now = Date.now();
    const rows = await this.#db.all<{ id: number; schedule: string; project: string }>(
      `SELECT r.id, r.schedule, p.name AS project FROM retention_rules r JOIN projects p ON p.id = r.project_id
       WHERE r.next_run_at IS NOT NULL AND r.next_run_at <= ?`,
      [now],
    );
    const out = new Set<string>();
    for (const r of rows) {
      const next = parseCron(r.schedule).next(now);
      const claimed = await this.#db.run(
        'UPDATE retention_rules SET next_run_at = ? WHERE id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?',
        [next, r.id, now],
      );
      if (claimed.changes > 0) out.add(r.project);
    }
    return [...out];
  }
}
