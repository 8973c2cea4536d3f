import { BerthError } from '../util/errors.ts';
import type { JSONMessage, JSONProgress } from '../client/index.ts';
import { formatRFC3339NanoFixed, goDurationSeconds, humanSize } from './units.ts';

/**
 * Draws an engine's JSON-message stream (load, import, pull, push) the way docker's `jsonmessage`
 * package does: on a terminal, `id: status progress` lines are rewritten in place with ANSI cursor
 * moves; elsewhere progress bars are dropped and only plain lines are printed.
 */

/** A message with `errorDetail`: the operation failed on the engine's side. */
export class StreamError extends BerthError {
  readonly detailCode: number | undefined;
  constructor(message: string, detailCode?: number) {
    super(message);
    this.detailCode = detailCode;
  }
}

export interface DisplayTarget {
  write(text: string): void;
  isTerminal: boolean;
  /** Terminal width; docker assumes 200 when it cannot tell. */
  columns?: number | undefined;
}

export interface DisplayOptions {
  /** Receives messages carrying `aux`, which are then not printed. */
  onAux?: (message: JSONMessage) => void;
  /** Clock for the time-left estimate, in milliseconds. */
  now?: () => number;
}

const ESC = '\x1b[';
const cursorUp = (n: number): string => (n === 0 ? '' : `${ESC}${n}A`);
const cursorDown = (n: number): string => (n === 0 ? '' : `${ESC}${n}B`);
const CLEAR_LINE = `${ESC}2K`;

/** `JSONProgress.String()`: `[=====>    ] 1.2MB/3.4MB 5s`, trimmed by terminal width. */
export function progressString(p: JSONProgress, width: number, nowMs: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) {
    return p.units === undefined || p.units === '' ? humanSize(current).padStart(8) : `${current} ${p.units}`;
  }
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let pbBox = '';
  if (width > 110) {
    const spaces = Math.max(50 - percentage, 0);
    pbBox = `[${'='.repeat(Math.max(percentage, 0))}>${' '.repeat(spaces)}] `;
  }
  let numbersBox = '';
  if (p.hidecounts === true) {
    numbersBox = '';
  } else if (p.units === undefined || p.units === '') {
    const cur = humanSize(current);
    numbersBox = current > total ? cur.padStart(8) : `${cur.padStart(8)}/${humanSize(total)}`;
  } else {
    numbersBox = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  }
  let timeLeftBox = '';
  const start = p.start ?? 0;
  if (width > 50 && current > 0 && start > 0 && percentage < 50) {
    const fromStartNs = nowMs * 1e6 - start * 1e9;
    const perEntryNs = Math.trunc(fromStartNs / current);
    const leftNs = (total - current) * perEntryNs;
    timeLeftBox = ` ${goDurationSeconds(leftNs / 1e9)}`;
  }
  return pbBox + numbersBox + timeLeftBox;
}

/** `JSONMessage.Display`: writes one message, or throws its error. */
export function displayMessage(m: JSONMessage, out: DisplayTarget, nowMs: number): void {
  const err = messageError(m);
  if (err !== undefined) throw err;
  const width = out.columns ?? 200;
  const hasProgress = m.progressDetail !== undefined && m.progressDetail !== null;
  if (hasProgress && !out.isTerminal) {
    // No progress bars off a terminal: a message whose bar would not be empty is not printed, and its bar is not
    // drawn to find that out (it is empty only with no counts at all, or hidden counts on a narrow width).
    const p = m.progressDetail as JSONProgress;
    if (((p.current ?? 0) > 0 || (p.total ?? 0) > 0) && !(p.hidecounts === true && width <= 110)) return;
  }
  const progress = hasProgress ? progressString(m.progressDetail as JSONProgress, width, nowMs) : '';
  let endl = '';
  let s = '';
  if (out.isTerminal && (m.stream ?? '') === '' && hasProgress) {
    s += CLEAR_LINE;
    endl = '\r';
    s += endl;
  } else if (hasProgress && progress !== '') {
    return; // no progress bars off a terminal
  }
  if (m.timeNano !== undefined && m.timeNano !== 0) s += `${formatRFC3339NanoFixed(BigInt(m.timeNano))} `;
  else if (m.time !== undefined && m.time !== 0) s += `${formatRFC3339NanoFixed(BigInt(m.time) * 1_000_000_000n)} `;
  if (m.id !== undefined && m.id !== '') s += `${m.id}: `;
  if (m.from !== undefined && m.from !== '') s += `(from ${m.from}) `;
  const status = m.status ?? '';
  if (hasProgress && out.isTerminal) s += `${status} ${progress}${endl}`;
  else if (m.progress !== undefined && m.progress !== '') s += `${status} ${m.progress}${endl}`;
  else if (m.stream !== undefined && m.stream !== '') s += `${m.stream}${endl}`;
  else s += `${status}${endl}\n`;
  out.write(s);
}

