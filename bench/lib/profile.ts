/** Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function, and by file. */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './engines.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time the profile covers, and the part of it the main thread was busy (not idle), in seconds. */
  seconds: number;
  busySeconds: number;
  functions: { name: string; seconds: number }[];
  files: { name: string; seconds: number }[];
}

const where = (url: string): string => {
  if (url === '') return '(native/V8)';
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(ROOT) ? relative(ROOT, path) : path.replace(/^node:/, 'node:');
};

export async function summariseProfile(file: string, top = 15): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1e6;
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    if (name === '(program)' || name === '(garbage collector)') {
      busy += dt;
      fn.set(name, (fn.get(name) ?? 0) + dt);
      continue;
    }
    busy += dt;
    const file = where(n.callFrame.url);
    const key = `${name} ${file}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + dt);
    files.set(file, (files.get(file) ?? 0) + dt);
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, seconds]) => ({ name, seconds }));
  return { seconds: (p.endTime - p.startTime) / 1e6, busySeconds: busy, functions: sorted(fn), files: sorted(files) };
}
