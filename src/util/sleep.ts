import { CanceledError } from './errors.ts';

/** Waits `ms`; an abort of `signal` (before or during) ends the wait with a CanceledError. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CanceledError('canceled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new CanceledError('canceled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
