/** Durations, sizes and command lines as compose files write them. */
import { parseGoDuration, ramInBytes } from '../util/units.ts';

/** A Go duration (`1m30s`, `500ms`, `2h`) or a bare number of seconds, in milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value * 1000;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  try {
    return parseGoDuration(text) / 1e6;
  } catch (err) {
    throw new RangeError(`invalid duration "${value}"`, { cause: err });
  }
}

/** A size (`64m`, `1gb`, `512KiB`, `1024`) in bytes, as compose-go reads it: go-units' RAMInBytes. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return value;
  try {
    return ramInBytes(value.trim());
  } catch (err) {
    throw new RangeError(`invalid size "${value}"`, { cause: err });
  }
}

/** Formats milliseconds as a Go duration string (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let out = '';
  let rest = ms;
  if (rest < 0) {
    out = '-';
    rest = -rest;
  }
  if (rest < 1000) return `${out}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${Number(s.toFixed(3))}s`;
  return out;
}

/**
 * Splits a command line as a POSIX shell would split words (quotes, backslashes), without expansion:
 * `command: echo "a b"` is `["echo", "a b"]`.
 */
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new RangeError(`unterminated quote in "${line}"`);
  if (inWord) words.push(cur);
  return words;
}
