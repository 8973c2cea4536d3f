/** Docker's progress messages: the short layer IDs and the progress bar text dockerd puts in `progress`. */
import type { JSONMessage } from './types.ts';

/** The first 12 hex digits of a digest, as Docker's stringid.TruncateID. */
export function shortId(digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return hex.slice(0, 12);
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** go-units' HumanSizeWithPrecision(size, 4): decimal units, 4 significant digits ("2.221MB", "512B"). */
export function humanSize(size: number): string {
  let i = 0;
  let s = size;
  while (s >= 1000 && i < UNITS.length - 1) {
    s /= 1000;
    i++;
  }
  return `${Number(s.toPrecision(4))}${UNITS[i]}`;
}

/** The `progress` text of a JSONProgress as dockerd renders it (width 200): `[====>    ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return `${humanSize(current).padStart(8)}`;
  let pct = Math.floor(Math.floor((current / total) * 100) / 2);
  if (pct > 50) pct = 50;
  const box = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  const numbers = current > total ? '' : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return `${box}${numbers}`;
}

/** A progress message with progressDetail and the bar text. */
export function progressMessage(status: string, id: string, current: number, total: number): JSONMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/**
 * Throttles per-id progress updates to one every `ms` (the first and the last always pass), so a fast
 * download does not send a message per chunk.
 */
export class Throttle {
  readonly #last = new Map<string, number>();
  readonly #ms: number;
  constructor(ms = 100) {
    this.#ms = ms;
  }
  ok(id: string, final = false): boolean {
    const now = Date.now();
    const prev = this.#last.get(id);
    if (!final && prev !== undefined && now - prev < this.#ms) return false;
    this.#last.set(id, now);
    return true;
  }
}
