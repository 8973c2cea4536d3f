/**
 * `docker top` as dockerd runs it: the host's `ps` with the client's `ps_args` (default `-ef`) and `-q` with the
 * container's PIDs, again without `-q` if `ps` refuses that (some options cannot go with it); of its output, the
 * rows whose PID is the container's are kept (and the thread rows under them, whose PID column is `-`), each with as
 * many fields as there are titles, the last one taking the rest of the line.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BerthError } from '../util/errors.ts';

const exec = promisify(execFile);

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** dockerd refuses a renamed PID column other than `pid=` (it could not find the PIDs then). */
export function checkPsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g))
    if (m[1] !== 'pid') throw new BerthError(`specifying "${m[1]}=${m[2]}" is not allowed`);
}

/** Splits on ASCII whitespace only, as dockerd does (a command may hold other spaces). */
function fields(line: string): string[] {
  return line.split(/[ \t\n\v\f\r]+/).filter((f) => f !== '');
}

/** The rows of `ps` output that belong to the container's `pids`. */
export function parsePsOutput(output: string, pids: readonly number[]): TopResult {
  const lines = output.split('\n');
  const titles = fields(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new BerthError("Couldn't find PID field in ps output");
  const mine = new Set(pids);
  const processes: string[][] = [];
  const add = (f: string[]) => processes.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  let underMine = false;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const f = fields(line);
    const pid = f[pidIndex] ?? '';
    if (pid === '-') {
      if (underMine) add(f);
      continue;
    }
    if (!/^[+-]?\d+$/.test(pid)) throw new BerthError(`Unexpected pid '${pid}': not a number`);
    underMine = mine.has(Number(pid));
    if (underMine) add(f);
  }
  return { Titles: titles, Processes: processes };
}

/** `GET /containers/{id}/top`: the host's `ps` over the container's processes (host PIDs). */
export async function top(pids: readonly number[], psArgs = ''): Promise<TopResult> {
  const args = psArgs === '' ? '-ef' : psArgs;
  checkPsArgs(args);
  const argv = args.split(' ');
  let out: string;
  try {
    out = (await exec('ps', [...argv, `-q${pids.join(',')}`])).stdout;
  } catch {
    try {
      out = (await exec('ps', argv)).stdout;
    } catch (err) {
      const line = ((err as { stderr?: string }).stderr ?? '').split('\n')[0];
      throw new BerthError(`ps: ${line || (err as Error).message}`);
    }
  }
  return parsePsOutput(out, pids);
}
