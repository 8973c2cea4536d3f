/** The markdown report of bench/datapath.ts's figures (run.ts prints it). */
import type { DatapathFigures, Sample } from './datapath.ts';
import { MiB, type Stats, stats } from './lib/proc.ts';

const fmtS = (s: Stats): string => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) s`;
const loads = (xs: Sample[]): string => {
  const l = stats(xs.map((x) => x.load));
  return `${l.min.toFixed(1)}–${l.max.toFixed(1)}`;
};

/** The markdown report: each step's median (min–max) and load average, the ratios against the goals. */
export function datapathReport(f: DatapathFigures): string {
  const med = (k: string): number => stats((f.samples[k] ?? []).map((s) => s.seconds)).median;
  const cpu = (k: string): number => {
    const xs = f.samples[k] ?? [];
    return xs.length && xs.every((s) => s.cpu !== undefined) ? stats(xs.map((s) => s.cpu!)).median : Number.NaN;
  };
  const row = (k: string): string => {
    const xs = f.samples[k] ?? [];
    const cpu = xs.every((s) => s.cpu !== undefined) ? stats(xs.map((s) => s.cpu!)).median.toFixed(2) : '–';
    return `| ${k} | ${fmtS(stats(xs.map((s) => s.seconds)))} | ${cpu} | ${loads(xs)} |`;
  };
  /** Time ratio a / b against a goal; with `less` false, the throughput ratio b / a. */
  const ratio = (a: string, b: string, goal: number, less = true): string => {
    const r = less ? med(a) / med(b) : med(b) / med(a);
    const c = less ? cpu(a) / cpu(b) : cpu(b) / cpu(a);
    const cpuNote = Number.isFinite(c) ? `; CPU ${c.toFixed(2)}×` : '';
    // The same ratio round by round (the steps of a round ran minutes apart at most, under the same load).
    const [xa, xb] = [f.samples[a] ?? [], f.samples[b] ?? []];
    const rounds = xa.map((s, i) =>
      (less ? s.seconds / (xb[i]?.seconds ?? Number.NaN) : (xb[i]?.seconds ?? Number.NaN) / s.seconds).toFixed(2),
    );
    return `**${r.toFixed(2)}×** (goal ${less ? '≤' : '≥'} ${goal}×: ${(less ? r <= goal : r >= goal) ? 'met' : 'missed'}${cpuNote}; per round ${rounds.join(' ')})`;
  };
  const out = [
    `### Data path (${f.rounds} rounds after a warm-up; median (min–max); load average = 1-minute, at each step)`,
    '',
    f.images
      .map((i) => `- ${i.name}: ${i.layers} layer(s), ${(i.layerBytes / MiB).toFixed(0)} MiB of layer tar`)
      .join('\n'),
    '',
    '| step | time | CPU s (median) | load average |',
    '|---|---|---|---|',
    ...Object.keys(f.samples).map(row),
    '',
    'Goals (ratios of medians from the same rounds):',
    '',
  ];
  for (const which of ['big', 'many']) {
    out.push(
      `- pull ${which}: docker → berthd / docker → dockerd ${ratio(`pull ${which} docker → berthd`, `pull ${which} docker → dockerd`, 0.5)}; ` +
        `berth pull / skopeo ${ratio(`pull ${which} berth → berthd`, `pull ${which} skopeo (no unpack)`, 1.0)}` +
        (f.samples[`pull ${which} berth → berthd (after idle)`]
          ? `, after idle (12 s after its last pull) ${ratio(`pull ${which} berth → berthd (after idle)`, `pull ${which} skopeo (no unpack)`, 1.0)}`
          : '') +
        (f.samples[`pull ${which} berth → berthd (after start)`]
          ? `, after a daemon start ${ratio(`pull ${which} berth → berthd (after start)`, `pull ${which} skopeo (no unpack)`, 1.0)}`
          : '') +
        '; ' +
        `/ podman ${(med(`pull ${which} docker → berthd`) / med(`pull ${which} podman`)).toFixed(2)}×`,
    );
    if (f.samples[`pull ${which} curl ×3 (network floor)`]) {
      const floor3 = med(`pull ${which} curl ×3 (network floor)`);
      const floor6 = med(`pull ${which} curl ×6 (network floor)`);
      out.push(
        `  - network floor (curl, every blob to /dev/null): 3 at once ${floor3.toFixed(2)} s, 6 at once ${floor6.toFixed(2)} s ` +
          `(3 / 6: ${(floor3 / floor6).toFixed(2)}×); berth pull − floor at 3: ${(med(`pull ${which} berth → berthd`) - floor3).toFixed(2)} s; ` +
          `skopeo − floor at 6: ${(med(`pull ${which} skopeo (no unpack)`) - floor6).toFixed(2)} s`,
      );
    }
  }
  for (const name of ['dp-big-raw', 'dp-big', 'dp-many-raw', 'dp-many'])
    out.push(
      `- load ${name}: berthd / dockerd ${ratio(`load ${name} docker → berthd`, `load ${name} docker → dockerd`, 0.5)}`,
    );
  for (const name of ['dp-big-raw', 'dp-big', 'dp-many'])
    out.push(`- unpack ${name}: throughput / tar's ${ratio(`unpack ${name} berth`, `unpack ${name} tar`, 1.2, false)}`);
  if (f.samples['unpack dp-big-raw berth (tar hashed)'])
    out.push(
      `- unpack dp-big-raw with the tar hashed as well (berthd does not: its digest is the blob's): throughput / tar's ${(med('unpack dp-big-raw tar (tar hashed)') / med('unpack dp-big-raw berth (tar hashed)')).toFixed(2)}×`,
    );
  if (f.samples['unpack threads start (in process)'])
    out.push(
      `- the unpack threads' start (three readers and the appliers, not in the unpacks above): ${med('unpack threads start (in process)').toFixed(2)} s, CPU ${cpu('unpack threads start (in process)').toFixed(2)} s`,
    );
  if (f.rss) {
    const extra = f.rss.berthdPeak - f.rss.berthdIdle;
    out.push(
      `- peak RSS during a ${f.rss.mib} MiB load (load average ${f.rss.load.toFixed(1)}): berthd ${f.rss.berthdPeak.toFixed(0)} MiB = idle ${f.rss.berthdIdle.toFixed(0)} + ${extra.toFixed(0)} MiB (goal ≤ idle + 64: ${extra <= 64 ? 'met' : 'missed'}); dockerd + containerd ${f.rss.dockerdPeak.toFixed(0)} MiB`,
    );
  }
  out.push('', "berthd's CPU seconds by thread (medians) in its steps:", '');
  for (const [k, xs] of Object.entries(f.samples)) {
    if (!xs.length || !xs.every((s) => s.threads)) continue;
    const names = [...new Set(xs.flatMap((s) => Object.keys(s.threads!)))].sort();
    const parts = names
      .map((n) => [n, stats(xs.map((s) => s.threads![n] ?? 0)).median] as const)
      .filter(([, v]) => v >= 0.01)
      .map(([n, v]) => `${n} ${v.toFixed(2)}`);
    out.push(`- ${k}: ${parts.join(', ')}`);
  }
  out.push(
    '',
    "berthd's threads waiting for a CPU (run-queue seconds, schedstat) and times put on a CPU, by thread (medians):",
    '',
  );
  for (const [k, xs] of Object.entries(f.samples)) {
    if (!xs.length || !xs.every((s) => s.waits && s.runs)) continue;
    const names = [...new Set(xs.flatMap((s) => Object.keys(s.waits!)))].sort();
    const parts = names
      .map((n) => [n, stats(xs.map((s) => s.waits![n] ?? 0)).median, stats(xs.map((s) => s.runs![n] ?? 0)).median])
      .filter(([, w, r]) => (w as number) >= 0.01 || (r as number) >= 100)
      .map(([n, w, r]) => `${n} ${(w as number).toFixed(2)} s / ${(r as number).toFixed(0)}`);
    out.push(`- ${k}: ${parts.join(', ')}`);
  }
  out.push(
    '',
    "The rest of the machine's CPU seconds in each step (medians): all CPUs' busy time (/proc/stat) less the step's own (the command's and the engine's; the registry's is in it for a pull):",
    '',
  );
  for (const [k, xs] of Object.entries(f.samples)) {
    if (!xs.length || !xs.every((s) => s.machine !== undefined && s.cpu !== undefined)) continue;
    const rest = xs.map((s) => s.machine! - s.cpu! - (s.threads?.registry ?? 0));
    const waited = xs.map((s) => s.settled ?? 0);
    out.push(
      `- ${k}: ${stats(rest).median.toFixed(2)} (per round ${rest.map((r) => r.toFixed(2)).join(' ')}); waited for an idle machine before it ${stats(waited).median.toFixed(2)} s (max ${Math.max(...waited).toFixed(2)})`,
    );
  }
  out.push('', 'Where a berth pull (API, progress timestamped) spends its time, seconds from the request:', '');
  for (const [which, m] of Object.entries(f.pullMarks))
    out.push(
      `- ${which}: ${Object.entries(m)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}`,
    );
  if (f.requests && Object.keys(f.requests).length) {
    out.push('', 'Requests to the registry for one pull (its access log, the warm-up round), by method and kind:', '');
    for (const [k, c] of Object.entries(f.requests))
      out.push(
        `- ${k}: ${Object.entries(c)
          .map(([m, n]) => `${m} ${n}`)
          .join(', ')}`,
      );
  }
  out.push('');
  return out.join('\n');
}
