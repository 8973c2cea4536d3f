/** PID files: a process's number in decimal, as conmon, runc, aardvark-dns and berthd itself write them. */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isErrno } from './errors.ts';

/** The PID a PID file's text holds; 0 when it holds no positive whole number (a file cut short, or empty). */
export function parsePid(text: string): number {
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

/** The PID in the file at `path`; 0 when the file is absent or holds no number. Other read errors are thrown. */
export async function readPid(path: string): Promise<number> {
  try {
    return parsePid(await readFile(path, 'utf8'));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return 0;
    throw e;
  }
}

/** {@link readPid} on the calling thread, for a caller that must not yield. */
export function readPidSync(path: string): number {
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return 0;
    throw e;
  }
}
