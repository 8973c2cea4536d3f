import type { FlagSpec } from '../flags.ts';

/**
 * Compose's own flags, before its command (`-f`, `-p`, `--project-directory`, …): parsed by main.ts, and read by
 * bundle.ts to find the command in the arguments before the bundle runs. Plain data with a type-only import, so
 * the loader reads it without loading the flag parser; left out of the bundle (required from source), so a
 * process holds it once.
 */
export const COMPOSE_FLAGS: readonly FlagSpec[] = [
  { name: 'file', kind: 'list', usage: 'Compose configuration files', short: 'f', valueName: 'stringArray' },
  { name: 'project-name', kind: 'string', usage: 'Project name', short: 'p' },
  { name: 'project-directory', kind: 'string', usage: 'Specify an alternate working directory' },
  { name: 'env-file', kind: 'list', usage: 'Specify an alternate environment file', valueName: 'stringArray' },
  { name: 'profile', kind: 'list', usage: 'Specify a profile to enable', valueName: 'stringArray' },
  {
    name: 'ansi',
    kind: 'string',
    usage: 'Control when to print ANSI control characters ("never"|"always"|"auto")',
    defaultValue: 'auto',
  },
  { name: 'progress', kind: 'string', usage: 'Set type of progress output (auto, tty, plain, json, quiet)' },
  { name: 'parallel', kind: 'int', usage: 'Control max parallelism, -1 for unlimited', defaultValue: '-1' },
  { name: 'compatibility', kind: 'bool', usage: 'Run compose in backward compatibility mode', hidden: true },
  { name: 'dry-run', kind: 'bool', usage: 'Execute command in dry run mode', hidden: true },
  {
    name: 'all-resources',
    kind: 'bool',
    usage: 'Include all resources, even those not used by services',
    hidden: true,
  },
];
