import type { Dialect, SqlDb } from './sql.ts';

/**
 * The registry's schema. Each entry moves it one version up; an entry never changes once shipped, a new one is
 * added (the operations that come next — quotas, retention, immutable tags, webhooks, audit, replication — add
 * their own tables and columns this way). Times are milliseconds since the epoch; sizes are bytes.
 *
 * - `blobs` is every blob the store holds; `state` is `live`, or `deleting` while garbage collection removes it
 *   (a push of the same digest waits for that to finish). `touched_at` is the last upload, mount or read, which
 *   the collector's grace window counts from.
 * - `uploads` are blob uploads in progress; `digest` is set while the upload is being committed, which keeps the
 *   collector away from that digest until the blob is linked.
 * - `repo_blobs` links a blob to a repository (uploaded or mounted there): a blob is reachable through a
 *   repository only when linked, so access to one project never reveals another's blobs.
 * - `manifests` keeps each manifest's exact bytes, its subject and artifact type (the referrers API) and what it
 *   references (`manifest_refs`: blobs, kind 0, and child manifests, kind 1), so marking is a query.
 * - `users` holds people and robot accounts; `projects` are repository-name prefixes; `members` their roles.
 * - Operations (third entry): `projects.quota_bytes` (null: no limit); `proxies` makes a project a pull-through
 *   cache of an upstream registry, whose tags are revalidated once `validated_at` is older than `max_age_ms`;
 *   `tags.pulled_at` is the last pull (retention's "pulled within D days"); `immutable_rules` and `retention_rules`
 *   are per project; `webhooks` and their `webhook_deliveries` (a queue: `pending` until `delivered` or `failed`,
 *   each attempt recorded); `audit_log`; replication `rules`, their `executions` (one run each, with counts, a
 *   heartbeat while running so another process can adopt it after a crash), the `items` each copied, skipped,
 *   deleted or failed, and `uploads` (where a blob's interrupted transfer can be resumed).
 * - `project_trust` is a project's trust policy (signatures required: off, pull or push; scan on push; the
 *   severity from which pulls are refused), `project_keys` the public keys it trusts (kind `cosign`: a PEM;
 *   `gpg`: an OpenPGP key, base64). `scans` is one row per scanned (or queued) image manifest: `status` queued,
 *   running, done or error; `report` the digest of the report referrer; `counts` JSON by severity.
 *   `atomic_signatures` are GPG simple signatures pushed through the signatures API extension.
 */
