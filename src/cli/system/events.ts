import { InvalidArgumentError, errorMessage } from '../../util/errors.ts';
import { TemplateError } from '../errors.ts';
import type { EngineClient, EventMessage } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { compileFormat, loadFormat } from '../output.ts';
import { formatRFC3339NanoFixed } from '../units.ts';
import { parseGoDuration } from '../../util/units.ts';

export interface EventsOptions {
  since: string;
  until: string;
  filters: Record<string, string[]>;
  format: string;
}

/**
 * docker's `timetypes.GetTimestamp`: a duration (`10m`, meaning that long ago, sent as whole seconds),
 * a Unix time (`1700000000.5`, passed through) or a date/time (RFC 3339, or partial forms in local
 * time, sent as `seconds.nanoseconds`) becomes the text the engine takes.
 */
export function getTimestamp(value: string, nowMs: number = Date.now()): string {
  if (value === '') return '';
  const d = value === '0' ? undefined : durationOrUndefined(value);
  if (d !== undefined) return String(Math.floor((nowMs * 1e6 - d) / 1e9));
  if (/^-?\d+(\.\d+)?$/.test(value)) return value;
  const ms = parseDate(value);
  if (ms === undefined) {
    throw new InvalidArgumentError(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
  }
  return fromNanos(BigInt(ms.ms) * 1_000_000n + BigInt(ms.extraNanos));
}

function durationOrUndefined(value: string): number | undefined {
  try {
    return parseGoDuration(value);
  } catch {
    return undefined;
  }
}

function fromNanos(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const rem = ns % 1_000_000_000n;
  return `${sec}.${(rem < 0n ? -rem : rem).toString().padStart(9, '0')}`;
}

function parseDate(value: string): { ms: number; extraNanos: number } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(
    value,
  );
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const fracDigits = frac === '' ? '' : frac.slice(1).padEnd(9, '0');
  const millis = fracDigits === '' ? 0 : Number(fracDigits.slice(0, 3));
  const extraNanos = fracDigits === '' ? 0 : Number(fracDigits.slice(3));
  let ms: number;
  if (zone === undefined) {
    ms = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis).getTime();
  } else {
    ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis);
    if (zone.toUpperCase() !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    }
  }
  return Number.isNaN(ms) ? undefined : { ms, extraNanos };
}

/** docker's `prettyPrintEvent`: `TIME TYPE ACTION ID (k=v, …)`. */
export function formatEvent(e: EventMessage): string {
  let s = '';
  if (e.timeNano !== undefined && e.timeNano !== 0 && e.timeNano !== 0n)
    s += `${formatRFC3339NanoFixed(BigInt(e.timeNano))} `;
  else if (e.time !== undefined && e.time !== 0) s += `${formatRFC3339NanoFixed(BigInt(e.time) * 1_000_000_000n)} `;
  s += `${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length > 0) s += ` (${keys.map((k) => `${k}=${attrs[k] ?? ''}`).join(', ')})`;
  return `${s}\n`;
}

type FormatModule = Awaited<ReturnType<typeof loadFormat>>;

/**
 * An event as templates see docker's typed `events.Message`: Go's field names (`.Status`, `.ID`, `.Time`,
 * `.Actor.Attributes`), a nil attribute map that prints `map[]`, and `json` giving Go's encoding (its
 * field order, `omitempty` on status, id, from, scope, time and timeNano).
 */
export function goEvent(e: EventMessage, fmt: Pick<FormatModule, 'GO_TYPE' | 'MARSHAL_JSON' | 'marshalJSON'>): object {
  const attributes = e.Actor?.Attributes ?? null;
  const wire = {
    [fmt.GO_TYPE]: 'events.Message',
    ...(e.status ? { status: e.status } : {}),
    ...(e.id ? { id: e.id } : {}),
    ...(e.from ? { from: e.from } : {}),
    Type: e.Type ?? '',
    Action: e.Action ?? '',
    Actor: { [fmt.GO_TYPE]: 'events.Actor', ID: e.Actor?.ID ?? '', Attributes: attributes },
    ...(e.scope ? { scope: e.scope } : {}),
    ...(e.time ? { time: e.time } : {}),
    ...(e.timeNano ? { timeNano: e.timeNano } : {}),
  };
  const nilMap = Object.defineProperty(new Map(), fmt.MARSHAL_JSON, { value: () => 'null' });
  return {
    [fmt.GO_TYPE]: '*events.Message',
    [fmt.MARSHAL_JSON]: () => fmt.marshalJSON(wire, { escapeHTML: true, sortMapKeys: true }),
    Status: e.status ?? '',
    ID: e.id ?? '',
    From: e.from ?? '',
    Type: e.Type ?? '',
    Action: e.Action ?? '',
    Actor: { [fmt.GO_TYPE]: 'events.Actor', ID: e.Actor?.ID ?? '', Attributes: attributes ?? nilMap },
    Scope: e.scope ?? '',
    Time: e.time ?? 0,
    TimeNano: e.timeNano ?? 0,
  };
}

/** `berth events`: streams until `--until` passes, the engine closes, or the signal aborts. */
export async function streamEvents(
  client: EngineClient,
  out: OutStream,
  opts: EventsOptions,
  signal?: AbortSignal,
): Promise<void> {
  let template: ((data: unknown) => string) | undefined;
  let fmt: FormatModule | undefined;
  if (opts.format !== '') {
    template = await compileFormat(opts.format === 'json' ? '{{json .}}' : opts.format, {
      parsePrefix: 'Error parsing format: ',
      execPrefix: '',
    });
    fmt = await loadFormat();
    try {
      // docker checks the template against a zero event first.
      template(goEvent({}, fmt));
    } catch (err) {
      throw new TemplateError(`Error parsing format: ${errorMessage(err)}`, { cause: err });
    }
  }
  const now = Date.now();
  const events = await client.events({
    ...(opts.since !== '' ? { since: getTimestamp(opts.since, now) } : {}),
    ...(opts.until !== '' ? { until: getTimestamp(opts.until, now) } : {}),
    filters: opts.filters,
    signal,
  });
  for await (const e of events) {
    out.write(template === undefined || fmt === undefined ? formatEvent(e) : `${template(goEvent(e, fmt))}\n`);
  }
}
