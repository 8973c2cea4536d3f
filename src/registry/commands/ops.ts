import { readFile } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';
import { InvalidArgumentError } from '../../util/errors.ts';
import { ramInBytes } from '../../util/units.ts';
import { parseDuration } from '../config.ts';
import { type RegistryCommandContext, RegistryUsageError } from '../main.ts';
import type {
  AuditQuery,
  ExecutionInfo,
  ProjectSettings,
  ProxySettings,
  RemoteInput,
  ReplicationRuleInput,
  RetentionReport,
  WebhookEvent,
} from '../ops/api.ts';
import { type Values, parse, readStdin, table, target } from './admin.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `1GiB`, `500m`, `1048576`; `none` (no limit) is null. */
export function parseQuota(v: string): number | null {
  if (v === 'none' || v === 'unlimited') return null;
  try {
    return ramInBytes(v);
  } catch (err) {
    throw new InvalidArgumentError(`invalid quota "${v}": ${(err as Error).message} (e.g. 10GiB, 500m, none)`);
  }
}

/** `2h`, `7d` (that long ago), or a date and time (`2024-03-03T10:00:00Z`). */
export function parseSince(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(v)) return now - parseDuration(v);
  const t = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid time "${v}": a duration ago (2h, 7d) or a date`);
  return t;
}

export const PROJECT_FLAGS: Options = {
  quota: { type: 'string' },
  proxy: { type: 'string' },
  'proxy-user': { type: 'string' },
  'proxy-password-stdin': { type: 'boolean' },
  'proxy-max-age': { type: 'string' },
  'proxy-insecure': { type: 'boolean' },
  'proxy-ca': { type: 'string' },
};

/** A project's settings from `--quota` and `--proxy…` flags (what `project create` and `project set` take). */
export async function projectSettingsFrom(ctx: RegistryCommandContext, v: Values): Promise<ProjectSettings> {
  const s: ProjectSettings = {};
  if (typeof v.quota === 'string') s.quota = parseQuota(v.quota);
  if (typeof v.proxy === 'string') {
    if (v.proxy === 'none') s.proxy = null;
    else {
      const p: ProxySettings = { url: v.proxy };
      if (typeof v['proxy-user'] === 'string') {
        p.username = v['proxy-user'];
        p.password = v['proxy-password-stdin'] ? await readStdin(ctx.streams.in) : (ctx.env.BERTH_PROXY_PASSWORD ?? '');
      }
      if (typeof v['proxy-max-age'] === 'string') p.maxAgeMs = parseDuration(v['proxy-max-age']);
      if (v['proxy-insecure']) p.insecure = true;
      if (typeof v['proxy-ca'] === 'string') p.ca = await readFile(v['proxy-ca'], 'utf8');
      s.proxy = p;
    }
  } else if (v['proxy-user'] || v['proxy-max-age'] || v['proxy-insecure'] || v['proxy-ca'])
    throw new RegistryUsageError('the --proxy-… flags go with --proxy URL');
  return s;
}

export const OPS_USAGE: Record<string, string> = {
  immutable: 'Usage:  berth registry immutable add PROJECT GLOB | ls PROJECT | rm PROJECT ID|GLOB\n',
  retention:
    'Usage:  berth registry retention add PROJECT --keep-last N [--keep-pulled DAYS] [--match GLOB] [--schedule CRON] [--force]\n' +
    '        berth registry retention ls PROJECT | rm PROJECT ID | run PROJECT [--dry-run] [--force]\n',
  webhook:
    'Usage:  berth registry webhook add PROJECT URL --secret S [--events push,pull,delete,scan,quota,replication]\n' +
    '        berth registry webhook ls PROJECT | rm PROJECT ID | deliveries PROJECT [--hook ID] [--state S] [--limit N]\n',
  audit:
    'Usage:  berth registry audit [--repo R] [--since T] [--until T] [--actor A] [--action A] [--limit N] [--format json]\n',
  replication:
    'Usage:  berth registry replication add NAME --direction push|pull --remote URL --repo GLOB [--tag GLOB]\n' +
    '          [--label KEY[=VALUE]] [--trigger manual|push|cron:EXPR] [--deletes] [--dest-prefix P]\n' +
    '          [--remote-user U [--remote-password-stdin]] [--remote-ca FILE] [--remote-insecure] [--timeout 30s]\n' +
    '        berth registry replication ls | rm NAME | run NAME [--detach] | status NAME [--execution ID] [--format json]\n',
};

const SPECS: Record<string, [Options, number, number?]> = {
  'immutable add': [{}, 2],
  'immutable ls': [{}, 1],
  'immutable rm': [{}, 2],
  'retention add': [
    {
      'keep-last': { type: 'string' },
      'keep-pulled': { type: 'string' },
      match: { type: 'string' },
      schedule: { type: 'string' },
      force: { type: 'boolean' },
    },
    1,
  ],
  'retention ls': [{}, 1],
  'retention rm': [{}, 2],
  'retention run': [{ 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, format: { type: 'string' } }, 1],
  'webhook add': [{ secret: { type: 'string' }, events: { type: 'string' } }, 2],
  'webhook ls': [{}, 1],
  'webhook rm': [{}, 2],
  'webhook deliveries': [
    { hook: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' }, format: { type: 'string' } },
    1,
  ],
  audit: [
    {
      repo: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string' },
      limit: { type: 'string' },
      format: { type: 'string' },
    },
    0,
  ],
  'replication add': [
    {
      direction: { type: 'string' },
      remote: { type: 'string' },
      repo: { type: 'string' },
      tag: { type: 'string' },
      label: { type: 'string' },
      trigger: { type: 'string' },
      deletes: { type: 'boolean' },
      'dest-prefix': { type: 'string' },
      'remote-user': { type: 'string' },
      'remote-password-stdin': { type: 'boolean' },
      'remote-ca': { type: 'string' },
      'remote-insecure': { type: 'boolean' },
      timeout: { type: 'string' },
    },
    1,
  ],
  'replication ls': [{ format: { type: 'string' } }, 0],
  'replication rm': [{}, 1],
  'replication run': [{ detach: { type: 'boolean' }, format: { type: 'string' } }, 1],
  'replication status': [{ execution: { type: 'string' }, format: { type: 'string' } }, 1],
};

const int = (v: string | boolean | undefined, flag: string): number | undefined => {
  if (typeof v !== 'string') return undefined;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`invalid ${flag} "${v}": a whole number`);
  return Number(v);
};

const when = (iso: string | null) => iso ?? '-';

function seconds(e: ExecutionInfo): string {
  if (!e.endedAt) return '-';
  return `${((Date.parse(e.endedAt) - Date.parse(e.startedAt)) / 1000).toFixed(1)}s`;
}

export function executionsText(list: ExecutionInfo[]): string {
  return table([
    ['ID', 'STATE', 'TRIGGER', 'STARTED', 'DURATION', 'COPIED', 'SKIPPED', 'FAILED', 'DELETED', 'BYTES'],
    ...list.map((e) => [
      String(e.id),
      e.state,
      e.trigger,
      e.startedAt,
      seconds(e),
      String(e.copied),
      String(e.skipped),
      String(e.failed),
      String(e.deleted),
      String(e.bytes),
    ]),
  ]);
}

function retentionText(r: RetentionReport): string {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const lines = r.deleted.map((d) => `${verb} ${d.repo}:${d.tag} (${d.digest})`);
  lines.push(
    `${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted.length} tags` +
      (r.dryRun ? '' : ` and ${r.manifests} manifests (garbage collection frees their blobs)`) +
      `; kept ${r.kept.length}`,
  );
  return `${lines.join('\n')}\n`;
}

/** `berth registry immutable|retention|webhook|audit|replication …`. */
export async function opsCommand(noun: string, ctx: RegistryCommandContext): Promise<number> {
  const verb = noun === 'audit' ? '' : (ctx.argv[0] ?? '');
  const sub: RegistryCommandContext = verb === '' ? ctx : { ...ctx, argv: ctx.argv.slice(1) };
  const out = ctx.streams.out;
  const key = `${noun} ${verb}`.trim();
  const spec = SPECS[key];
  if (!spec) {
    if (verb === '' || verb === '--help' || verb === '-h') {
      out.write(OPS_USAGE[noun] ?? '');
      return verb === '' ? 1 : 0;
    }
    throw new RegistryUsageError(`unknown command "berth registry ${key}"\n${OPS_USAGE[noun] ?? ''}`);
  }
  const p = parse(sub, spec[0], key, spec[1], spec[2]);
  if (!p) {
    out.write(OPS_USAGE[noun] ?? '');
    return 0;
  }
  const { values: v, args } = p;
  const json = v.format === 'json';
  if (v.format !== undefined && !json) throw new RegistryUsageError(`invalid --format "${v.format}": json`);
  // Flags that read stdin are read before the registry is opened (a prompt for --url comes after).
  let remotePassword: string | undefined;
  if (key === 'replication add' && typeof v['remote-user'] === 'string')
    remotePassword = v['remote-password-stdin']
      ? await readStdin(ctx.streams.in)
      : (ctx.env.BERTH_REMOTE_PASSWORD ?? undefined);
  const t = await target(ctx, v);
  const api = t.api;
  const show = (value: unknown, text: () => string) => out.write(json ? `${JSON.stringify(value, null, 2)}\n` : text());
  try {
    switch (key) {
      case 'immutable add': {
        const r = await api.addImmutable(args[0]!, args[1]!);
        out.write(`${r.id}\n`);
        break;
      }
      case 'immutable ls':
        out.write(
          table([
            ['ID', 'PATTERN', 'CREATED'],
            ...(await api.immutableRules(args[0]!)).map((r) => [String(r.id), r.pattern, r.createdAt]),
          ]),
        );
        break;
      case 'immutable rm':
        await api.removeImmutable(args[0]!, args[1]!);
        break;
      case 'retention add': {
        const keepLast = int(v['keep-last'], '--keep-last');
        if (keepLast === undefined) throw new RegistryUsageError('retention add needs --keep-last N');
        const days = int(v['keep-pulled'], '--keep-pulled');
        const r = await api.addRetention(
          args[0]!,
          {
            keepLast,
            ...(days !== undefined ? { keepPulledDays: days } : {}),
            ...(typeof v.match === 'string' ? { match: v.match } : {}),
            ...(typeof v.schedule === 'string' ? { schedule: v.schedule } : {}),
          },
          v.force === true,
        );
        out.write(`${r.id}\n`);
        break;
      }
      case 'retention ls':
        out.write(
          table([
            ['ID', 'KEEP LAST', 'KEEP PULLED', 'MATCH', 'SCHEDULE', 'NEXT RUN'],
            ...(await api.retentionRules(args[0]!)).map((r) => [
              String(r.id),
              String(r.keepLast),
              r.keepPulledDays === null ? '-' : `${r.keepPulledDays}d`,
              r.match ?? '-',
              r.schedule ?? '-',
              when(r.nextRunAt),
            ]),
          ]),
        );
        break;
      case 'retention rm':
        await api.removeRetention(args[0]!, int(args[1], 'rule ID')!);
        break;
      case 'retention run': {
        const r = await api.runRetention(args[0]!, { dryRun: v['dry-run'] === true, force: v.force === true });
        show(r, () => retentionText(r));
        break;
      }
      case 'webhook add': {
        if (typeof v.secret !== 'string') throw new RegistryUsageError('webhook add needs --secret S');
        const events = typeof v.events === 'string' ? (v.events.split(',') as WebhookEvent[]) : undefined;
        const r = await api.addWebhook(args[0]!, { url: args[1]!, secret: v.secret, ...(events ? { events } : {}) });
        out.write(`${r.id}\n`);
        break;
      }
      case 'webhook ls':
        out.write(
          table([
            ['ID', 'URL', 'EVENTS', 'PENDING', 'DELIVERED', 'FAILED'],
            ...(await api.webhooks(args[0]!)).map((w) => [
              String(w.id),
              w.url,
              w.events.join(','),
              String(w.pending),
              String(w.delivered),
              String(w.failed),
            ]),
          ]),
        );
        break;
      case 'webhook rm':
        await api.removeWebhook(args[0]!, int(args[1], 'webhook ID')!);
        break;
      case 'webhook deliveries': {
        const hookId = int(v.hook, '--hook');
        const limit = int(v.limit, '--limit');
        const list = await api.deliveries(args[0]!, {
          ...(hookId !== undefined ? { hookId } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(typeof v.state === 'string' ? { state: v.state } : {}),
        });
        show(list, () =>
          table([
            ['ID', 'HOOK', 'EVENT', 'STATE', 'ATTEMPTS', 'STATUS', 'ERROR', 'CREATED'],
            ...list.map((d) => [
              String(d.id),
              String(d.hookId),
              d.event,
              d.state,
              String(d.attempts),
              d.lastStatus === null ? '-' : String(d.lastStatus),
              d.lastError ?? '-',
              d.createdAt,
            ]),
          ]),
        );
        break;
      }
      case 'audit': {
        const q: AuditQuery = {};
        if (typeof v.repo === 'string') q.repo = v.repo;
        if (typeof v.actor === 'string') q.actor = v.actor;
        if (typeof v.action === 'string') q.action = v.action;
        if (typeof v.since === 'string') q.since = parseSince(v.since);
        if (typeof v.until === 'string') q.until = parseSince(v.until);
        const limit = int(v.limit, '--limit');
        if (limit !== undefined) q.limit = limit;
        const list = await api.audit(q);
        show(list, () =>
          table([
            ['TIME', 'ACTOR', 'ADDRESS', 'ACTION', 'REPOSITORY', 'REFERENCE', 'DIGEST'],
            ...list.map((e) => [
              e.at,
              e.actor || '-',
              e.address ?? '-',
              e.action,
              e.repo ?? '-',
              e.reference ?? '-',
              e.digest ?? '-',
            ]),
          ]),
        );
        break;
      }
      case 'replication add': {
        const direction = v.direction;
        if (direction !== 'push' && direction !== 'pull')
          throw new RegistryUsageError(
            typeof direction === 'string'
              ? `invalid --direction "${direction}": push or pull`
              : 'replication add needs --direction push or pull',
          );
        if (typeof v.remote !== 'string') throw new RegistryUsageError('replication add needs --remote URL');
        if (typeof v.repo !== 'string') throw new RegistryUsageError('replication add needs --repo GLOB');
        const remote: RemoteInput = { url: v.remote };
        if (typeof v['remote-user'] === 'string') {
          remote.username = v['remote-user'];
          if (remotePassword !== undefined) remote.password = remotePassword;
        }
        if (typeof v['remote-ca'] === 'string') remote.ca = await readFile(v['remote-ca'], 'utf8');
        if (v['remote-insecure']) remote.insecure = true;
        if (typeof v.timeout === 'string') remote.timeoutMs = parseDuration(v.timeout);
        const rule: ReplicationRuleInput = {
          name: args[0]!,
          direction,
          remote,
          repo: v.repo,
          trigger: typeof v.trigger === 'string' ? v.trigger : 'manual',
        };
        if (typeof v.tag === 'string') rule.tag = v.tag;
        if (typeof v.label === 'string') rule.label = v.label;
        if (typeof v['dest-prefix'] === 'string') rule.destPrefix = v['dest-prefix'];
        if (v.deletes) rule.deletes = true;
        await api.addReplication(rule);
        break;
      }
      case 'replication ls': {
        const list = await api.replicationRules();
        show(list, () =>
          table([
            ['NAME', 'DIRECTION', 'REMOTE', 'REPOSITORIES', 'TAGS', 'TRIGGER', 'DELETES', 'LAST RUN'],
            ...list.map((r) => [
              r.name,
              r.direction,
              r.remote.url,
              r.repo,
              r.tag ?? '**',
              r.trigger,
              r.deletes ? 'yes' : 'no',
              r.last ? `${r.last.state} ${r.last.startedAt}` : '-',
            ]),
          ]),
        );
        break;
      }
      case 'replication rm':
        await api.removeReplication(args[0]!);
        break;
      case 'replication run': {
        const e = await api.runReplication(args[0]!, { wait: v.detach !== true });
        if (v.detach) {
          show(e, () => `${e.id}\n`);
          break;
        }
        show(e, () => executionsText([e]) + (e.error ? `error: ${e.error}\n` : ''));
        return e.state === 'succeeded' ? 0 : 1;
      }
      case 'replication status': {
        const list = await api.executions(args[0]!, 20);
        const id = int(v.execution, '--execution') ?? list[0]?.id;
        const detail = id !== undefined ? await api.execution(id) : undefined;
        show({ executions: list, items: detail?.items ?? [] }, () => {
          let text = executionsText(list);
          if (detail && detail.items.length > 0) {
            text += `\nexecution ${detail.execution.id}:\n`;
            text += table([
              ['REPOSITORY', 'TAG', 'DIGEST', 'STATE', 'BYTES', 'ERROR'],
              ...detail.items.map((i) => [
                i.repo,
                i.tag ?? '-',
                i.digest ?? '-',
                i.state,
                String(i.bytes),
                i.error ?? '-',
              ]),
            ]);
          }
          return text;
        });
        break;
      }
    }
    return 0;
  } finally {
    await t.close();
  }
}
