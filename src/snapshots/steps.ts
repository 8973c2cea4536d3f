/**
 * An applier's work (see pool.ts): does the file work of one reader's layers with synchronous calls
 * (SyncUnpacker). Steps of a layer arrive in order and are done in order; after each one the applier's count in
 * that reader's control block moves on (the reader waits on it), and a body slot it has written is freed. After a
 * failure, or once the main thread asked to cancel, the rest of that layer's steps are counted and skipped, and the
 * error goes to the reader. An applier thread (applier.ts) runs one for each reader it serves, fed through a port;
 * each reader runs one of its own, fed by direct calls (reader.ts).
 */
import {
  type ApplierToReader,
  type ApplyStep,
  CTL_ABORT,
  CTL_FAILED,
  CTL_PROGRESS,
  freeSlot,
  portableError,
  type ReaderToApplier,
  SLOT,
} from './unpack-protocol.ts';
import { SyncUnpacker } from './unpacker.ts';

/** Consecutive body pieces of one file are written by one writev of at most this many. */
const MAX_GATHER = 16;

export interface StepApplier {
  /** A message from the reader: a layer starts, or steps of it to do now. */
  handle(m: ReaderToApplier): void;
  /** Closes the file being written, if any (the reader is gone). */
  close(): void;
}

/** The layer a reader is having this applier work on. */
interface Layer {
  job: number;
  u: SyncUnpacker;
  /** The current entry's body is wanted (a regular file `begin` opened). */
  keep: boolean;
  done: number;
  failed: boolean;
}

/**
 * The applier numbered `id` of the reader whose control block and body slots are `ctl` and `bodies`; its first
 * error of each layer goes to `report`.
 */
export function stepApplier(
  id: number,
  ctl: Int32Array,
  bodies: Uint8Array,
  report: (e: ApplierToReader) => void,
): StepApplier {
  const progress = CTL_PROGRESS + id;
  let layer: Layer | undefined;

  const count = (l: Layer, n: number): void => {
    l.done += n;
    Atomics.store(ctl, progress, l.done);
    Atomics.notify(ctl, progress);
  };
  const fail = (l: Layer, err: unknown): void => {
    l.failed = true;
    l.u.close();
    Atomics.store(ctl, CTL_FAILED, 1);
    report({ t: 'error', job: l.job, ...portableError(err) });
  };

  const run = (l: Layer, steps: ApplyStep[]): void => {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const skip = l.failed || Atomics.load(ctl, CTL_ABORT) !== 0 || Atomics.load(ctl, CTL_FAILED) !== 0;
      if ('d' in step) {
        // A run of body pieces: one writev.
        let j = i + 1;
        while (j < steps.length && j - i < MAX_GATHER && 'd' in steps[j]!) j++;
        const run = steps.slice(i, j) as { d: number; n: number }[];
        if (!skip && l.keep) {
          try {
            l.u.write(run.map((p) => bodies.subarray(p.d * SLOT, p.d * SLOT + p.n)));
          } catch (err) {
            fail(l, err);
          }
        }
        for (const p of run) freeSlot(ctl, p.d);
        count(l, run.length);
        i = j - 1;
        continue;
      }
      if (!skip) {
        try {
          apply(l, step);
        } catch (err) {
          fail(l, err);
        }
      } else if (!l.failed) {
        // canceled, or another applier failed: close what is open, once
        l.failed = true;
        l.u.close();
      }
      count(l, 1);
    }
  };

  return {
    handle(m) {
      if (m.t === 'start') {
        layer?.u.close();
        layer = {
          job: m.job,
          u: new SyncUnpacker(m.root, m.mode, { keepDirTimes: !m.shared }),
          keep: false,
          done: 0,
          failed: false,
        };
        return;
      }
      if (layer !== undefined && layer.job === m.job) run(layer, m.steps);
    },
    close() {
      layer?.u.close();
    },
  };
}

function apply(l: Layer, step: Exclude<ApplyStep, { d: number }>): void {
  if ('h' in step) l.keep = l.u.begin(step.h);
  else if ('e' in step) {
    if (l.keep) {
      l.keep = false;
      l.u.endFile();
    }
  } else if ('p' in step) l.u.makeParent(step.p, step.name);
  else if ('r' in step) l.u.forgetDirs();
  else l.u.finish();
}
