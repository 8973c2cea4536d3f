/**
 * The registry's operations as the admin API and `berth registry …` see them: project settings (quota, proxy),
 * immutable tags, retention, webhooks, the audit log and replication. `OpsService` implements it in-process
 * (`--root`), `AdminClient` over HTTP (`--url`).
 */

/** A project's upstream when it is a pull-through cache. */
export interface ProxySettings {
  /** The upstream registry: `https://host[:port]` or `http://…`. */
  url: string;
  username?: string;
  password?: string;
  /** Tags are asked of the upstream again once their copy is older than this (ms; default 10 minutes). */
  maxAgeMs?: number;
  /** TLS without verifying the upstream's certificate. */
  insecure?: boolean;
  /** Extra CA certificates (PEM) to trust for the upstream. */
  ca?: string;
}

/** Settings a project may be created with or changed to; `null` removes one. */
export interface ProjectSettings {
  quota?: number | null;
  proxy?: ProxySettings | null;
}

/** A project's quota, usage and upstream (never its credentials). */
export interface ProjectOpsInfo {
  name: string;
  quota: number | null;
  usage: number;
  proxy: { url: string; maxAgeMs: number; username: string | null; insecure: boolean } | null;
}

export interface ImmutableRuleInfo {
  id: number;
  project: string;
  pattern: string;
  createdAt: string;
}

export interface RetentionRuleInput {
  keepLast: number;
  keepPulledDays?: number | null;
  match?: string | null;
  /** Cron expression: the rule runs on its own (see ops/cron.ts). */
  schedule?: string | null;
}

export interface RetentionRuleInfo {
  id: number;
  project: string;
  keepLast: number;
  keepPulledDays: number | null;
  match: string | null;
  schedule: string | null;
  nextRunAt: string | null;
  createdAt: string;
}

/** What a retention run deleted (or would, with dryRun). */
export interface RetentionReport {
  project: string;
  dryRun: boolean;
  deleted: { repo: string; tag: string; digest: string }[];
  kept: { repo: string; tag: string; why: string }[];
  /** Manifests left without a tag and deleted with them (their blobs go at the next garbage collection). */
  manifests: number;
}

export const WEBHOOK_EVENTS = ['push', 'pull', 'delete', 'scan', 'quota', 'replication'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookInput {
  url: string;
  secret: string;
  events?: WebhookEvent[];
}

export interface WebhookInfo {
  id: number;
  project: string;
  url: string;
  events: WebhookEvent[];
  createdAt: string;
  /** Deliveries by state. */
  pending: number;
  delivered: number;
  failed: number;
}

export interface DeliveryInfo {
  id: number;
  hookId: number;
  url: string;
  event: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface AuditQuery {
  repo?: string;
  actor?: string;
  action?: string;
  /** ms since the epoch */
  since?: number;
  until?: number;
  limit?: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  address: string | null;
  action: string;
  repo: string | null;
  reference: string | null;
  digest: string | null;
  detail: string | null;
}

/** A remote registry of a replication rule; the password is write-only. */
export interface RemoteInput {
  url: string;
  username?: string;
  password?: string;
  /** PEM CA certificates to trust. */
  ca?: string;
  insecure?: boolean;
  /** A remote that sends nothing for this long fails (ms; default 30 s). */
  timeoutMs?: number;
}

export interface ReplicationRuleInput {
  name: string;
  direction: 'push' | 'pull';
  remote: RemoteInput;
  /** Repositories (at the source) to replicate. */
  repo: string;
  tag?: string | null;
  /** `key` or `key=value`: only images whose config has that label. */
  label?: string | null;
  /** `manual`, `push` (on each push to a matching repository; push rules only) or `cron:EXPR`. */
  trigger: string;
  /** Replicate deletions too: tags gone at the source are deleted at the destination. */
  deletes?: boolean;
  /** Prepended to repository names at the destination (`mirror` puts `app` at `mirror/app`). */
  destPrefix?: string | null;
}

export interface ReplicationRuleInfo {
  name: string;
  direction: 'push' | 'pull';
  remote: { url: string; username: string | null; insecure: boolean; ca: boolean; timeoutMs: number | null };
  repo: string;
  tag: string | null;
  label: string | null;
  trigger: string;
  deletes: boolean;
  destPrefix: string | null;
  nextRunAt: string | null;
  createdAt: string;
  last: ExecutionInfo | null;
}

export interface ExecutionInfo {
  id: number;
  rule: string;
  trigger: string;
  state: 'running' | 'succeeded' | 'failed' | 'partial';
  startedAt: string;
  endedAt: string | null;
  copied: number;
  skipped: number;
  failed: number;
  deleted: number;
  bytes: number;
  error: string | null;
}

export interface ExecutionItem {
  repo: string;
  tag: string | null;
  digest: string | null;
  state: 'copied' | 'skipped' | 'failed' | 'deleted';
  bytes: number;
  error: string | null;
  at: string;
}

export interface OpsApi {
  projectOps(name: string): Promise<ProjectOpsInfo>;
  setProject(name: string, settings: ProjectSettings): Promise<void>;

  immutableRules(project: string): Promise<ImmutableRuleInfo[]>;
  addImmutable(project: string, pattern: string): Promise<ImmutableRuleInfo>;
  /** By ID or by pattern. */
  removeImmutable(project: string, rule: string): Promise<void>;

  retentionRules(project: string): Promise<RetentionRuleInfo[]>;
  addRetention(project: string, rule: RetentionRuleInput, force?: boolean): Promise<RetentionRuleInfo>;
  removeRetention(project: string, id: number): Promise<void>;
  runRetention(project: string, opts: { dryRun?: boolean; force?: boolean }): Promise<RetentionReport>;

  webhooks(project: string): Promise<WebhookInfo[]>;
  addWebhook(project: string, hook: WebhookInput): Promise<WebhookInfo>;
  removeWebhook(project: string, id: number): Promise<void>;
  deliveries(project: string, opts: { hookId?: number; state?: string; limit?: number }): Promise<DeliveryInfo[]>;

  audit(q: AuditQuery): Promise<AuditEntry[]>;

  replicationRules(): Promise<ReplicationRuleInfo[]>;
  addReplication(rule: ReplicationRuleInput): Promise<ReplicationRuleInfo>;
  removeReplication(name: string): Promise<void>;
  /** Starts an execution; with `wait`, resolves when it ends. */
  runReplication(name: string, opts: { wait?: boolean }): Promise<ExecutionInfo>;
  executions(name: string, limit?: number): Promise<ExecutionInfo[]>;
  execution(id: number): Promise<{ execution: ExecutionInfo; items: ExecutionItem[] }>;
}
