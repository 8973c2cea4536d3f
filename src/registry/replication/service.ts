import type { Digest } from '../../util/digest.ts';
import { FailedPreconditionError, errorMessage } from '../../util/errors.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { ExecutionInfo, ExecutionItem, ReplicationRuleInfo, ReplicationRuleInput } from '../ops/api.ts';
import { Glob } from '../ops/glob.ts';
import type { ReplicationApi } from '../ops/service.ts';
import type { Registry, RegistryEvent } from '../service.ts';
import { type CopyOptions, DEFAULT_COPY_OPTIONS, Execution } from './copy.ts';
import { LocalSide } from './local.ts';
import { RemoteSide, preloadClient } from './remote.ts';
import { type Rule, RuleStore, type Scope, ruleInfo } from './rules.ts';

/** An execution whose process stopped beating this long ago is taken over by another (or the restarted one). */
const STALE_MS = 60_000;
const HEARTBEAT_MS = 10_000;
/** Pushes to the same rule within this window go in one execution. */
const PUSH_BATCH_MS = 250;

export interface ReplicationDeps {
  db: SqlDb;
  registry: Registry;
  options?: Partial<CopyOptions> | undefined;
  log?: ((line: string) => void) | undefined;
}

/**
 * Replication rules and their executions: started by hand, by a rule's cron schedule (`tick`), or by a push to a
 * matching repository (`onEvent`, batched per rule). Each execution runs in this process with a heartbeat in the
 * metadata; one left running by a process that died is taken over by the next `tick` of any process serving the
 * same store, and goes on from the uploads it had saved.
 */
export class Replication implements ReplicationApi {
  readonly store: RuleStore;
  readonly #reg: Registry;
  readonly #o: CopyOptions;
  readonly #log: (line: string) => void;
  readonly #running = new Map<
    number,
    { id: number; ctl: AbortController; done: Promise<ExecutionInfo>; ruleId: number }
  >();
  readonly #pending = new Map<number, { items: Scope['items']; timer: NodeJS.Timeout }>();
  #lastBeat = 0;
  #closed = false;

  constructor(deps: ReplicationDeps) {
    this.store = new RuleStore(deps.db);
    this.#reg = deps.registry;
    this.#o = { ...DEFAULT_COPY_OPTIONS, ...deps.options };
    this.#log = deps.log ?? (() => {});
  }

  async replicationRules(): Promise<ReplicationRuleInfo[]> {
    const out: ReplicationRuleInfo[] = [];
    for (const r of await this.store.rules())
      out.push(ruleInfo(r, (await this.store.executions(r.name, 1))[0] ?? null));
    return out;
  }

  async addReplication(input: ReplicationRuleInput): Promise<ReplicationRuleInfo> {
    const info = ruleInfo(await this.store.add(input), null);
    preloadClient();
    // A pull rule writes blobs here: the store's ingest thread is started before its first run needs it.
    if (input.direction === 'pull') void this.#reg.blobs.warm?.().catch(() => {});
    return info;
  }

