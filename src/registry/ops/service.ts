import { ForbiddenError, NotImplementedError } from '../../util/errors.ts';
import type { Principal } from '../auth/gate.ts';
import { type Policy, roleAtLeast } from '../auth/policy.ts';
import type {
  AuditEntry,
  AuditQuery,
  DeliveryInfo,
  ExecutionInfo,
  ExecutionItem,
  ImmutableRuleInfo,
  OpsApi,
  ProjectOpsInfo,
  ProjectSettings,
  ReplicationRuleInfo,
  ReplicationRuleInput,
  RetentionReport,
  RetentionRuleInfo,
  RetentionRuleInput,
  WebhookInfo,
  WebhookInput,
} from './api.ts';
import type { AuditLog } from './audit.ts';
import type { Retention } from './retention.ts';
import type { SettingsStore } from './settings.ts';
import type { Webhooks } from './webhooks.ts';

/** Replication as the admin operations reach it (replication/service.ts). */
export type ReplicationApi = Pick<
  OpsApi,
  'replicationRules' | 'addReplication' | 'removeReplication' | 'runReplication' | 'executions' | 'execution'
> & {
  /** Starts the executions whose schedule is due (the serving registry's scheduler calls it every second). */
  tick?(): Promise<void>;
};

export interface OpsParts {
  policy: Policy;
  settings: SettingsStore;
  retention: Retention;
  webhooks: Webhooks;
  audit: AuditLog;
  replication?: ReplicationApi | undefined;
}

/**
 * The operations with the permissions of one principal: quotas, proxies and replication are the registry
 * administrators'; immutable tags, retention and webhooks also a project's admins'; the audit log of a project
 * its admins may read, the whole log the registry administrators.
 */
export class OpsService implements OpsApi {
  readonly #o: OpsParts;
  readonly #p: Principal;

  constructor(parts: OpsParts, principal: Principal) {
    this.#o = parts;
    this.#p = principal;
  }

  #admin(): void {
    if (!this.#p.admin) throw new ForbiddenError('only a registry administrator may do this');
  }

  async #projectAdmin(project: string): Promise<void> {
    if (this.#p.admin) return;
    if (!roleAtLeast(await this.#o.policy.role(this.#p.name, project), 'admin'))
      throw new ForbiddenError(`only an admin of project "${project}" may do this`);
  }

  #replication(): ReplicationApi {
    if (!this.#o.replication) throw new NotImplementedError('replication is not available here');
    return this.#o.replication;
  }

  async projectOps(name: string): Promise<ProjectOpsInfo> {
    await this.#projectAdmin(name);
    return this.#o.settings.info(name);
  }

  async setProject(name: string, settings: ProjectSettings): Promise<void> {
    this.#admin();
    await this.#o.settings.apply(name, settings);
    this.#o.policy.invalidate();
  }

  async immutableRules(project: string): Promise<ImmutableRuleInfo[]> {
    await this.#projectAdmin(project);
    return this.#o.settings.immutableRules(project);
  }

  async addImmutable(project: string, pattern: string): Promise<ImmutableRuleInfo> {
    await this.#projectAdmin(project);
    return this.#o.settings.addImmutable(project, pattern);
  }

  async removeImmutable(project: string, rule: string): Promise<void> {
    await this.#projectAdmin(project);
    await this.#o.settings.removeImmutable(project, rule);
  }

  async retentionRules(project: string): Promise<RetentionRuleInfo[]> {
    await this.#projectAdmin(project);
    return this.#o.retention.rules(project);
  }

  async addRetention(project: string, rule: RetentionRuleInput, force?: boolean): Promise<RetentionRuleInfo> {
    await this.#projectAdmin(project);
    return this.#o.retention.add(project, rule, force);
  }

  async removeRetention(project: string, id: number): Promise<void> {
    await this.#projectAdmin(project);
    await this.#o.retention.remove(project, id);
  }

  async runRetention(project: string, opts: { dryRun?: boolean; force?: boolean }): Promise<RetentionReport> {
    await this.#projectAdmin(project);
    return this.#o.retention.run(project, { ...opts, actor: this.#p.name || 'retention' });
  }

  async webhooks(project: string): Promise<WebhookInfo[]> {
    await this.#projectAdmin(project);
    return this.#o.webhooks.list(project);
  }

  async addWebhook(project: string, hook: WebhookInput): Promise<WebhookInfo> {
    await this.#projectAdmin(project);
    return this.#o.webhooks.add(project, hook);
  }

  async removeWebhook(project: string, id: number): Promise<void> {
    await this.#projectAdmin(project);
    await this.#o.webhooks.remove(project, id);
  }

  async deliveries(
    project: string,
    opts: { hookId?: number; state?: string; limit?: number },
  ): Promise<DeliveryInfo[]> {
    await this.#projectAdmin(project);
    return this.#o.webhooks.deliveries(project, opts);
  }

  async audit(q: AuditQuery): Promise<AuditEntry[]> {
    if (!this.#p.admin) {
      if (q.repo === undefined) throw new ForbiddenError('only a registry administrator may read the whole audit log');
      const project = await this.#o.policy.projectOf(q.repo);
      if (!project) throw new ForbiddenError(`"${q.repo}" is in no project`);
      await this.#projectAdmin(project.name);
    }
    return this.#o.audit.query(q);
  }

  async replicationRules(): Promise<ReplicationRuleInfo[]> {
    this.#admin();
    return this.#replication().replicationRules();
  }

  async addReplication(rule: ReplicationRuleInput): Promise<ReplicationRuleInfo> {
    this.#admin();
    return this.#replication().addReplication(rule);
  }

  async removeReplication(name: string): Promise<void> {
    this.#admin();
    await this.#replication().removeReplication(name);
  }

  async runReplication(name: string, opts: { wait?: boolean }): Promise<ExecutionInfo> {
    this.#admin();
    return this.#replication().runReplication(name, opts);
  }

  async executions(name: string, limit?: number): Promise<ExecutionInfo[]> {
    this.#admin();
    return this.#replication().executions(name, limit);
  }

  async execution(id: number): Promise<{ execution: ExecutionInfo; items: ExecutionItem[] }> {
    this.#admin();
    return this.#replication().execution(id);
  }
}
