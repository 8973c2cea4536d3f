import { InvalidArgumentError } from './errors.ts';
import { parseGoDuration } from './units.ts';

/**
 * The Engine API's time filters (`until`, `since`): unix seconds (fractions allowed), an RFC 3339 time, or a Go
 * duration before now (`24h`, `10m`, `1h30m`, as `time.ParseDuration` reads it). Answers unix seconds.
 */
export function parseTimestamp(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  let ns: number | undefined;
  try {
    ns = parseGoDuration(v);
  } catch {
    // not a duration: a date
  }
  if (ns !== undefined) return now / 1000 - ns / 1e9;
  const t = Date.parse(v);
  if (Number.isFinite(t)) return t / 1000;
  throw new InvalidArgumentError(`invalid timestamp "${v}"`);
}
