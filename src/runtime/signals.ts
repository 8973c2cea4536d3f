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
  if (!(s in SIGNALS) && !/^SIGRTM(?:IN|AX)(?:[+-]\d+)?$/.test(s))
    throw new InvalidArgumentError(`Invalid signal: ${sig}`);
  return s;
}

/** The same signal as `process.kill` takes it; undefined for one Node does not know (the real-time ones). */
export function signalFor(sig: string): NodeJS.Signals | number | undefined {
  const s = normalSignal(sig);
  if (typeof s === 'number') return Object.values(SIGNALS).includes(s) ? s : undefined;
  return s in SIGNALS ? (s as NodeJS.Signals) : undefined;
}
