/**
 * `berth registry project policy|key|artifacts …` and `berth registry scan …`: the trust policies from the command
 * line, on a registry's root in this process (`--root`) or through a running registry's admin API (`--url`).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ScanReport } from '../../engine-api/trust.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { readSecret, TARGET, table } from '../commands/admin.ts';
import { adminTarget } from '../commands/client.ts';
import { defaultConfig, loadConfigFile } from '../config.ts';
import { type RegistryCommandContext, RegistryUsageError } from '../main.ts';
import { openRegistry } from '../open.ts';
import type { ArtifactInfo, PolicyInfo, ScanInfo, TrustAdminApi } from './admin.ts';
import { importDbAt } from './admin.ts';
import { TrustAdminClient } from './client.ts';

type Values = Record<string, string | boolean | undefined>;

export const PROJECT_TRUST_USAGE = `Usage:  berth registry project policy NAME [--require-signatures off|pull|push] [--scan-on-push|--no-scan-on-push]
                                   [--prevent-severity CRITICAL|HIGH|MEDIUM|LOW|none] [--format json]
        berth registry project key add NAME FILE [--name KEY] | key rm NAME KEY | key ls NAME
        berth registry project artifacts NAME [--format json]
`;
export const SCAN_USAGE = `Usage:  berth registry scan run REPOSITORY[:TAG|@DIGEST]
        berth registry scan ls [--project P] [--repository R] [--format json]
        berth registry scan report REPOSITORY[:TAG|@DIGEST] [--format json]
        berth registry scan db import DIR|ZIP | scan db info
`;

interface Target {
  api: TrustAdminApi;
  importDb(source: { zip: string } | { dir: string }): ReturnType<TrustAdminClient['importDb']>;
  close(): Promise<void>;
}

async function target(ctx: RegistryCommandContext, v: Values): Promise<Target> {
  if (typeof v.url === 'string') {
    if (v.root || v.config) throw new RegistryUsageError('--url and --root/--config exclude each other');
    const username = typeof v.username === 'string' ? v.username : undefined;
    const creds = username
      ? { username, password: ctx.env.BERTH_REGISTRY_PASSWORD ?? (await readSecret(ctx, `Password for ${username}: `)) }
      : undefined;
    const ca = typeof v.ca === 'string' ? await readFile(v.ca) : undefined;
    const client = new TrustAdminClient(
      adminTarget(v.url, creds, { ...(ca ? { ca } : {}), insecure: v.insecure === true }),
    );
    return { api: client, importDb: (s) => client.importDb(s), close: async () => {} };
  }
  let config = defaultConfig();
  if (typeof v.config === 'string') config = await loadConfigFile(v.config, config);
  if (typeof v.root === 'string') config.root = resolve(v.root);
  const reg = await openRegistry({ ...config, auth: { mode: 'none' } });
  return {
    api: reg.trust.admin({ name: '', kind: 'user', admin: true }),
    importDb: (s) => importDbAt(reg.trust.dir, s),
    close: () => reg.close(),
  };
}

function parse(ctx: RegistryCommandContext, extra: NonNullable<ParseArgsConfig['options']>, n: number, what: string) {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    options: { ...TARGET, ...extra, format: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    allowNegative: true,
  });
  if (values.help) return undefined;
  if (positionals.length !== n) throw new RegistryUsageError(`"berth registry ${what}" takes ${n} argument(s)`);
  const format = values.format;
  if (format !== undefined && format !== 'json' && format !== 'table')
    throw new InvalidArgumentError(`invalid format "${format}": table or json`);
  return { v: values as Values, args: positionals };
}

const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

function policyText(p: PolicyInfo): string {
  const lines = [
    ['Project:', p.project],
    ['Signatures required:', p.requireSignatures === 'off' ? 'no' : `at ${p.requireSignatures}`],
    ['Scan on push:', p.scanOnPush ? 'yes' : 'no'],
    ['Prevent pulls from:', p.preventSeverity ?? 'no severity'],
    ['Trusted keys:', p.keys.length === 0 ? 'none' : ''],
  ].map(([k, x]) => `${k!.padEnd(21)}${x}`);
  let out = `${lines.join('\n').trimEnd()}\n`;
  if (p.keys.length > 0)
    out += table([['  NAME', 'KIND', 'FINGERPRINT'], ...p.keys.map((k) => [`  ${k.name}`, k.kind, k.fingerprint])]);
  return out;
}

function countsText(s: ScanInfo | null): string {
  if (!s) return '-';
  if (s.status !== 'done') return s.status;
  const c = s.counts;
  const parts = c
    ? (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`)
    : [];
  return parts.length ? parts.join(', ') : 'none';
}

function scansText(rows: ScanInfo[]): string {
  return table([
    ['REPOSITORY', 'DIGEST', 'STATUS', 'VULNERABILITIES', 'PACKAGES', 'FINISHED'],
    ...rows.map((s) => [
      s.repository,
      s.digest.slice(0, 19),
      s.status,
      s.status === 'error' ? (s.error ?? '') : countsText(s),
      s.packages === null ? '-' : String(s.packages),
      s.finishedAt ?? '-',
    ]),
  ]);
}

function artifactsText(rows: ArtifactInfo[]): string {
  let out = table([
    ['REPOSITORY', 'TAGS', 'DIGEST', 'SIGNED', 'VULNERABILITIES', 'PULLABLE'],
    ...rows.map((a) => [
      a.repository,
      a.tags.join(',') || '<none>',
      a.digest.slice(0, 19),
      a.signed ? `yes (${a.signedBy})` : 'no',
      countsText(a.scan),
      a.pullable ? 'yes' : 'no',
    ]),
  ]);
  for (const a of rows) if (!a.pullable) out += `${a.repository}@${a.digest}: ${a.reason}\n`;
  return out;
}

function reportText(r: { scans: ScanInfo[]; reports: ScanReport[] }): string {
  let out = scansText(r.scans);
  for (const rep of r.reports) {
    out += `\n${rep.image?.name ?? ''}@${rep.image?.digest ?? ''}: ${rep.packages} packages, ${rep.vulnerabilities.length} vulnerabilities\n`;
    if (rep.vulnerabilities.length > 0)
      out += table([
        ['PACKAGE', 'INSTALLED', 'VULNERABILITY', 'SEVERITY', 'FIXED IN'],
        ...rep.vulnerabilities.map((x) => [x.package.name, x.package.version, x.id, x.severity, x.fixedVersion ?? '']),
      ]);
  }
  return out;
}

/** `berth registry project policy|key|artifacts …`. */
export async function projectTrustCommand(ctx: RegistryCommandContext): Promise<number> {
  const [verb, ...rest] = ctx.argv;
  const out = ctx.streams.out;
  const sub = (argv: string[]) => ({ ...ctx, argv });
  let p: ReturnType<typeof parse>;
  let key = verb ?? '';
  if (verb === 'policy') {
    p = parse(
      sub(rest),
      {
        'require-signatures': { type: 'string' },
        'scan-on-push': { type: 'boolean' },
        'prevent-severity': { type: 'string' },
      },
      1,
      'project policy',
    );
  } else if (verb === 'artifacts') p = parse(sub(rest), {}, 1, 'project artifacts');
  else if (verb === 'key') {
    const [kv, ...kr] = rest;
    key = `key ${kv ?? ''}`;
    if (kv === 'add') p = parse(sub(kr), { name: { type: 'string' } }, 2, 'project key add');
    else if (kv === 'rm') p = parse(sub(kr), {}, 2, 'project key rm');
    else if (kv === 'ls') p = parse(sub(kr), {}, 1, 'project key ls');
    else
      throw new RegistryUsageError(`unknown command "berth registry project key ${kv ?? ''}"\n${PROJECT_TRUST_USAGE}`);
  } else throw new RegistryUsageError(`unknown command "berth registry project ${verb}"\n${PROJECT_TRUST_USAGE}`);
  if (!p) {
    out.write(PROJECT_TRUST_USAGE);
    return 0;
  }
  const { v, args } = p;
  const asJson = v.format === 'json';
  // Read a key file before opening anything: a file that is not there fails first.
  const keyFile = key === 'key add' ? await readFile(args[1]!) : undefined;
  const t = await target(ctx, v);
  try {
    const api = t.api;
    switch (key) {
      case 'policy': {
        const change = {
          ...(typeof v['require-signatures'] === 'string' ? { requireSignatures: v['require-signatures'] } : {}),
          ...(typeof v['scan-on-push'] === 'boolean' ? { scanOnPush: v['scan-on-push'] } : {}),
          ...(typeof v['prevent-severity'] === 'string' ? { preventSeverity: v['prevent-severity'] } : {}),
        };
        const info =
          Object.keys(change).length > 0 ? await api.setPolicy(args[0]!, change) : await api.policy(args[0]!);
        out.write(asJson ? json(info) : policyText(info));
        break;
      }
      case 'key add': {
        const name = typeof v.name === 'string' ? v.name : basename(args[1]!).replace(/\.[^.]*$/, '');
        const k = await api.addKey(args[0]!, name, keyFile!);
        out.write(asJson ? json(k) : `Added ${k.kind} key "${k.name}" (${k.fingerprint}) to project ${args[0]}\n`);
        break;
      }
      case 'key rm':
        await api.removeKey(args[0]!, args[1]!);
        break;
      case 'key ls': {
        const keys = (await api.policy(args[0]!)).keys;
        out.write(
          asJson
            ? json(keys)
            : table([
                ['NAME', 'KIND', 'FINGERPRINT', 'ADDED'],
                ...keys.map((k) => [k.name, k.kind, k.fingerprint, k.createdAt]),
              ]),
        );
        break;
      }
      case 'artifacts': {
        const rows = await api.artifacts(args[0]!);
        out.write(asJson ? json(rows) : artifactsText(rows));
        break;
      }
    }
    return 0;
  } finally {
    await t.close();
  }
}

