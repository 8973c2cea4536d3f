import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { ExecutionInfo, ExecutionItem, ReplicationRuleInfo, ReplicationRuleInput } from '../ops/api.ts';
import { parseCron } from '../ops/cron.ts';
import { checkGlob } from '../ops/glob.ts';
import { checkRemoteUrl } from '../ops/settings.ts';
import { isRepositoryName } from '../names.ts';

/** A rule as the executor reads it, credentials included. */
export interface Rule {
  id: number;
  name: string;
  direction: 'push' | 'pull';
  remote: {
    url: string;
    username: string | null;
    password: string | null;
    ca: string | null;
    insecure: boolean;
    timeoutMs: number | null;
  };
  repo: string;
  tag: string | null;
  label: string | null;
  trigger: 'manual' | 'push' | 'cron';
  schedule: string | null;
  deletes: boolean;
  destPrefix: string | null;
  nextRunAt: number | null;
  createdAt: number;
}

/**
 * What one execution covers: everything the rule selects, or the tags named (an on-push trigger). `prune` (a
 * manifest deleted by digest, its tags unknown by then) deletes at the destination the repository's tags the source
 * no longer has.
 */
export interface Scope {
  items: { repo: string; tag: string; op: 'copy' | 'delete' | 'prune' }[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

interface RuleRow {
  id: number;
  name: string;
  direction: string;
  remote_url: string;
  remote_username: string | null;
  remote_password: string | null;
  remote_ca: string | null;
  remote_insecure: number;
  timeout_ms: number | null;
  repo_pattern: string;
  tag_pattern: string | null;
  label: string | null;
  trigger_kind: string;
  schedule: string | null;
  deletes: number;
  dest_prefix: string | null;
  next_run_at: number | null;
  created_at: number;
}

function toRule(r: RuleRow): Rule {
  return {
    id: Number(r.id),
    name: r.name,
    direction: r.direction === 'pull' ? 'pull' : 'push',
    remote: {
      url: r.remote_url,
      username: r.remote_username,
      password: r.remote_password,
      ca: r.remote_ca,
      insecure: Number(r.remote_insecure) === 1,
      timeoutMs: r.timeout_ms === null ? null : Number(r.timeout_ms),
    },
    repo: r.repo_pattern,
    tag: r.tag_pattern,
    label: r.label,
    trigger: r.trigger_kind as Rule['trigger'],
    schedule: r.schedule,
    deletes: Number(r.deletes) === 1,
    destPrefix: r.dest_prefix,
    nextRunAt: r.next_run_at === null ? null : Number(r.next_run_at),
    createdAt: Number(r.created_at),
  };
}

interface ExecRow {
  id: number;
  rule: string;
  trigger_kind: string;
  state: string;
  started_at: number;
  ended_at: number | null;
  copied: number;
  skipped: number;
  failed: number;
  deleted: number;
  bytes: number;
  error: string | null;
}

const EXEC_COLS = `e.id, r.name AS rule, e.trigger_kind, e.state, e.started_at, e.ended_at, e.copied, e.skipped,
  e.failed, e.deleted, e.bytes, e.error`;

function toExecution(r: ExecRow): ExecutionInfo {
  return {
    id: Number(r.id),
    rule: r.rule,
    trigger: r.trigger_kind,
    state: r.state as ExecutionInfo['state'],
    startedAt: iso(r.started_at)!,
    endedAt: iso(r.ended_at),
    copied: Number(r.copied),
    skipped: Number(r.skipped),
    failed: Number(r.failed),
    deleted: Number(r.deleted),
    bytes: Number(r.bytes),
    error: r.error,
  };
}

export function ruleInfo(r: Rule, last: ExecutionInfo | null): ReplicationRuleInfo {
  return {
    name: r.name,
    direction: r.direction,
    remote: {
      url: r.remote.url,
      username: r.remote.username,
      insecure: r.remote.insecure,
      ca: r.remote.ca !== null,
      timeoutMs: r.remote.timeoutMs,
    },
    repo: r.repo,
    tag: r.tag,
    label: r.label,
    trigger: r.trigger === 'cron' ? `cron:${r.schedule}` : r.trigger,
    deletes: r.deletes,
    destPrefix: r.destPrefix,
    nextRunAt: iso(r.nextRunAt),
    createdAt: iso(r.createdAt)!,
    last,
  };
}

/** `manual`, `push` or `cron:EXPR`, checked (a cron expression that does not parse is refused, quoted). */
export function parseTrigger(t: string): { kind: Rule['trigger']; schedule: string | null } {
  if (t === 'manual' || t === 'push') return { kind: t, schedule: null };
  if (t.startsWith('cron:')) return { kind: 'cron', schedule: parseCron(t.slice(5)).text };
  throw new InvalidArgumentError(`invalid trigger "${t}": manual, push or cron:EXPR`);
}

/** Replication rules, executions, their items and the uploads a transfer may resume, in the metadata. */
export class RuleStore {
  readonly #db: SqlDb;
  constructor(db: SqlDb) {
    this.#db = db;
  }

  async rules(): Promise<Rule[]> {
    return (await this.#db.all<RuleRow>('SELECT * FROM replication_rules ORDER BY name')).map(toRule);
  }

  async rule(name: string): Promise<Rule> {
    const r = await this.#db.get<RuleRow>('SELECT * FROM replication_rules WHERE name = ?', [name]);
    if (!r) throw new NotFoundError(`no replication rule "${name}"`);
    return toRule(r);
  }

  async ruleById(id: number): Promise<Rule | undefined> {
    const r = await this.#db.get<RuleRow>('SELECT * FROM replication_rules WHERE id = ?', [id]);
    return r && toRule(r);
  }

  async add(input: ReplicationRuleInput): Promise<Rule> {
    if (!NAME_RE.test(input.name))
      throw new InvalidArgumentError(`invalid rule name "${input.name}": letters, digits, ".", "_" and "-"`);
    if (input.direction !== 'push' && input.direction !== 'pull')
      throw new InvalidArgumentError(`invalid direction "${input.direction}": push or pull`);
    const url = checkRemoteUrl(input.remote.url, 'remote');
    checkGlob(input.repo, 'repository pattern');
    if (input.tag) checkGlob(input.tag, 'tag pattern');
    if (input.destPrefix && !isRepositoryName(input.destPrefix))
      throw new InvalidArgumentError(`invalid destination prefix "${input.destPrefix}": a repository name prefix`);
    if (input.label !== undefined && input.label !== null && !/^[^=\s]+(=.*)?$/.test(input.label))
      throw new InvalidArgumentError(`invalid label "${input.label}": KEY or KEY=VALUE`);
    const trigger = parseTrigger(input.trigger);
    if (trigger.kind === 'push' && input.direction === 'pull')
      throw new InvalidArgumentError('the push trigger is for push rules (a pull rule runs by hand or on a schedule)');
    const t = input.remote.timeoutMs;
    if (t !== undefined && !(Number.isSafeInteger(t) && t > 0))
      throw new InvalidArgumentError(`invalid timeout ${t}: a number of milliseconds`);
    const next = trigger.schedule ? parseCron(trigger.schedule).next(Date.now()) : null;
    await this.#db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM replication_rules WHERE name = ?', [input.name]))
        throw new AlreadyExistsError(`replication rule "${input.name}" already exists`);
      await q.run(
        `INSERT INTO replication_rules (name, direction, remote_url, remote_username, remote_password, remote_ca,
         remote_insecure, timeout_ms, repo_pattern, tag_pattern, label, trigger_kind, schedule, deletes, dest_prefix,
         next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          input.name,
          input.direction,
          url,
          input.remote.username ?? null,
          input.remote.password ?? null,
          input.remote.ca ?? null,
          input.remote.insecure ? 1 : 0,
          t ?? null,
          input.repo,
          input.tag ?? null,
          input.label ?? null,
          trigger.kind,
          trigger.schedule,
          input.deletes ? 1 : 0,
          input.destPrefix ?? null,
          next,
          Date.now(),
        ],
      );
    });
    return this.rule(input.name);
  }

  async remove(name: string): Promise<void> {
    const r = await this.#db.run('DELETE FROM replication_rules WHERE name = ?', [name]);
    if (r.changes === 0) throw new NotFoundError(`no replication rule "${name}"`);
  }

  /** Claims the cron rules that are due (moving them to their next time). */
  async due(now: number): Promise<Rule[]> {
    const rows = await this.#db.all<RuleRow>(
      'SELECT * FROM replication_rules WHERE next_run_at IS NOT NULL AND next_run_at <= ?',
      [now],
    );
    const out: Rule[] = [];
    for (const row of rows) {
      const r = toRule(row);
      const next = parseCron(r.schedule!).next(now);
      const claimed = await this.#db.run(
        'UPDATE replication_rules SET next_run_at = ? WHERE id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?',
        [next, r.id, now],
      );
      if (claimed.changes > 0) out.push(r);
    }
    return out;
  }

  // Executions

  async start(rule: Rule, trigger: string, scope: Scope | null): Promise<number> {
    const t = Date.now();
    const row = await this.#db.tx((q) =>
      q.get<{ id: number }>(
        `INSERT INTO replication_executions (rule_id, trigger_kind, scope, state, started_at, heartbeat_at)
         VALUES (?, ?, ?, 'running', ?, ?) RETURNING id`,
        [rule.id, trigger, scope ? JSON.stringify(scope) : null, t, t],
      ),
    );
    return Number(row!.id);
  }

  async heartbeat(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.run(
      `UPDATE replication_executions SET heartbeat_at = ? WHERE state = 'running' AND id IN (${ids.map(() => '?').join(', ')})`,
      [Date.now(), ...ids],
    );
  }

  /**
   * Takes over executions left running by a process that stopped beating (a crash, a kill): their heartbeat is
   * moved to now in the same statement, so only one process adopts each.
   */
  async adopt(staleMs: number): Promise<{ id: number; ruleId: number; trigger: string; scope: Scope | null }[]> {
    const now = Date.now();
    const rows = await this.#db.tx((q) =>
      q.all<{ id: number; rule_id: number; trigger_kind: string; scope: string | null }>(
        `UPDATE replication_executions SET heartbeat_at = ? WHERE state = 'running' AND heartbeat_at < ?
         RETURNING id, rule_id, trigger_kind, scope`,
        [now, now - staleMs],
      ),
    );
    return rows.map((r) => ({
      id: Number(r.id),
      ruleId: Number(r.rule_id),
      trigger: r.trigger_kind,
      scope: r.scope ? (JSON.parse(r.scope) as Scope) : null,
    }));
  }

  /** Lets another process (or this one, restarted) take these executions over at once. */
  async release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.run(
      `UPDATE replication_executions SET heartbeat_at = 0 WHERE state = 'running' AND id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
  }

  async item(executionId: number, item: Omit<ExecutionItem, 'at'>): Promise<void> {
    const col = { copied: 'copied', skipped: 'skipped', failed: 'failed', deleted: 'deleted' }[item.state];
    await this.#db.tx(async (q) => {
      await q.run(
        `INSERT INTO replication_items (execution_id, repo, tag, digest, state, bytes, error, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [executionId, item.repo, item.tag, item.digest, item.state, item.bytes, item.error, Date.now()],
      );
      await q.run(
        `UPDATE replication_executions SET ${col} = ${col} + 1, bytes = bytes + ?, heartbeat_at = ? WHERE id = ?`,
        [item.bytes, Date.now(), executionId],
      );
    });
  }

  async finish(executionId: number, state: ExecutionInfo['state'], error: string | null): Promise<void> {
    await this.#db.run('UPDATE replication_executions SET state = ?, ended_at = ?, error = ? WHERE id = ?', [
      state,
      Date.now(),
      error,
      executionId,
    ]);
  }

  async execution(id: number): Promise<ExecutionInfo> {
    const r = await this.#db.get<ExecRow>(
      `SELECT ${EXEC_COLS} FROM replication_executions e JOIN replication_rules r ON r.id = e.rule_id WHERE e.id = ?`,
      [id],
    );
    if (!r) throw new NotFoundError(`no replication execution ${id}`);
    return toExecution(r);
  }

  async executions(rule: string, limit = 20): Promise<ExecutionInfo[]> {
    const rows = await this.#db.all<ExecRow>(
      `SELECT ${EXEC_COLS} FROM replication_executions e JOIN replication_rules r ON r.id = e.rule_id
       WHERE r.name = ? ORDER BY e.id DESC LIMIT ?`,
      [rule, limit],
    );
    return rows.map(toExecution);
  }

  async items(executionId: number): Promise<ExecutionItem[]> {
    const rows = await this.#db.all<{
      repo: string;
      tag: string | null;
      digest: string | null;
      state: string;
      bytes: number;
      error: string | null;
      at: number;
    }>(
      'SELECT repo, tag, digest, state, bytes, error, at FROM replication_items WHERE execution_id = ? ORDER BY at, repo, tag',
      [executionId],
    );
    return rows.map((r) => ({
      repo: r.repo,
      tag: r.tag,
      digest: r.digest,
      state: r.state as ExecutionItem['state'],
      bytes: Number(r.bytes),
      error: r.error,
      at: iso(r.at)!,
    }));
  }

  // Resumable uploads

  async upload(ruleId: number, repo: string, digest: string): Promise<string | undefined> {
    return (
      await this.#db.get<{ location: string }>(
        'SELECT location FROM replication_uploads WHERE rule_id = ? AND repo = ? AND digest = ?',
        [ruleId, repo, digest],
      )
    )?.location;
  }

  async saveUpload(ruleId: number, repo: string, digest: string, location: string): Promise<void> {
    await this.#db.run(
      `INSERT INTO replication_uploads (rule_id, repo, digest, location, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (rule_id, repo, digest) DO UPDATE SET location = excluded.location, updated_at = excluded.updated_at`,
      [ruleId, repo, digest, location, Date.now()],
    );
  }

  async dropUpload(ruleId: number, repo: string, digest: string): Promise<void> {
    await this.#db.run('DELETE FROM replication_uploads WHERE rule_id = ? AND repo = ? AND digest = ?', [
      ruleId,
      repo,
      digest,
    ]);
  }
}
