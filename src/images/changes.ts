/**
 * `docker import --change` and `docker commit --change`: Dockerfile instructions applied to an image's run config,
 * read by the Dockerfile frontend (src/dockerfile/) as dockerd's BuildFromConfig reads them with the builder's parser.
 */
import type { ImageRunConfig } from '../oci/types.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { processWord, processWords } from '../util/shellwords.ts';
import { applyToConfig, type ConfigInstruction } from './configrules.ts';

/** The Dockerfile instructions `docker import --change` and `docker commit --change` accept (moby's validCommitCommands). */
const CHANGE_COMMANDS = new Set([
  'cmd',
  'entrypoint',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

/**
 * Applies `--change` lines (Dockerfile instructions) to an image's run config, as dockerd's BuildFromConfig does,
 * and returns the new config (the input is not modified). All lines are parsed and checked before any is applied:
 * an instruction outside CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR is an
 * InvalidArgumentError `<instr> is not a valid change command`, a malformed one an InvalidArgumentError with the
 * Dockerfile frontend's message for it.
 *
 * Each is applied by the rules a build's step follows (configrules.ts), words expanded from the environment so far
 * with the Dockerfile builder's word rules (src/util/shellwords.ts).
 *
 * The Dockerfile frontend is loaded on the first change to parse: berthd's start does not load it.
 */
export async function applyChanges(base: ImageRunConfig, changes: readonly string[]): Promise<ImageRunConfig> {
  const { instructions, escapeToken } = await parseChanges(changes);
  const cfg: ImageRunConfig = structuredClone(base);
  let cmdSet = false;
  for (const ins of instructions) {
    const env = envMap(cfg.Env ?? []);
    ({ cmdSet } = applyToConfig(cfg, ins, {
      word: (w) => processWord(w, env, { escapeToken }),
      words: (w) => processWords(w, env, { escapeToken }),
      cmdSet,
    }));
  }
  return cfg;
}

/** The changes as typed instructions, every one checked; a fault is an InvalidArgumentError with Docker's text. */
async function parseChanges(
  changes: readonly string[],
): Promise<{ instructions: ConfigInstruction[]; escapeToken: string }> {
  if (changes.length === 0) return { instructions: [], escapeToken: '\\' };
  const { DockerfileError, parse, parseNode } = await import('../dockerfile/index.ts');
  try {
    const parsed = parse(changes.join('\n'), { allowEmpty: true });
    for (const node of parsed.nodes) {
      const name = node.keyword.toLowerCase();
      if (!CHANGE_COMMANDS.has(name)) throw new InvalidArgumentError(`${name} is not a valid change command`);
    }
    // the ten change commands are the instructions that only set the run config
    const instructions = parsed.nodes.map((node) => parseNode(node) as ConfigInstruction);
    return { instructions, escapeToken: parsed.escapeToken };
  } catch (err) {
    if (err instanceof DockerfileError) throw new InvalidArgumentError(err.detail, { cause: err });
    throw err;
  }
}

function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}