/** `berth registry scan run|ls|report|db …`. */
export async function scanCommand(ctx: RegistryCommandContext): Promise<number> {
  const [verb, ...rest] = ctx.argv;
  const out = ctx.streams.out;
  const sub = (argv: string[]) => ({ ...ctx, argv });
  let key = verb ?? '';
  let p: ReturnType<typeof parse>;
  if (verb === 'run') p = parse(sub(rest), {}, 1, 'scan run');
  else if (verb === 'report') p = parse(sub(rest), {}, 1, 'scan report');
  else if (verb === 'ls')
    p = parse(sub(rest), { project: { type: 'string' }, repository: { type: 'string' } }, 0, 'scan ls');
  else if (verb === 'db' && (rest[0] === 'import' || rest[0] === 'info')) {
    key = `db ${rest[0]}`;
    p = parse(sub(rest.slice(1)), {}, rest[0] === 'import' ? 1 : 0, `scan ${key}`);
  } else if (verb === undefined || verb === '--help' || verb === '-h') {
    out.write(SCAN_USAGE);
    return verb === undefined ? 1 : 0;
  } else throw new RegistryUsageError(`unknown command "berth registry scan ${ctx.argv.join(' ')}"\n${SCAN_USAGE}`);
  if (!p) {
    out.write(SCAN_USAGE);
    return 0;
  }
  const { v, args } = p;
  const asJson = v.format === 'json';
  let source: { zip: string } | { dir: string } | undefined;
  if (key === 'db import') {
    const path = resolve(args[0]!);
    source = (await stat(path)).isDirectory() ? { dir: path } : { zip: path };
  }
  const t = await target(ctx, v);
  try {
    const api = t.api;
    switch (key) {
      case 'run': {
        const rows = await api.queueScan(args[0]!);
        out.write(asJson ? json(rows) : scansText(rows));
        break;
      }
      case 'ls': {
        const rows = await api.scans({
          ...(typeof v.project === 'string' ? { project: v.project } : {}),
          ...(typeof v.repository === 'string' ? { repository: v.repository } : {}),
        });
        out.write(asJson ? json(rows) : scansText(rows));
        break;
      }
      case 'report': {
        const r = await api.report(args[0]!);
        out.write(asJson ? json(r) : reportText(r));
        break;
      }
      case 'db import': {
        const r = await t.importDb(source!);
        if (asJson) out.write(json(r));
        else {
          out.write(`Imported ${r.imported} advisories (${r.skipped} skipped); the database has ${r.advisories}\n`);
          for (const e of r.errors.slice(0, 20)) ctx.streams.err.write(`skipped: ${e}\n`);
        }
        break;
      }
      case 'db info': {
        const r = await api.dbInfo();
        out.write(
          asJson
            ? json(r)
            : `Advisories: ${r.advisories}\nImported:   ${r.importedAt ?? 'never'}${r.ageDays !== undefined ? ` (${r.ageDays} days ago)` : ''}\n`,
        );
        break;
      }
    }
    return 0;
  } finally {
    await t.close();
  }
}
