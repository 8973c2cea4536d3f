/**
 * Loaded into berthd by the start benchmark (`node --import bench/lib/phase-recorder.ts src/daemon/main.ts`):
 * subscribes to berthd's `berth:phase` diagnostics channel (src/util/trace.ts) and appends each phase, as a
 * JSON line, to the file named by BERTH_PHASE_LOG; every second also a `{memory}` line with
 * `process.memoryUsage()`. Lines are buffered and written from a timer, so the daemon does no synchronous I/O for
 * them on the path being measured.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFile } from 'node:fs/promises';

const file = process.env.BERTH_PHASE_LOG;
if (file) {
  let lines: string[] = [];
  subscribe('berth:phase', (m) => {
    lines.push(JSON.stringify(m));
  });
  let ticks = 0;
  const timer = setInterval(() => {
    if (++ticks % 4 === 0) lines.push(JSON.stringify({ memory: process.memoryUsage(), at: Date.now() }));
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    lines = [];
    void appendFile(file, text).catch(() => {});
  }, 250);
  timer.unref();
}
