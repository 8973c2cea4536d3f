import { compareNames } from '../../compose/index.ts';
import type { FlagSpec } from '../flags.ts';
import { EXEC_COMMANDS, INFO_COMMANDS, LIFECYCLE_COMMANDS } from './table.ts';
import type { ComposeInvocation } from './main.ts';

/** One `compose` command: its flags, and a `run` that turns them into options for src/compose/. */
export interface ComposeCommand {
  name: string;
  aliases?: readonly string[];
  use: string;
  short: string;
  flags?: readonly FlagSpec[];
  /** False when flags after the first argument belong to it (`exec SERVICE CMD -x`). */
  interspersed?: boolean;
  hidden?: boolean;
  run(inv: ComposeInvocation): Promise<void>;
}

export const COMPOSE_COMMANDS: readonly ComposeCommand[] = [
  ...LIFECYCLE_COMMANDS,
  ...INFO_COMMANDS,
  ...EXEC_COMMANDS,
].sort((a, b) => compareNames(a.name, b.name));
