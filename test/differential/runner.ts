/**
 * Runs scenarios against both engines and compares what each saw. Each scenario runs on the two engines at the
 * same time; independent scenarios run several at once, and those marked `serial` (they read or change
 * engine-wide state: lists without filters, prune, df, events) run alone afterwards.
 */
import { errorMessage } from '../../src/util/errors.ts';
import { makeCtx, Recorder, type Ctx } from './clients.ts';
import { compareSteps, ENDED_EARLY, matches, type Difference, type Known } from './compare.ts';
import type { Engine } from './engines.ts';

export interface Scenario {
  name: string;
  /** Engine-wide state: runs alone, after the parallel ones. */
  serial?: boolean;
  run(c: Ctx): Promise<void>;
}

export interface Deliberate extends Known {
  reason: string;
}

/** A difference that follows from the host's state during the run (page cache, timing), with why. */
export interface DataDependent extends Known {
  reason: string;
}

export interface Gap extends Known {
  /** `G<n>`, as in GAPS.md. */
  id: string;
}

export interface Outcome {
  scenario: string;
  steps: number;
  unexplained: Difference[];
  deliberate: { d: Difference; reason: string }[];
  dataDependent: { d: Difference; reason: string }[];
  gaps: { d: Difference; id: string }[];
}

async function runOne(s: Scenario, e: Engine): Promise<Recorder> {
  const rec = new Recorder([e.dir]);
  try {
    await s.run(makeCtx(e, rec, s.name));
  } catch (err) {
    rec.add(ENDED_EARLY, { error: errorMessage(err) });
  }
  return rec;
}

export async function runScenarios(
  scenarios: Scenario[],
  berth: Engine,
  docker: Engine,
  known: { deliberate: Deliberate[]; dataDependent: DataDependent[]; gaps: Gap[] },
  concurrency = 3,
): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  const one = async (s: Scenario) => {
    const [b, d] = await Promise.all([runOne(s, berth), runOne(s, docker)]);
    const o: Outcome = {
      scenario: s.name,
      steps: d.steps.length,
      unexplained: [],
      deliberate: [],
      dataDependent: [],
      gaps: [],
    };
    for (const diff of compareSteps(s.name, b.steps, d.steps)) {
      const del = known.deliberate.find((k) => matches(k, diff));
      const data = del ? undefined : known.dataDependent.find((k) => matches(k, diff));
      const gap = del || data ? undefined : known.gaps.find((k) => matches(k, diff));
      if (del) o.deliberate.push({ d: diff, reason: del.reason });
      else if (data) o.dataDependent.push({ d: diff, reason: data.reason });
      else if (gap) o.gaps.push({ d: diff, id: gap.id });
      else o.unexplained.push(diff);
    }
    out.set(s.name, o);
  };
  const parallel = scenarios.filter((s) => !s.serial);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < parallel.length) await one(parallel[next++]!);
    }),
  );
  for (const s of scenarios.filter((x) => x.serial)) await one(s);
  return out;
}
