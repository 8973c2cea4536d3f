import { readFile } from 'node:fs/promises';
import { parentPid, type RuntimeDriver, signalFor } from '../runtime/index.ts';
import { phase } from '../util/trace.ts';

/**
 * A stop signal to a container's first process. The runtime's `kill` is a process of its own (~10–15 ms, more on
 * a busy machine) on the path of every stop; the signal is the same as the one the runtime sends, from the host to
 * the process by its host PID. So it goes straight to the process when that PID is still the container's: a child
 * of the container's conmon (the PID could only have been reused by a process conmon started). Anything else (a
 * signal Node does not name, a PID that is not conmon's child, a read that fails) goes through the runtime.
 */

/** Sends `sig` to the container's first process (`pid`), directly when it is conmon's child, else by the runtime. */
export async function signalInit(driver: RuntimeDriver, id: string, pid: number, sig: string): Promise<void> {
  await phase('signal', id, async () => {
    const s = signalFor(sig);
    if (s !== undefined && pid > 0) {
      try {
        const [{ conmonPid }, stat] = await Promise.all([driver.monitor(id), readFile(`/proc/${pid}/stat`, 'utf8')]);
        if (conmonPid > 0 && parentPid(stat) === conmonPid) {
          process.kill(pid, s);
          return;
        }
      } catch {
        // Gone meanwhile, or not readable: the runtime decides.
      }
    }
    await driver.kill(id, sig);
  });
}
