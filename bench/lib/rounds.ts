/** One step of an A/B round: the key its samples are kept under, and the step. */
export type Step<S> = readonly [key: string, step: () => Promise<S>];

/** Steps whose order is turned together, after `before` (untimed: e.g. waiting for an idle spell). */
export interface Group<S> {
  steps: readonly Step<S>[];
  before?: () => Promise<void>;
}

/**
 * An A/B's rounds: one untimed warm-up round, then `rounds` rounds. A round runs each group of steps (e.g. one
 * image's) in turn, the steps of a group in their order one round and the other way round the next; each step's
 * time and CPU are logged, and its samples after the warm-up kept by key. `digits`: of the seconds logged.
 */
export async function interleavedRounds<S extends { seconds: number; load: number; cpu?: number }>(
  o: { rounds: number; log: (s: string) => void; digits?: number },
  groups: readonly Group<S>[],
): Promise<Record<string, S[]>> {
  const samples: Record<string, S[]> = {};
  for (let r = 0; r <= o.rounds; r++) {
    const record = r > 0;
    o.log(record ? `round ${r}/${o.rounds}` : 'warm-up round');
    for (const { steps, before } of groups) {
      await before?.();
      for (const [key, step] of r % 2 === 0 ? steps : [...steps].reverse()) {
        const s = await step();
        o.log(
          `  ${key}: ${s.seconds.toFixed(o.digits ?? 2)} s, CPU ${s.cpu?.toFixed(2)} s (load ${s.load.toFixed(1)})`,
        );
        if (record) (samples[key] ??= []).push(s);
      }
    }
  }
  return samples;
}
