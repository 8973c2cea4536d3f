/**
 * Signals as clients name them (`SIGTERM`, `term`, `15`): for the runtime's `kill`, which knows Linux's real-time
 * signals too, and for `process.kill`, which knows only the signals Node names.
 */
import { constants } from 'node:os';
import { InvalidArgumentError } from '../util/errors.ts';

const SIGNALS = constants.signals as Record<string, number>;

/** `term`, `SIGTERM` → `SIGTERM`; `15` → 15: a name upper-cased with its `SIG` prefix, digits as a number (unchecked). */
export function normalSignal(sig: string | number): string | number {
  if (typeof sig === 'number' || /^\d+$/.test(sig)) return Number(sig);
  const upper = sig.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** A signal by name ('SIGTERM', 'TERM') or number, as the runtime's `kill` takes it; InvalidArgument for the rest. */
export function signalName(sig: string | number): string {
  const s = normalSignal(sig);
  if (typeof s === 'number') {
    if (!Object.values(SIGNALS).includes(s) && !(s >= 34 && s <= 64))
      throw new InvalidArgumentError(`Invalid signal: ${sig}`);
    return String(s);
  }
  if (s in SIGNALS) return s;
  const rt = realTimeSignal(s);
  if (rt === undefined) throw new InvalidArgumentError(`Invalid signal: ${sig}`);
  return String(rt);
}

/** A signal's number, as Docker's events report it (`SIGTERM` → 15); InvalidArgument as `signalName`. */
export function signalNumber(sig: string | number): number {
  const s = signalName(sig);
  return /^\d+$/.test(s) ? Number(s) : (SIGNALS[s] as number);
}

/**
 * Linux's real-time signals by Docker's names, as numbers: `SIGRTMIN` is 34 (glibc keeps 32 and 33), up to
 * `SIGRTMIN+15`; `SIGRTMAX` is 64, down to `SIGRTMAX-14`. The runtime's `kill` knows them only by number.
 */
function realTimeSignal(s: string): number | undefined {
  const m = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(s);
  if (!m) return undefined;
  const n = m[3] === undefined ? 0 : Number(m[3]);
  if (m[1] === 'MIN' && (m[2] ?? '+') === '+' && n <= 15) return 34 + n;
  if (m[1] === 'MAX' && (m[2] ?? '-') === '-' && n <= 14) return 64 - n;
  return undefined;
}

/** The same signal as `process.kill` takes it; undefined for one Node does not know (the real-time ones). */
export function signalFor(sig: string): NodeJS.Signals | number | undefined {
  const s = normalSignal(sig);
  if (typeof s === 'number') return Object.values(SIGNALS).includes(s) ? s : undefined;
  return s in SIGNALS ? (s as NodeJS.Signals) : undefined;
}
