import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteProgress, byteProgress } from './progress.ts';

function terminal(columns: number): { write(s: string): void; isTerminal: boolean; columns: number; text(): string } {
  let buf = '';
  return { write: (s: string) => void (buf += s), isTerminal: true, columns, text: () => buf };
}

async function* chunks(...sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const n of sizes) yield new Uint8Array(n);
}

describe('byte progress', () => {
  it('draws a docker progress bar of a known total, redrawn in place, ending the line when finished', async () => {
    let now = 1_000_000;
    const out = terminal(150);
    const p = new ByteProgress(out, 'Uploading', 4000, { now: () => now, intervalMs: 100 });
    const passed: number[] = [];
    for await (const c of p.count(chunks(1000, 1000, 2000))) {
      passed.push(c.byteLength);
      now += 50;
    }
    p.finish();
    p.finish();
    assert.deepEqual(passed, [1000, 1000, 2000]);
    assert.equal(p.current, 4000);
    const bar = (n: number): string => `[${'='.repeat(n)}>${' '.repeat(50 - n)}]`;
    assert.equal(
      out.text(),
      // the first chunk is drawn, the second falls within the interval, the third is drawn; then the final state
      `\x1b[2K\rUploading ${bar(12)}      1kB/4kB 0s\r` +
        `\x1b[2K\rUploading ${bar(50)}      4kB/4kB\r` +
        `\x1b[2K\rUploading ${bar(50)}      4kB/4kB\r\n`,
    );
  });

  it('shows only the byte count when the total is unknown, and no bar on a narrow terminal', async () => {
    const out = terminal(80);
    const p = new ByteProgress(out, 'Saving', 0, { now: () => 0, intervalMs: 1000 });
    for await (const _ of p.count(chunks(1500, 1500))) void _;
    p.finish();
    assert.equal(out.text(), '\x1b[2K\rSaving    1.5kB\r\x1b[2K\rSaving      3kB\r\n');
  });

  it('draws nothing off a terminal or when quiet', () => {
    assert.equal(byteProgress({ write: () => assert.fail('wrote'), isTerminal: false }, 'Saving', 0), undefined);
    assert.equal(byteProgress(terminal(80), 'Uploading', 10, { quiet: true }), undefined);
    assert.ok(byteProgress(terminal(80), 'Uploading', 10) instanceof ByteProgress);
  });
});
