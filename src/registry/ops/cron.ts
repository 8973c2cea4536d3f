import { InvalidArgumentError } from '../../util/errors.ts';

/**
 * Cron schedules, in UTC: five fields (minute hour day-of-month month day-of-week) or six with seconds first (as
 * Harbor writes them); each field `*`, a value, a range `a-b`, a list `a,b`, a step `*\/n` or `a-b/n`; month and
 * day names (`jan`, `mon`); day of week 0–7 (0 and 7 are Sunday). When both day fields are restricted, a day
 * matching either runs (as Vixie cron). Macros: `@yearly`, `@monthly`, `@weekly`, `@daily` (`@midnight`),
 * `@hourly`, and `@every DURATION` (`@every 90s`, `@every 6h`), an interval from the previous run.
 */
export interface Schedule {
  /** The text it was parsed from. */
  readonly text: string;
  /** The first time strictly after `after` (ms since the epoch) when it fires. */
  next(after: number): number;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of `names[0]` (months start at 1). */
  base?: number;
}
const FIELDS: Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, base: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, base: 0 },
];

function bad(text: string, why: string): never {
  throw new InvalidArgumentError(`invalid cron expression "${text}": ${why}`);
}

/** One field as the set of values it allows; `star` when it was `*` (or `?`). */
function parseField(text: string, src: string, f: Field): { set: Set<number>; star: boolean } {
  const set = new Set<number>();
  const value = (v: string): number => {
    const lower = v.toLowerCase();
    const i = f.names?.indexOf(lower) ?? -1;
    if (i >= 0) return i + (f.base ?? 0);
    if (!/^\d+$/.test(v)) bad(text, `"${v}" is not a ${f.name}`);
    const n = Number(v);
    if (n < f.min || n > f.max) bad(text, `${f.name} ${n} is outside ${f.min}-${f.max}`);
    return n;
  };
  const star = src === '*' || src === '?';
  for (const part of src.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) bad(text, `step "${stepText}" in the ${f.name} field`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      lo = f.min;
      hi = f.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = value(a);
      hi = value(b);
      if (hi < lo) bad(text, `range ${range} of the ${f.name} field goes backwards`);
    } else {
      lo = value(range);
      hi = stepText !== undefined ? f.max : lo;
    }
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  if (f.name === 'day of week' && set.delete(7)) set.add(0);
  return { set, star };
}

/** Parses a cron expression; InvalidArgumentError quotes it and says what is wrong. */
export function parseCron(expr: string): Schedule {
  const text = expr.trim();
  if (text.startsWith('@every')) {
    const m = /^@every\s+(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
    if (!m) bad(text, 'use @every followed by a duration such as 30s, 15m or 6h');
    const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']!;
    if (ms < 1000) bad(text, 'the interval must be at least one second');
    return { text, next: (after) => after + ms };
  }
  const expanded = MACROS[text.toLowerCase()] ?? text;
  if (expanded.startsWith('@')) bad(text, 'unknown macro');
  let parts = expanded.split(/\s+/);
  if (parts.length === 5) parts = ['0', ...parts];
  if (parts.length !== 6) bad(text, `${parts.length} fields; a schedule has 5 (or 6, with seconds first)`);
  const [sec, min, hour, dom, mon, dow] = parts.map((p, i) => parseField(text, p, FIELDS[i]!)) as [
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
  ];
  const dayOk = (d: Date): boolean => {
    const a = dom.set.has(d.getUTCDate());
    const b = dow.set.has(d.getUTCDay());
    if (dom.star) return b;
    if (dow.star) return a;
    return a || b;
  };
  // A schedule that can never fire (30 February) is refused now rather than found out later.
  const next = (after: number): number => {
    const d = new Date(Math.floor(after / 1000) * 1000 + 1000);
    const limit = after + 5 * 366 * 86_400_000;
    while (d.getTime() <= limit) {
      if (!mon.set.has(d.getUTCMonth() + 1)) {
        d.setUTCMonth(d.getUTCMonth() + 1, 1);
        d.setUTCHours(0, 0, 0);
        continue;
      }
      if (!dayOk(d)) {
        d.setUTCDate(d.getUTCDate() + 1);
        d.setUTCHours(0, 0, 0);
        continue;
      }
      if (!hour.set.has(d.getUTCHours())) {
        d.setUTCHours(d.getUTCHours() + 1, 0, 0);
        continue;
      }
      if (!min.set.has(d.getUTCMinutes())) {
        d.setUTCMinutes(d.getUTCMinutes() + 1, 0);
        continue;
      }
      if (!sec.set.has(d.getUTCSeconds())) {
        d.setUTCSeconds(d.getUTCSeconds() + 1);
        continue;
      }
      return d.getTime();
    }
    return bad(text, 'it never fires');
  };
  next(Date.UTC(2000, 0, 1));
  return { text, next };
}
