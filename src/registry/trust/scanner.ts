/**
 * Vulnerability scans in the registry. A push only queues (a row in `scans`, written after the push's own
 * transaction, with no wait): scanning happens in the background, one image at a time, in a worker thread
 * (`scan-worker.ts`) that reads the layers from the blob store, builds the SBOM from the layer tars and matches it
 * against the registry's OSV database (`<root>/trust/osv.db`, filled by `berth registry scan db import`), so the
 * thread serving requests never parses a tar. The report is stored as an OCI 1.1 referrer of the image (artifact
 * type `application/vnd.berth.scan.report.v1+json`, what `berth scan --attach` writes and `berth trust inspect`
 * lists) and its counts in the row, which the pull policy reads. The queue is in the metadata, so a restart (or
 * another registry process over the same PostgreSQL) picks up what was queued; a scan left running by a process
 * that stopped is queued again.
 */
import type { ScanReport } from '../../engine-api/trust.ts';
import { SCAN_REPORT_ARTIFACT_TYPE } from '../../oci/mediatypes.ts';
import type { Digest } from '../../util/digest.ts';
import { errorMessage, InvalidArgumentError } from '../../util/errors.ts';
import { IdleTimer, OwnedThread } from '../../util/thread.ts';
import type { RegistryConfig } from '../config.ts';
import { manifestUnknown } from '../errors.ts';
import type { Registry } from '../service.ts';
import { putReferrer } from './artifacts.ts';
import type { ScanQueue } from './gate.ts';
import { classify } from './kinds.ts';
import type { ScanRecord, TrustStore } from './store.ts';

/** The account name scans act under (uploads, events). */
export const SCANNER = 'berth-scanner';
const WORKER_IDLE_MS = 60_000;
/** A scan left `running` longer than this by another process is taken to be abandoned. */
const STALE_MS = 30 * 60_000;
const POLL_MS = 5000;

export interface ScanJob {
  repo: string;
  digest: Digest;
  layers: Digest[];
  maxAgeDays: number;
}

type Reply = { id: number; report?: ScanReport; error?: string };

