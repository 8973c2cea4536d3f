/**
 * Timed phases of berthd's work (the container start path: spec, mounts, network, conmon and the runtime,
 * database writes), published on `node:diagnostics_channel` as `berth:phase`. Nothing is measured or kept unless
 * something subscribes: a benchmark loads a subscriber into berthd (`node --import`) and reads the phases, as
 * undici publishes its requests. With no subscriber a phase costs one property read.
 *
 * A message is `{ phase, id, start, end }`: `start` and `end` are milliseconds since the epoch with
 * sub-millisecond precision (`performance.timeOrigin + performance.now()`), so they line up with the times a
 * client process measures.
 */
import type { Channel } from 'node:diagnostics_channel';

export interface PhaseMessage {
  /** What was done: `runtime.create`, `mount`, `database`, ... */
  phase: string;
  /** The container (or other object) it was done for; '' when none. */
  id: string;
  start: number;
  end: number;
}

// node:diagnostics_channel through getBuiltinModule: cheap, and no ESM facade of the module is built.
const channel: Channel = process.getBuiltinModule('node:diagnostics_channel').channel('berth:phase');

/** The channel's name, for subscribers. */
export const PHASE_CHANNEL = 'berth:phase';

const now = (): number => performance.timeOrigin + performance.now();

/** Runs `fn`, publishing how long it took (also when it throws). */
export async function phase<T>(name: string, id: string, fn: () => Promise<T>): Promise<T> {
  if (!channel.hasSubscribers) return fn();
  const start = now();
  try {
    return await fn();
  } finally {
    channel.publish({ phase: name, id, start, end: now() } satisfies PhaseMessage);
  }
}

/** `phase` for synchronous work (SQLite writes, mount calls). */
export function phaseSync<T>(name: string, id: string, fn: () => T): T {
  if (!channel.hasSubscribers) return fn();
  const start = now();
  try {
    return fn();
  } finally {
    channel.publish({ phase: name, id, start, end: now() } satisfies PhaseMessage);
  }
}

/** Publishes a phase measured by the caller (`start` from `phaseStart()`), e.g. one that ends in a callback. */
export function phaseEnd(name: string, id: string, start: number | undefined): void {
  if (start === undefined || !channel.hasSubscribers) return;
  channel.publish({ phase: name, id, start, end: now() } satisfies PhaseMessage);
}

/** The start time for `phaseEnd`, or undefined when nothing listens. */
export function phaseStart(): number | undefined {
  return channel.hasSubscribers ? now() : undefined;
}
