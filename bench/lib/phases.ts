/**
 * Reading what bench/lib/phase-recorder.ts wrote inside berthd: the phase lines of its log (the `{memory}` lines
 * left out). Kept apart from the recorder, which berthd loads with `--import` and which acts on being loaded.
 */
import { readFileSync } from 'node:fs';

/** One phase of one container (or call), ms since the epoch. */
export interface PhaseLine {
  phase: string;
  id: string;
  start: number;
  end: number;
}

export function readPhaseLines(file: string): PhaseLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"phase"'))
    .map((l) => JSON.parse(l) as PhaseLine);
}
