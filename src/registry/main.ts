import type { Readable } from 'node:stream';
import { BerthError, errorMessage } from '../util/errors.ts';

/** The standard streams, as the `berth` CLI hands them over. */
export interface RegistryStreams {
  in: Readable & { isTTY?: boolean };
  out: { write(text: string): void };
  err: { write(text: string): void };
}

export interface RegistryCommandContext {
  argv: string[];
  env: NodeJS.ProcessEnv;
  streams: RegistryStreams;
  signal: AbortSignal;
}

/** A failure of the command line itself (exit status 125, as the docker CLI's flag errors). */
export class RegistryUsageError extends BerthError {}

export const USAGE = `Usage:  berth registry COMMAND

An OCI distribution registry, and its administration

Commands:
  serve      Run the registry server
  gc         Collect garbage (blobs and manifests nothing needs)
  user       Manage users (add, rm, ls, passwd)
  robot      Manage robot accounts (add, rm, ls)
  project    Manage projects (create, set, rm, ls, members): quotas, pull-through caches; policy, key,
             artifacts: signatures required, scan on push, no pulls of vulnerable images
  grant      Give a user or robot a role in a project
  revoke     Take a role away
  immutable  Tags no push may move and no delete may remove (add, ls, rm)
  retention  Which tags a project keeps (add, ls, rm, run)
  webhook    HTTP notifications of a project's events (add, ls, rm, deliveries)
  audit      Who did what to which repository, when, from where
  replication  Copy images to or from other registries (add, ls, rm, run, status)
  scan       Vulnerability scans (run, ls, report) and their database (db import, db info)

Administration commands take --root DIR (the registry's data, as serve) or --url URL (a running registry's
admin API, with --username and the password from BERTH_REGISTRY_PASSWORD or a prompt).
`;

/** `berth registry …`: resolves with the exit status. */
export async function registryMain(ctx: RegistryCommandContext): Promise<number> {
  const [cmd, ...rest] = ctx.argv;
  const sub = { ...ctx, argv: rest };
  try {
    switch (cmd) {
      case 'serve': {
        const { serveCommand } = await import('./commands/serve.ts');
        return await serveCommand(sub);
      }
      case 'scan': {
        const { scanCommand } = await import('./trust/commands.ts');
        return await scanCommand(sub);
      }
      case 'project': {
        if (rest[0] === 'policy' || rest[0] === 'key' || rest[0] === 'artifacts') {
          const { projectTrustCommand } = await import('./trust/commands.ts');
          return await projectTrustCommand(sub);
        }
        const { adminCommand } = await import('./commands/admin.ts');
        return await adminCommand(cmd, sub);
      }
      case 'user':
      case 'robot':
      case 'grant':
      case 'revoke':
      case 'gc': {
        const { adminCommand } = await import('./commands/admin.ts');
        return await adminCommand(cmd, sub);
      }
      case 'immutable':
      case 'retention':
      case 'webhook':
      case 'audit':
      case 'replication': {
        const { opsCommand } = await import('./commands/ops.ts');
        return await opsCommand(cmd, sub);
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        (cmd === undefined ? ctx.streams.err : ctx.streams.out).write(USAGE);
        return cmd === undefined ? 1 : 0;
      default:
        throw new RegistryUsageError(`unknown command "berth registry ${cmd}"\n\n${USAGE}`);
    }
  } catch (err) {
    ctx.streams.err.write(`berth registry: ${errorMessage(err)}\n`);
    if (err instanceof RegistryUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return 125;
    return 1;
  }
}
