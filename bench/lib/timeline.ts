/**
 * berthd's per-container timeline in a `start-burst` burst, from its `berth:phase` lines (bench/lib/phases.ts): when
 * each container's create and start arrived and were answered, the phases between, and every API call by route.
 */
import type { PhaseLine } from './phases.ts';
import { stats, type Stats } from './proc.ts';

/** One mark of the per-container timeline: ms from the burst's start, over every container of every burst. */
export interface TimelineRow {
  mark: string;
  ms: Stats;
}

/** One phase of the start path: its duration per container, and the sum over a burst's containers. */
export interface PhaseSummary {
  phase: string;
  perContainer: Stats;
  perBurst: Stats;
}

const ID = /[0-9a-f]{64}/;

/** The per-container timeline of berthd's bursts of one mode, from its phases. */
export function timeline(
  samples: readonly { t0: number; t1: number }[],
  lines: readonly PhaseLine[],
): { rows: TimelineRow[]; phases: PhaseSummary[]; calls: PhaseSummary[] } {
  const marks = new Map<string, number[]>();
  // Every API call within a burst by route (IDs and query strings folded): how long berthd took to answer each.
  const calls = new Map<string, number[]>();
  const callSums = new Map<string, number>();
  const perContainer = new Map<string, number[]>();
  const perBurst = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const s of samples) {
    const inside = lines.filter((l) => l.start >= s.t0 - 1 && l.start <= s.t1 + 1);
    const byId = new Map<string, PhaseLine[]>();
    const sums = new Map<string, number>();
    for (const l of inside) {
      let id = l.id;
      let phase = l.phase;
      if (phase.startsWith('api ')) {
        const route = phase.replace(/[0-9a-f]{64}/g, '{id}').replace(/\?.*$/, '');
        add(calls, route, l.end - l.start);
        callSums.set(route, (callSums.get(route) ?? 0) + l.end - l.start);
        const m = /\/containers\/([0-9a-f]{64})\/start/.exec(phase);
        if (!m) continue;
        id = m[1]!;
        phase = 'start.call';
      } else {
        id = ID.exec(id)?.[0] ?? '';
      }
      if (id === '') continue;
      byId.set(id, [...(byId.get(id) ?? []), { ...l, id, phase }]);
    }
    for (const [, ls] of byId) {
      const first = (p: string) => ls.find((l) => l.phase === p);
      const create = first('create.call');
      const start = first('start.call');
      if (!create || !start) continue;
      add(marks, '1 create arrives', create.start - s.t0);
      add(marks, '2 create answered', create.end - s.t0);
      add(marks, '3 start arrives', start.start - s.t0);
      const conmon = first('conmon+runtime.create');
      if (conmon) add(marks, '4 conmon spawned', conmon.start - s.t0);
      if (conmon) add(marks, '5 runc create done (pid reported)', conmon.end - s.t0);
      add(marks, '6 start answered', start.end - s.t0);
      add(perContainer, 'client: create answered → start arrives', start.start - create.end);
      for (const l of ls) {
        if (l.phase === 'create.call' || l.phase === 'start.call') continue;
        const where = l.start < start.start ? `create: ${l.phase}` : `start: ${l.phase}`;
        add(perContainer, where, l.end - l.start);
        sums.set(where, (sums.get(where) ?? 0) + l.end - l.start);
      }
      add(perContainer, 'create call (arrival → answer)', create.end - create.start);
      add(perContainer, 'start call (arrival → answer)', start.end - start.start);
    }
    for (const [k, v] of sums) add(perBurst, k, v);
    for (const [k, v] of callSums) add(perBurst, k, v);
    callSums.clear();
  }
  return {
    rows: [...marks].sort(([a], [b]) => a.localeCompare(b)).map(([mark, xs]) => ({ mark, ms: stats(xs) })),
    phases: [...perContainer]
      .map(([phase, xs]) => ({ phase, perContainer: stats(xs), perBurst: stats(perBurst.get(phase) ?? []) }))
      .sort((a, b) => b.perContainer.median - a.perContainer.median),
    calls: [...calls]
      .map(([phase, xs]) => ({ phase, perContainer: stats(xs), perBurst: stats(perBurst.get(phase) ?? []) }))
      .sort((a, b) => a.phase.localeCompare(b.phase)),
  };
}
