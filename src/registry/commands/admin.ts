import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidArgumentError } from '../../util/errors.ts';
import type { AdminApi, GcReport } from '../admin.ts';
import { defaultConfig, loadConfigFile, parseDuration } from '../config.ts';
import { isRole, type Role } from '../meta/access.ts';
import { type RegistryCommandContext, RegistryUsageError } from '../main.ts';
import { openRegistry } from '../open.ts';
import { AdminClient } from './client.ts';
import { PROJECT_FLAGS, projectSettingsFrom } from './ops.ts';

/** Flags every administration command takes: where the registry is. */
export const TARGET: NonNullable<ParseArgsConfig['options']> = {
  root: { type: 'string' },
  config: { type: 'string' },
  url: { type: 'string' },
  username: { type: 'string', short: 'u' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
};

export type Values = Record<string, string | boolean | undefined>;

/** Reads a secret from a terminal without echo, or a line from a pipe. */
export async function readSecret(ctx: RegistryCommandContext, prompt: string): Promise<string> {
  const input = ctx.streams.in as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  if (!input.isTTY || typeof input.setRawMode !== 'function')
    throw new InvalidArgumentError('no password: pass --password-stdin (or run in a terminal)');
  ctx.streams.err.write(prompt);
  input.setRawMode(true);
  try {
    return await new Promise<string>((res, rej) => {
      let buf = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            input.pause();
            return res(buf);
          }
          if (ch === '\x03' || ch === '\x04') {
            input.off('data', onData);
            input.pause();
            return rej(new InvalidArgumentError('no password given'));
          }
          if (ch === '\x7f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      input.on('data', onData);
      input.resume();
    });
  } finally {
    input.setRawMode(false);
    ctx.streams.err.write('\n');
  }
}

export async function readStdin(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** A new password: from stdin with --password-stdin, else asked twice on the terminal. */
async function newPassword(ctx: RegistryCommandContext, v: Values, who: string): Promise<string> {
  const pw = v['password-stdin'] ? await readStdin(ctx.streams.in) : await readSecret(ctx, `New password for ${who}: `);
  if (!v['password-stdin'] && (await readSecret(ctx, 'Repeat it: ')) !== pw)
    throw new InvalidArgumentError('the passwords differ');
  if (pw === '') throw new InvalidArgumentError('the password is empty');
  return pw;
}

/** The admin API a command works on: the root's data in this process, or a running registry's `--url`. */
export async function target(
  ctx: RegistryCommandContext,
  v: Values,
): Promise<{ api: AdminApi; close(): Promise<void> }> {
  if (typeof v.url === 'string') {
    if (v.root || v.config) throw new RegistryUsageError('--url and --root/--config exclude each other');
    const username = typeof v.username === 'string' ? v.username : undefined;
    let creds: { username: string; password: string } | undefined;
    if (username) {
      const password = ctx.env.BERTH_REGISTRY_PASSWORD ?? (await readSecret(ctx, `Password for ${username}: `));
      creds = { username, password };
    }
    const ca = typeof v.ca === 'string' ? await readFile(v.ca) : undefined;
    return {
      api: new AdminClient(v.url, creds, { ...(ca ? { ca } : {}), insecure: v.insecure === true }),
      close: async () => {},
    };
  }
  let config = defaultConfig();
  if (typeof v.config === 'string') config = await loadConfigFile(v.config, config);
  if (typeof v.root === 'string') config.root = resolve(v.root);
  const reg = await openRegistry({ ...config, auth: { mode: 'none' } });
  return { api: reg.admin({ name: '', kind: 'user', admin: true }), close: () => reg.close() };
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export function parse(
  ctx: RegistryCommandContext,
  extra: NonNullable<ParseArgsConfig['options']>,
  usage: string,
  min: number,
  max = min,
) {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    options: { ...TARGET, ...extra, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) return undefined;
  if (positionals.length < min || positionals.length > max)
    throw new RegistryUsageError(
      `"berth registry ${usage}" takes ${min === max ? min : `${min} to ${max}`} argument(s)`,
    );
  return { values: values as Values, args: positionals };
}

export function role(v: string): Role {
  if (!isRole(v)) throw new InvalidArgumentError(`invalid role "${v}": pull, push, delete or admin`);
  return v;
}

export const ADMIN_USAGE: Record<string, string> = {
  user: 'Usage:  berth registry user add NAME [--admin] [--password-stdin] | rm NAME | ls | passwd NAME [--password-stdin]\n',
  robot:
    'Usage:  berth registry robot add NAME --project P [--role pull|push|delete|admin] [--expires 30d] [-q] | rm NAME | ls\n',
  project:
    'Usage:  berth registry project create NAME [--public] [--quota BYTES] [--proxy UPSTREAM_URL [--proxy-user U]\n' +
    '          [--proxy-password-stdin] [--proxy-max-age 10m] [--proxy-insecure] [--proxy-ca FILE]]\n' +
    '        berth registry project set NAME [--quota BYTES|none] [--proxy URL|none …] | rm NAME | ls | members NAME\n' +
    '        berth registry project policy|key|artifacts … (see berth registry project policy --help)\n',
  grant: 'Usage:  berth registry grant USER PROJECT pull|push|delete|admin\n',
  revoke: 'Usage:  berth registry revoke USER PROJECT [ROLE]\n',
  gc: 'Usage:  berth registry gc [--dry-run] [--delete-untagged] [--grace 1h]\n',
};

/** `berth registry user|robot|project|grant|revoke|gc`. */
export async function adminCommand(noun: string, ctx: RegistryCommandContext): Promise<number> {
  const verb = noun === 'grant' || noun === 'revoke' || noun === 'gc' ? '' : (ctx.argv[0] ?? '');
  const sub: RegistryCommandContext = verb === '' ? ctx : { ...ctx, argv: ctx.argv.slice(1) };
  const out = ctx.streams.out;
  const key = `${noun} ${verb}`.trim();
  const specs: Record<string, [NonNullable<ParseArgsConfig['options']>, number, number?]> = {
    'user add': [{ admin: { type: 'boolean' }, 'password-stdin': { type: 'boolean' } }, 1],
    'user rm': [{}, 1],
    'user ls': [{}, 0],
    'user passwd': [{ 'password-stdin': { type: 'boolean' } }, 1],
    'robot add': [
      {
        project: { type: 'string' },
        role: { type: 'string' },
        expires: { type: 'string' },
        description: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
      1,
    ],
    'robot rm': [{}, 1],
    'robot ls': [{}, 0],
    'project create': [{ public: { type: 'boolean' }, ...PROJECT_FLAGS }, 1],
    'project set': [PROJECT_FLAGS, 1],
    'project rm': [{}, 1],
    'project ls': [{}, 0],
    'project members': [{}, 1],
    grant: [{}, 3],
    revoke: [{}, 2, 3],
    gc: [{ 'dry-run': { type: 'boolean' }, 'delete-untagged': { type: 'boolean' }, grace: { type: 'string' } }, 0],
  };
  const spec = specs[key];
  if (!spec) {
    if (verb === '' || verb === '--help' || verb === '-h') {
      out.write(ADMIN_USAGE[noun] ?? '');
      return verb === '' ? 1 : 0;
    }
    throw new RegistryUsageError(`unknown command "berth registry ${key}"\n${ADMIN_USAGE[noun] ?? ''}`);
  }
  const p = parse(sub, spec[0], key, spec[1], spec[2]);
  if (!p) {
    out.write(ADMIN_USAGE[noun] ?? '');
    return 0;
  }
  const { values: v, args } = p;
  const password = key === 'user add' || key === 'user passwd' ? await newPassword(ctx, v, args[0]!) : undefined;
  const settings = key === 'project create' || key === 'project set' ? await projectSettingsFrom(ctx, v) : undefined;
  const t = await target(ctx, v);
  try {
    const api = t.api;
    switch (key) {
      case 'user add':
        await api.addUser(args[0]!, password!, v.admin === true);
        break;
      case 'user rm':
        await api.removeUser(args[0]!);
        break;
      case 'user passwd':
        await api.setPassword(args[0]!, password!);
        break;
      case 'user ls':
        out.write(
          table([
            ['NAME', 'ADMIN', 'CREATED'],
            ...(await api.users()).map((u) => [u.name, u.admin ? 'yes' : 'no', u.createdAt]),
          ]),
        );
        break;
      case 'robot add': {
        if (typeof v.project !== 'string') throw new RegistryUsageError('robot add needs --project');
        const r = await api.addRobot(args[0]!, {
          project: v.project,
          role: role(typeof v.role === 'string' ? v.role : 'pull'),
          ...(typeof v.expires === 'string' ? { expiresInMs: parseDuration(v.expires) } : {}),
          ...(typeof v.description === 'string' ? { description: v.description } : {}),
        });
        if (v.quiet) out.write(`${r.secret}\n`);
        else out.write(`Name:    ${r.name}\nSecret:  ${r.secret}\nExpires: ${r.expiresAt ?? 'never'}\n`);
        break;
      }
      case 'robot rm':
        await api.removeRobot(args[0]!);
        break;
      case 'robot ls':
        out.write(
          table([
            ['NAME', 'ROLES', 'EXPIRES', 'CREATED'],
            ...(await api.robots()).map((r) => [
              r.name,
              r.roles.map((x) => `${x.project}:${x.role}`).join(',') || '-',
              r.expiresAt ?? 'never',
              r.createdAt,
            ]),
          ]),
        );
        break;
      case 'project create':
        await api.createProject(args[0]!, v.public === true, settings);
        break;
      case 'project set':
        await api.setProject(args[0]!, settings!);
        break;
      case 'project rm':
        await api.removeProject(args[0]!);
        break;
      case 'project ls':
        out.write(
          table([
            ['NAME', 'PUBLIC', 'QUOTA', 'USED', 'PROXY', 'CREATED'],
            ...(await api.projects()).map((x) => [
              x.name,
              x.public ? 'yes' : 'no',
              x.quota === null ? '-' : String(x.quota),
              String(x.usage),
              x.proxy ?? '-',
              x.createdAt,
            ]),
          ]),
        );
        break;
      case 'project members':
        out.write(
          table([
            ['ACCOUNT', 'KIND', 'ROLE'],
            ...(await api.members(args[0]!)).map((m) => [m.account, m.kind, m.role]),
          ]),
        );
        break;
      case 'grant':
        await api.grant(args[0]!, args[1]!, role(args[2]!));
        break;
      case 'revoke':
        await api.revoke(args[0]!, args[1]!, args[2] === undefined ? undefined : role(args[2]));
        break;
      case 'gc': {
        const report = await api.gc({
          dryRun: v['dry-run'] === true,
          deleteUntagged: v['delete-untagged'] === true,
          ...(typeof v.grace === 'string' ? { graceMs: parseDuration(v.grace) } : {}),
        });
        out.write(gcText(report));
        break;
      }
    }
    return 0;
  } finally {
    await t.close();
  }
}

export function gcText(r: GcReport): string {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const lines = [
    ...r.manifests.map((m) => `${verb} manifest ${m.repo}@${m.digest} (${m.size} bytes)`),
    ...r.blobs.map((b) => `${verb} blob ${b.digest} (${b.size} bytes)`),
    ...(r.orphans ?? []).map((b) => `${verb} orphaned blob ${b.digest} (${b.size} bytes, in storage but not listed)`),
    ...(r.adopted ?? []).map(
      (b) => `${r.dryRun ? 'would adopt' : 'adopted'} blob ${b.digest} (${b.size} bytes) into ${b.repo}`,
    ),
  ];
  lines.push(
    `${r.dryRun ? 'would free' : 'freed'} ${r.bytes} bytes: ${r.manifests.length} manifests, ${r.blobs.length} blobs` +
      (r.dryRun ? '' : `, ${r.links} links, ${r.uploads} uploads`) +
      `, ${(r.orphans ?? []).length} orphaned blobs, ${(r.adopted ?? []).length} adopted` +
      `; marking ${r.markMs} ms${r.dryRun ? '' : `, sweeping ${r.sweepMs} ms`}`,
  );
  return `${lines.join('\n')}\n`;
}