  async removeReplication(name: string): Promise<void> {
    const rule = await this.store.rule(name);
    for (const r of this.#running.values()) if (r.ruleId === rule.id) r.ctl.abort();
    await this.store.remove(name);
  }

  async runReplication(name: string, opts: { wait?: boolean }): Promise<ExecutionInfo> {
    const rule = await this.store.rule(name);
    for (const r of this.#running.values())
      if (r.ruleId === rule.id)
        throw new FailedPreconditionError(`replication rule "${name}" is running already; see its status`);
    const id = await this.store.start(rule, 'manual', null);
    if (rule.direction === 'pull') void this.#reg.blobs.warm?.().catch(() => {});
    const done = this.#launch(rule, id, null);
    return opts.wait ? done : this.store.execution(id);
  }

  executions(name: string, limit?: number): Promise<ExecutionInfo[]> {
    return this.store.executions(name, limit);
  }

  async execution(id: number): Promise<{ execution: ExecutionInfo; items: ExecutionItem[] }> {
    return { execution: await this.store.execution(id), items: await this.store.items(id) };
  }

  /** The scheduler's second: due cron rules start, executions of dead processes are taken over, heartbeats. */
  async tick(): Promise<void> {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#lastBeat === 0 && (await this.store.rules()).length > 0) preloadClient();
    for (const rule of await this.store.due(now)) {
      if ([...this.#running.values()].some((r) => r.ruleId === rule.id)) continue;
      const id = await this.store.start(rule, 'cron', null);
      void this.#launch(rule, id, null);
    }
    // Heartbeats, and the look for executions to take over (a write), every 10 s (the first tick included).
    if (now - this.#lastBeat < HEARTBEAT_MS) return;
    this.#lastBeat = now;
    await this.store.heartbeat([...this.#running.keys()]);
    for (const e of await this.store.adopt(STALE_MS)) {
      const rule = await this.store.ruleById(e.ruleId);
      if (!rule) continue;
      this.#log(`replication: taking over execution ${e.id} of rule ${rule.name}`);
      void this.#launch(rule, e.id, e.scope);
    }
  }

  /** On-push triggers: a tagged manifest pushed (or deleted) in a repository a push rule covers. */
  onEvent(e: RegistryEvent): void {
    if (this.#closed || (e.action !== 'push' && e.action !== 'delete')) return;
    if (e.action === 'push' && (e.mediaType === undefined || e.tag === undefined)) return;
    // A blob's delete has neither a tag nor a media type.
    if (e.action === 'delete' && e.tag === undefined && e.mediaType === undefined) return;
    void this.#queue(e).catch((err: unknown) => this.#log(`replication: on-push trigger: ${errorMessage(err)}`));
  }

  async #queue(e: RegistryEvent): Promise<void> {
    for (const rule of await this.store.rules()) {
      if (rule.trigger !== 'push' || rule.direction !== 'push') continue;
      if (e.actor === actorOf(rule)) continue;
      if (!new Glob(rule.repo).matches(e.repo)) continue;
      if (rule.tag && e.tag !== undefined && !new Glob(rule.tag).matches(e.tag)) continue;
      if (e.action === 'delete' && !rule.deletes) continue;
      const op = e.action === 'push' ? 'copy' : e.tag === undefined ? 'prune' : 'delete';
      const tag = e.tag ?? '';
      let p = this.#pending.get(rule.id);
      if (!p) {
        const items: Scope['items'] = [];
        const timer = setTimeout(() => {
          this.#pending.delete(rule.id);
          void this.store
            .start(rule, 'push', { items })
            .then((id) => this.#launch(rule, id, { items }))
            .catch((err: unknown) => this.#log(`replication of ${rule.name}: ${errorMessage(err)}`));
        }, PUSH_BATCH_MS);
        p = { items, timer };
        this.#pending.set(rule.id, p);
      }
      const items = p.items.filter((i) => !(i.repo === e.repo && i.tag === tag && i.op === op));
      items.push({ repo: e.repo, tag, op });
      p.items.splice(0, p.items.length, ...items);
    }
  }

  #launch(rule: Rule, id: number, scope: Scope | null): Promise<ExecutionInfo> {
    const ctl = new AbortController();
    const done = this.#execute(rule, id, scope, ctl.signal).finally(() => this.#running.delete(id));
    this.#running.set(id, { id, ctl, done, ruleId: rule.id });
    return done;
  }

  async #execute(rule: Rule, id: number, scope: Scope | null, signal: AbortSignal): Promise<ExecutionInfo> {
    let remote: RemoteSide | undefined;
    let ex: Execution | undefined;
    let state: ExecutionInfo['state'] = 'failed';
    let error: string | null = null;
    try {
      remote = await RemoteSide.open(rule.remote, signal);
      const local = new LocalSide(this.#reg, actorOf(rule));
      const [src, dst] = rule.direction === 'push' ? [local, remote] : [remote, local];
      ex = new Execution({ store: this.store, rule, id, src, dst, options: this.#o, signal });
      await ex.run(await ex.plan(scope));
      const c = ex.counts;
      if (signal.aborted) error = 'stopped';
      else if (c.failed === 0) state = 'succeeded';
      else {
        if (c.copied + c.skipped + c.deleted > 0) state = 'partial';
        error = `${c.failed} item(s) failed, the first: ${ex.firstError}`;
      }
    } catch (err) {
      error = signal.aborted ? 'stopped' : errorMessage(err);
    } finally {
      remote?.close();
    }
    if (this.#closed && signal.aborted) return this.store.execution(id);
    await this.store.finish(id, state, error);
    const info = await this.store.execution(id);
    this.#log(`replication ${rule.name}: execution ${id} ${state}${error ? ` (${error})` : ''}`);
    const detail = { rule: rule.name, execution: id, state, copied: info.copied, failed: info.failed, error };
    for (const repo of ex?.touched ?? [])
      this.#reg.emit({ action: 'replication', repo, digest: '' as Digest, actor: actorOf(rule), detail });
    return info;
  }

  /** Stops what runs here; the executions stay `running` in the metadata, to be taken over after a restart. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
    const all = [...this.#running.values()];
    for (const r of all) r.ctl.abort();
    await Promise.allSettled(all.map((r) => r.done));
    await this.store.release([...this.#running.keys(), ...all.map((r) => r.id)]);
  }
}

export function actorOf(rule: Pick<Rule, 'name'>): string {
  return `replication:${rule.name}`;
}
