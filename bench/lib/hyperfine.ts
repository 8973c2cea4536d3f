/** hyperfine, as the benchmarks call it: no shell (`-N`), warm-up runs first, every run's time kept. */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.ts';

/** Quotes one argument for hyperfine's command line (it splits on spaces, as a shell would). */
const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** `hyperfine -N` of one command line: every run's time, in seconds. */
export async function hyperfine(
  argv: readonly string[],
  o: { runs: number; warmup?: number; env?: Record<string, string>; scratch: string },
): Promise<number[]> {
  const out = join(o.scratch, `hf-${process.hrtime.bigint()}.json`);
  await run(
    'hyperfine',
    [
      '-N',
      '--warmup',
      String(o.warmup ?? 2),
      '--runs',
      String(o.runs),
      '--export-json',
      out,
      argv.map(quote).join(' '),
    ],
    { ...(o.env ? { env: o.env } : {}), timeoutMs: 600_000 },
  );
  try {
    return (JSON.parse(readFileSync(out, 'utf8')) as { results: { times: number[] }[] }).results[0]!.times;
  } finally {
    await rm(out, { force: true });
  }
}