export class Scanner implements ScanQueue {
  readonly #reg: Registry;
  readonly #trust: TrustStore;
  readonly #config: RegistryConfig;
  readonly #log: (line: string) => void;
  #thread: OwnedThread | undefined;
  /** The thread stops after a while with no scan. */
  readonly #idle = new IdleTimer(WORKER_IDLE_MS, () => {
    if (this.#calls.size === 0) void this.#stop();
  });
  readonly #calls = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  #next = 1;
  #draining: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Scans run only in a serving registry (`start`); an administration command over `--root` only queues. */
  #started = false;
  #poll: NodeJS.Timeout | undefined;

  constructor(deps: { registry: Registry; trust: TrustStore; config: RegistryConfig; log?: (line: string) => void }) {
    this.#reg = deps.registry;
    this.#trust = deps.trust;
    this.#config = deps.config;
    this.#log = deps.log ?? (() => {});
  }

  /**
   * In a serving registry: scans a stopped process left running are queued again, what is queued begins, and the
   * queue is looked at every few seconds for scans queued by others (`berth registry scan` over `--root`, another
   * process over the same PostgreSQL).
   */
  async start(): Promise<void> {
    const single = this.#config.postgres === undefined;
    await this.#trust.requeueStale(single ? Date.now() + 1 : Date.now() - STALE_MS);
    this.#started = true;
    this.#poll = setInterval(() => this.kick(), POLL_MS);
    this.#poll.unref();
    this.kick();
  }

  /**
   * Queues a scan of `repo@digest` (an index: of each image in it). `again` scans a scanned image anew. An
   * artifact is refused (InvalidArgument) when asked for with `again`, skipped otherwise.
   */
  async enqueue(repo: string, digest: Digest, opts: { again?: boolean } = {}): Promise<void> {
    const m = await this.#reg.store.manifestByDigest(repo, digest);
    if (!m) throw manifestUnknown(digest);
    const c = classify(m.mediaType, m.content);
    const repoId = (await this.#reg.store.repoId(repo))!;
    if (c.kind === 'artifact') {
      if (opts.again) throw new InvalidArgumentError(`${repo}@${digest} is not an image: it cannot be scanned`);
      return;
    }
    const digests = c.kind === 'index' ? c.children : [digest];
    for (const d of digests) {
      if (c.kind === 'index') {
        const child = await this.#reg.store.manifestByDigest(repo, d);
        if (!child || classify(child.mediaType, child.content).kind !== 'image') continue;
      }
      await this.#trust.enqueue(repoId, d, opts.again === true);
    }
    this.kick();
  }

  /** Starts working through the queue unless it is being worked through. */
  kick(): void {
    if (this.#closed || !this.#started) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain()
      .catch((err: unknown) => this.#log(`scan queue: ${errorMessage(err)}`))
      .finally(() => {
        this.#draining = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async #drain(): Promise<void> {
    for (;;) {
      this.#again = false;
      if (this.#closed) return;
      const job = await this.#trust.claim();
      if (!job) return;
      await this.#run(job);
    }
  }

  async #run(job: ScanRecord): Promise<void> {
    const t0 = Date.now();
    try {
      const m = await this.#reg.store.manifestByDigest(job.repo, job.digest);
      if (!m) return; // deleted meanwhile: its row went with it
      const c = classify(m.mediaType, m.content);
      const reply = await this.#call({
        repo: job.repo,
        digest: job.digest,
        layers: c.layers.map((l) => l.digest),
        maxAgeDays: 7,
      });
      if (reply.error !== undefined || !reply.report) throw new Error(reply.error ?? 'the scan gave no report');
      const report = reply.report;
      const reportDigest = await putReferrer(
        this.#reg,
        job.repo,
        { digest: m.digest, mediaType: m.mediaType, size: m.size },
        {
          artifactType: SCAN_REPORT_ARTIFACT_TYPE,
          mediaType: 'application/json',
          bytes: Buffer.from(JSON.stringify(report)),
          annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
        },
        SCANNER,
      );
      await this.#trust.finish(job.repoId, job.digest, {
        report: reportDigest,
        counts: report.counts,
        packages: report.packages,
      });
      this.#log(
        `scan: ${job.repo}@${job.digest}: ${report.packages} packages, ${report.vulnerabilities.length} vulnerabilities in ${Date.now() - t0} ms`,
      );
      this.#reg.emit({
        action: 'scan',
        repo: job.repo,
        digest: job.digest,
        actor: SCANNER,
        detail: { status: 'done', report: reportDigest, counts: report.counts, packages: report.packages },
      });
    } catch (err) {
      // Stopping mid-scan leaves it running: it is queued again at the next start.
      if (this.#closed) return;
      const error = errorMessage(err);
      await this.#trust.finish(job.repoId, job.digest, { error }).catch(() => undefined);
      this.#log(`scan: ${job.repo}@${job.digest} failed: ${error}`);
      this.#reg.emit({
        action: 'scan',
        repo: job.repo,
        digest: job.digest,
        actor: SCANNER,
        detail: { status: 'error', error },
      });
    }
  }

  #call(job: ScanJob): Promise<Reply> {
    const t = this.#ensureThread();
    const id = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      t.worker.postMessage({ id, job });
    }).finally(() => {
      if (this.#calls.size === 0 && this.#thread) this.#idle.arm();
    });
  }

  #ensureThread(): OwnedThread {
    this.#idle.disarm();
    if (this.#thread) return this.#thread;
    const t: OwnedThread = new OwnedThread(
      new URL('./scan-worker.ts', import.meta.url),
      { workerData: { config: this.#config }, name: 'scan' },
      'the scan thread',
      (err) => this.#gone(t, err),
    );
    t.worker.on('message', (r: Reply) => {
      const c = this.#calls.get(r.id);
      this.#calls.delete(r.id);
      c?.resolve(r);
    });
    this.#thread = t;
    return t;
  }

  /** Thread `t` is gone (it died, or was stopped): the scans it had fail with `err`. */
  #gone(t: OwnedThread, err: Error): void {
    if (this.#thread !== t) return;
    this.#thread = undefined;
    this.#idle.disarm();
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const c of calls) c.reject(err);
  }

  /** Stops the thread, if any: the scans under way fail. */
  async #stop(): Promise<void> {
    const t = this.#thread;
    if (!t) return;
    this.#gone(t, new Error('the scan thread was stopped'));
    await t.stop();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    await this.#stop();
    await this.#draining;
  }
}