function messageError(m: JSONMessage): StreamError | undefined {
  if (m.errorDetail !== undefined && m.errorDetail !== null) {
    return new StreamError(m.errorDetail.message ?? m.error ?? '', m.errorDetail.code);
  }
  return undefined;
}

/**
 * A stream nobody sees (`-q`): read to its end for its first error message and its `aux` messages, nothing drawn.
 */
export async function awaitJSONMessages(
  messages: AsyncIterable<JSONMessage>,
  opts: Pick<DisplayOptions, 'onAux'> = {},
): Promise<void> {
  for await (const m of messages) {
    if (m.aux !== undefined && m.aux !== null) {
      opts.onAux?.(m);
      continue;
    }
    const err = messageError(m);
    if (err !== undefined) throw err;
  }
}

/** `DisplayJSONMessagesStream`: draws a whole stream; rejects with the first error message. */
export async function displayJSONMessages(
  messages: AsyncIterable<JSONMessage>,
  out: DisplayTarget,
  opts: DisplayOptions = {},
): Promise<void> {
  const now = opts.now ?? Date.now;
  const batch = batched(out);
  // What was drawn before an aux message is written before its callback, which may write too.
  const onAux = opts.onAux;
  const flushFirst = (m: JSONMessage): void => {
    batch.flush();
    onAux?.(m);
  };
  const drawn = onAux ? { onAux: flushFirst } : {};
  try {
    await display(messages, batch, now, { ...opts, ...drawn });
  } finally {
    batch.flush();
  }
}

/**
 * `out` with its writes gathered and written as one: when the messages that came in together have been drawn (at
 * the event loop's next turn), and at the end. A 50-layer pull draws ~350 messages, three writes each on a terminal
 * (the cursor up, the line, the cursor down), each a system call through Node's stream: ~1,100 writes became one
 * per read from the engine, the same bytes in the same order.
 */
function batched(out: DisplayTarget): DisplayTarget & { flush(): void } {
  let pending = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    out.write(text);
  };
  return {
    isTerminal: out.isTerminal,
    columns: out.columns,
    write(text: string) {
      pending += text;
      scheduled ??= setImmediate(flush);
    },
    flush,
  };
}

async function display(
  messages: AsyncIterable<JSONMessage>,
  out: DisplayTarget,
  now: () => number,
  opts: DisplayOptions,
): Promise<void> {
  let ids = new Map<string, number>();
  for await (const m of messages) {
    if (m.aux !== undefined && m.aux !== null) {
      opts.onAux?.(m);
      continue;
    }
    let diff = 0;
    const hasId = m.id !== undefined && m.id !== '';
    if (hasId && (m.progressDetail !== undefined || (m.progress !== undefined && m.progress !== ''))) {
      let line = ids.get(m.id as string);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id as string, line);
        if (out.isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (out.isTerminal) out.write(cursorUp(diff));
    } else {
      ids = new Map();
    }
    let failure: unknown;
    try {
      displayMessage(m, out, now());
    } catch (err) {
      failure = err;
    }
    if (hasId && out.isTerminal) out.write(cursorDown(diff));
    if (failure !== undefined) throw failure;
  }
}
