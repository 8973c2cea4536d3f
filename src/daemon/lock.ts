import { open, readFile, rm } from 'node:fs/promises';
import { FailedPreconditionError, isErrno } from '../util/errors.ts';
import { readPid } from '../util/pidfile.ts';

/**
 * One daemon per data root: `<data-root>/berthd.pid`, created exclusively. A file left by a daemon that died is
 * taken over (its PID is no longer a berthd).
 */
export async function acquirePidLock(path: string, what: string): Promise<{ release(): Promise<void> }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.sync();
      await fh.close();
      return {
        release: async () => {
          if ((await readPid(path).catch(() => 0)) === process.pid) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const pid = await readPid(path).catch(() => 0);
    if (pid > 0 && pid !== process.pid && (await isBerthd(pid))) {
      throw new FailedPreconditionError(
        `another berthd (pid ${pid}) is using ${what}; stop it first, or give this one its own --data-root and --exec-root`,
      );
    }
    await rm(path, { force: true });
  }
  throw new FailedPreconditionError(`cannot take the lock ${path}`);
}

async function isBerthd(pid: number): Promise<boolean> {
  try {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('berthd') || cmd.includes('daemon/main.ts');
  } catch {
    return false;
  }
}
