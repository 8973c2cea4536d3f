import { InvalidArgumentError } from './errors.ts';

/**
 * The Engine API's time filters (`until`, `since`): unix seconds (fractions allowed), an RFC 3339 time, or a Go
 * duration before now (`24h`, `10m`, `1.5h`). Answers unix seconds.
 */
export function parseTimestamp(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const dur = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (dur) {
    const mult: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    return now / 1000 - Number(dur[1]) * mult[dur[2]!]!;
  }
  const t = Date.parse(v);
  if (Number.isFinite(t)) return t / 1000;
  throw new InvalidArgumentError(`invalid timestamp "${v}"`);
}