export function migrations(d: Dialect): string[] {
  return [
    `
    CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE repositories (
      id ${d.serial},
      name ${d.text} NOT NULL UNIQUE,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE blobs (
      digest TEXT PRIMARY KEY,
      size BIGINT NOT NULL,
      state TEXT NOT NULL DEFAULT 'live',
      created_at BIGINT NOT NULL,
      touched_at BIGINT NOT NULL
    );
    CREATE INDEX blobs_touched ON blobs(touched_at);
    CREATE TABLE repo_blobs (
      repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      digest TEXT NOT NULL REFERENCES blobs(digest),
      linked_at BIGINT NOT NULL,
      PRIMARY KEY (repo_id, digest)
    );
    CREATE INDEX repo_blobs_digest ON repo_blobs(digest);
    CREATE TABLE manifests (
      repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      digest TEXT NOT NULL,
      media_type TEXT NOT NULL,
      size BIGINT NOT NULL,
      content ${d.bytes} NOT NULL,
      subject TEXT,
      artifact_type TEXT,
      annotations TEXT,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (repo_id, digest)
    );
    CREATE INDEX manifests_subject ON manifests(repo_id, subject);
    CREATE TABLE manifest_refs (
      repo_id BIGINT NOT NULL,
      parent TEXT NOT NULL,
      child TEXT NOT NULL,
      kind SMALLINT NOT NULL,
      PRIMARY KEY (repo_id, parent, child),
      FOREIGN KEY (repo_id, parent) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
    );
    CREATE INDEX manifest_refs_child ON manifest_refs(child, repo_id);
    CREATE TABLE tags (
      repo_id BIGINT NOT NULL,
      name ${d.text} NOT NULL,
      digest TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (repo_id, name),
      FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
    );
    CREATE INDEX tags_digest ON tags(repo_id, digest);
    CREATE TABLE uploads (
      id TEXT PRIMARY KEY,
      repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      owner TEXT NOT NULL,
      size BIGINT NOT NULL,
      digest TEXT,
      algorithm TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX uploads_digest ON uploads(digest);
    CREATE TABLE users (
      id ${d.serial},
      name ${d.text} NOT NULL UNIQUE,
      kind TEXT NOT NULL,
      secret TEXT NOT NULL,
      admin SMALLINT NOT NULL DEFAULT 0,
      expires_at BIGINT,
      description TEXT NOT NULL DEFAULT '',
      created_at BIGINT NOT NULL
    );
    CREATE TABLE projects (
      id ${d.serial},
      name ${d.text} NOT NULL UNIQUE,
      public SMALLINT NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE members (
      project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      role TEXT NOT NULL,
      PRIMARY KEY (project_id, user_id)
    );
    `,
    // Covering indexes for the collector's marking query (measured: 1.7 s → 0.9 s over 100,000 blobs under load).
    `
    CREATE INDEX manifest_refs_child_kind ON manifest_refs(child, kind);
    CREATE INDEX repo_blobs_digest_linked ON repo_blobs(digest, linked_at);
    `,
    // Registry operations: quotas, proxy projects, immutable tags, retention, webhooks, audit, replication.
    `
    ALTER TABLE projects ADD COLUMN quota_bytes BIGINT;
    ALTER TABLE tags ADD COLUMN pulled_at BIGINT;
    ALTER TABLE tags ADD COLUMN validated_at BIGINT;
    CREATE TABLE proxies (
      project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
      url TEXT NOT NULL,
      username TEXT,
      password TEXT,
      ca TEXT,
      insecure SMALLINT NOT NULL DEFAULT 0,
      max_age_ms BIGINT NOT NULL
    );
    CREATE TABLE immutable_rules (
      id ${d.serial},
      project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      pattern TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      UNIQUE (project_id, pattern)
    );
    CREATE TABLE retention_rules (
      id ${d.serial},
      project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      keep_last INTEGER NOT NULL,
      keep_pulled_days INTEGER,
      match_pattern TEXT,
      schedule TEXT,
      next_run_at BIGINT,
      created_at BIGINT NOT NULL
    );
    CREATE INDEX retention_rules_due ON retention_rules(next_run_at);
    CREATE TABLE webhooks (
      id ${d.serial},
      project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      url TEXT NOT NULL,
      secret TEXT NOT NULL,
      events TEXT NOT NULL,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
      id ${d.serial},
      hook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event TEXT NOT NULL,
      payload TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at BIGINT NOT NULL,
      last_status INTEGER,
      last_error TEXT,
      created_at BIGINT NOT NULL,
      delivered_at BIGINT
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
    CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(hook_id, id);
    CREATE TABLE audit_log (
      id ${d.serial},
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      address TEXT,
      action TEXT NOT NULL,
      repo ${d.text},
      reference TEXT,
      digest TEXT,
      detail TEXT
    );
    CREATE INDEX audit_log_at ON audit_log(at);
    CREATE INDEX audit_log_repo ON audit_log(repo, at);
    CREATE TABLE replication_rules (
      id ${d.serial},
      name ${d.text} NOT NULL UNIQUE,
      direction TEXT NOT NULL,
      remote_url TEXT NOT NULL,
      remote_username TEXT,
      remote_password TEXT,
      remote_ca TEXT,
      remote_insecure SMALLINT NOT NULL DEFAULT 0,
      timeout_ms BIGINT,
      repo_pattern TEXT NOT NULL,
      tag_pattern TEXT,
      label TEXT,
      trigger_kind TEXT NOT NULL,
      schedule TEXT,
      deletes SMALLINT NOT NULL DEFAULT 0,
      dest_prefix TEXT,
      next_run_at BIGINT,
      created_at BIGINT NOT NULL
    );
    CREATE TABLE replication_executions (
      id ${d.serial},
      rule_id BIGINT NOT NULL REFERENCES replication_rules(id) ON DELETE CASCADE,
      trigger_kind TEXT NOT NULL,
      scope TEXT,
      state TEXT NOT NULL,
      started_at BIGINT NOT NULL,
      ended_at BIGINT,
      heartbeat_at BIGINT NOT NULL,
      copied INTEGER NOT NULL DEFAULT 0,
      skipped INTEGER NOT NULL DEFAULT 0,
      failed INTEGER NOT NULL DEFAULT 0,
      deleted INTEGER NOT NULL DEFAULT 0,
      bytes BIGINT NOT NULL DEFAULT 0,
      error TEXT
    );
    CREATE INDEX replication_executions_rule ON replication_executions(rule_id, id);
    CREATE INDEX replication_executions_state ON replication_executions(state, heartbeat_at);
    CREATE TABLE replication_items (
      execution_id BIGINT NOT NULL REFERENCES replication_executions(id) ON DELETE CASCADE,
      repo TEXT NOT NULL,
      tag TEXT,
      digest TEXT,
      state TEXT NOT NULL,
      bytes BIGINT NOT NULL DEFAULT 0,
      error TEXT,
      at BIGINT NOT NULL
    );
    CREATE INDEX replication_items_execution ON replication_items(execution_id);
    CREATE TABLE replication_uploads (
      rule_id BIGINT NOT NULL REFERENCES replication_rules(id) ON DELETE CASCADE,
      repo TEXT NOT NULL,
      digest TEXT NOT NULL,
      location TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (rule_id, repo, digest)
    );
    `,
    // Trust (registry/trust/): each project's policies and trusted keys, vulnerability scans of manifests, and
    // GPG simple signatures stored through the signatures API extension.
    `
    CREATE TABLE project_trust (
      project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
      require_signatures TEXT NOT NULL DEFAULT 'off',
      scan_on_push SMALLINT NOT NULL DEFAULT 0,
      prevent_severity TEXT,
      updated_at BIGINT NOT NULL
    );
    CREATE TABLE project_keys (
      project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      name ${d.text} NOT NULL,
      kind TEXT NOT NULL,
      data TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (project_id, name)
    );
    CREATE TABLE scans (
      repo_id BIGINT NOT NULL,
      digest TEXT NOT NULL,
      status TEXT NOT NULL,
      queued_at BIGINT NOT NULL,
      started_at BIGINT,
      finished_at BIGINT,
      report TEXT,
      counts TEXT,
      packages INTEGER,
      error TEXT,
      PRIMARY KEY (repo_id, digest),
      FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
    );
    CREATE INDEX scans_status ON scans(status, queued_at);
    CREATE TABLE atomic_signatures (
      repo_id BIGINT NOT NULL,
      digest TEXT NOT NULL,
      name TEXT NOT NULL,
      content ${d.bytes} NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (repo_id, digest, name),
      FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
    );
    `,
  ];
}

/** Brings the schema up to date, in one transaction per step; several processes may race here safely. */
export async function migrate(db: SqlDb, exec: (sql: string) => Promise<void>): Promise<void> {
  await exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const steps = migrations(db.dialect);
  for (;;) {
    const done = await db.tx(async (q) => {
      if (db.dialect.name === 'postgres') await q.get('SELECT pg_advisory_xact_lock(2718281)');
      const row = await q.get<{ version: number }>(`SELECT version FROM schema_version${db.dialect.forUpdate}`);
      const version = row ? Number(row.version) : 0;
      if (version >= steps.length) return true;
      for (const stmt of splitStatements(steps[version]!)) await q.run(stmt);
      if (row) await q.run('UPDATE schema_version SET version = ?', [version + 1]);
      else await q.run('INSERT INTO schema_version (version) VALUES (?)', [version + 1]);
      return false;
    });
    if (done) return;
  }
}

function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
