import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** How many prepared statements the cache keeps; the repositories use about a hundred distinct SQL texts. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The metadata database: one SQLite file in WAL mode. This folder is the only code that writes it; other
 * folders get typed repositories (see index.ts). Multi-step changes run in `transaction()`, so a crash
 * leaves either all of a change or none of it.
 */
export class MetadataDB {
  readonly db: DatabaseSync;
  #depth = 0;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.db = new DatabaseSync(path, { timeout: 5000 });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    migrate(this.db);
  }

  /**
   * The prepared statement for `sql`, compiled once and kept by its text (preparing costs more than most of
   * these queries). The least recently used one goes when the cache is full, so SQL built with varying text
   * cannot grow it without bound. A statement is reset by each run/get/all, so sharing one is safe here.
   */
  prepare(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (s) {
      this.#statements.delete(sql);
    } else {
      s = this.db.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.delete(this.#statements.keys().next().value as string);
      }
    }
    this.#statements.set(sql, s);
    return s;
  }

  /** Runs fn inside one transaction (nested calls join the outer one). fn must be synchronous. */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return fn();
      } finally {
        this.#depth--;
      }
    }
    this.db.exec('BEGIN IMMEDIATE');
    this.#depth = 1;
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  close(): void {
    this.#statements.clear();
    if (this.db.isOpen) this.db.close();
  }
}

/** Each entry moves the schema one version up; never edit an entry once it has shipped, add one. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
  );
  CREATE TABLE snapshots (
    key TEXT PRIMARY KEY,
    id INTEGER NOT NULL UNIQUE,
    parent TEXT REFERENCES snapshots(key),
    kind TEXT NOT NULL CHECK (kind IN ('active', 'committed', 'view')),
    created INTEGER NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX snapshots_parent ON snapshots(parent);
  CREATE TABLE images (
    manifest_digest TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    manifest_size INTEGER NOT NULL,
    config_digest TEXT NOT NULL,
    chain_id TEXT,
    created INTEGER NOT NULL,
    last_tag_time INTEGER
  );
  CREATE INDEX images_config ON images(config_digest);
  CREATE TABLE tags (
    name TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest),
    updated INTEGER NOT NULL
  );
  CREATE INDEX tags_image ON tags(manifest_digest);
  CREATE TABLE tag_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    manifest_digest TEXT,
    config_digest TEXT,
    at INTEGER NOT NULL,
    action TEXT NOT NULL
  );
  CREATE INDEX tag_history_name ON tag_history(name, seq);
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT,
    size INTEGER NOT NULL
  );
  CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    expires INTEGER
  );
  CREATE TABLE lease_resources (
    lease TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    PRIMARY KEY (lease, kind, ref)
  );
  `,
  `
  CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    labels TEXT NOT NULL DEFAULT '{}',
    created INTEGER NOT NULL,
    anonymous INTEGER NOT NULL DEFAULT 0
  );
  `,
  `
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    image_ref TEXT NOT NULL,
    created INTEGER NOT NULL,
    config TEXT NOT NULL,
    host_config TEXT NOT NULL,
    state TEXT NOT NULL,
    runtime TEXT NOT NULL,
    snapshot TEXT NOT NULL
  );
  CREATE INDEX containers_image ON containers(image_id);
  `,
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,
    created INTEGER NOT NULL,
    spec TEXT NOT NULL
  );
  CREATE TABLE network_endpoints (
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    network_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    config TEXT NOT NULL,
    ipv4 TEXT,
    ipv6 TEXT,
    mac TEXT,
    endpoint_id TEXT,
    PRIMARY KEY (container_id, network_id),
    UNIQUE (network_id, ipv4),
    UNIQUE (network_id, ipv6)
  );
  CREATE INDEX network_endpoints_network ON network_endpoints(network_id);
  CREATE TABLE network_sandboxes (
    container_id TEXT PRIMARY KEY,
    netns TEXT NOT NULL,
    ports TEXT NOT NULL DEFAULT '[]',
    created INTEGER NOT NULL
  );
  `,
  `
  -- The digests images were pulled by, per repository, when that is not the image's own manifest digest
  -- (an index's): RepoDigests shows them and \`repo@digest\` resolves by them, as Docker.
  CREATE TABLE repo_digests (
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest),
    PRIMARY KEY (name, digest)
  );
  CREATE INDEX repo_digests_manifest ON repo_digests(manifest_digest);
  `,
  `
  -- Where blobs came from: the registry repositories (\`registry/repository\`) each blob was pulled from or
  -- pushed to, so that a push can mount it from another repository of the same registry. \`seq\` orders them by
  -- when they were last noted; the oldest go first.
  CREATE TABLE blob_sources (
    digest TEXT NOT NULL,
    source TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (digest, source)
  );
  CREATE INDEX blob_sources_seq ON blob_sources(seq);
  `,
  `
  -- The build cache: each step's result by its cache key (the step's image config blob, the layers up to it and
  -- the snapshot of the top one), and the directories kept between builds (cache mounts, kept contexts).
  CREATE TABLE build_cache (
    key TEXT PRIMARY KEY,
    parent TEXT,
    image_id TEXT NOT NULL,
    config TEXT NOT NULL,
    layers TEXT NOT NULL,
    chain_id TEXT,
    size INTEGER NOT NULL,
    description TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    usage_count INTEGER NOT NULL
  );
  CREATE TABLE build_dirs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    usage_count INTEGER NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  );
  `,
];

function migrate(db: DatabaseSync): void {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  let version = row.user_version;
  while (version < MIGRATIONS.length) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[version]!);
      version++;
      db.exec(`PRAGMA user_version = ${version}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
}
