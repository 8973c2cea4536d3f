/**
 * A child process run to completion with its output collected: the runtime's commands, and the network's `ip`,
 * `iptables` and netavark.
 */
import { spawn } from 'node:child_process';
import { CanceledError } from './errors.ts';

/** What a finished child process left: its exit code (or the signal that ended it) and its captured output. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  /** Aborting sends SIGTERM, then SIGKILL after `killGraceMs`; the call rejects with CanceledError. */
  signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL when aborted (default 2000). */
  killGraceMs?: number;
}

/**
 * Runs `file args...` to completion and collects its output. Never throws for a non-zero exit: the caller
 * decides what an exit code means. Rejects only when the program cannot be started or the signal aborts it.
 */
export function runProcess(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ProcessResult> {
  const { signal } = opts;
  if (signal?.aborted)
    return Promise.reject(new CanceledError(`'${file} ${args[0] ?? ''}' canceled`, { cause: signal.reason }));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let killTimer: NodeJS.Timeout | undefined;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 2000);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (aborted) {
        reject(new CanceledError(`'${file} ${args[0] ?? ''}' canceled`, { cause: signal?.reason }));
        return;
      }
      resolve({ code, signal: sig, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // a child that exits without reading its input is not our error
      child.stdin!.end(opts.input);
    }
  });
}
