import { errorMessage } from '../../util/errors.ts';
import type { OpsParts } from './service.ts';

const TICK_MS = 1000;
const POLL_WEBHOOKS_MS = 5000;
const PURGE_AUDIT_MS = 3_600_000;

/**
 * The serving registry's clock: runs retention rules and replication rules whose cron schedule is due (each claimed
 * in the metadata first, so one process runs it when several serve one store), picks up webhook deliveries other
 * processes queued, and purges old audit entries.
 */
export class Scheduler {
  readonly #ops: OpsParts;
  readonly #auditKeepMs: number;
  readonly #log: (line: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastPoll = 0;
  #lastPurge = 0;
  #stopped = false;

  constructor(ops: OpsParts, opts: { auditKeepMs: number; log: (line: string) => void }) {
    this.#ops = ops;
    this.#auditKeepMs = opts.auditKeepMs;
    this.#log = opts.log;
  }

  start(): void {
    this.#ops.webhooks.poll();
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    }, TICK_MS);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    try {
      for (const project of await this.#ops.retention.due()) {
        if (this.#stopped) return;
        try {
          const r = await this.#ops.retention.run(project, { actor: 'retention' });
          this.#log(`retention of ${project}: ${r.deleted.length} tags and ${r.manifests} manifests deleted`);
        } catch (err) {
          this.#ops.audit.add({
            at: Date.now(),
            actor: 'retention',
            action: 'retention-failed',
            repo: project,
            detail: errorMessage(err),
          });
          this.#log(`retention of ${project} failed: ${errorMessage(err)}`);
        }
      }
      await this.#ops.replication?.tick?.();
      if (now - this.#lastPoll >= POLL_WEBHOOKS_MS) {
        this.#lastPoll = now;
        this.#ops.webhooks.poll();
      }
      if (now - this.#lastPurge >= PURGE_AUDIT_MS) {
        this.#lastPurge = now;
        const n = await this.#ops.audit.purge(this.#auditKeepMs);
        if (n > 0) this.#log(`audit: ${n} entries older than the retention time purged`);
      }
    } catch (err) {
      this.#log(`scheduler: ${errorMessage(err)}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}
