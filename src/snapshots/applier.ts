/**
 * An applier thread (see pool.ts): does the file work of layers with synchronous calls (SyncUnpacker), for every
 * reader thread it is connected to, each through its own port and shared memory. Steps of one reader's layer
 * arrive in order and are done in order; after each one the applier's count in that reader's control block moves
 * on (the reader waits on it), and a body slot it has written is freed. After a failure, or once the main thread
 * asked to cancel, the rest of that layer's steps are counted and skipped, and the error goes to the reader.
 */
import { type MessagePort, parentPort } from 'node:worker_threads';
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
  type ToApplier,
} from './unpack-protocol.ts';
import { SyncUnpacker } from './unpacker.ts';

/** Consecutive body pieces of one file are written by one writev of at most this many. */
const MAX_GATHER = 16;

const port = parentPort;
if (port !== null) {
  port.on('message', (m: ToApplier) => {
    if (m.t === 'reader') serve(m.id, m.port, new Int32Array(m.ctl), new Uint8Array(m.bodies));
  });
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

function serve(id: number, reader: MessagePort, ctl: Int32Array, bodies: Uint8Array): void {
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
    reader.postMessage({ t: 'error', job: l.job, ...portableError(err) } satisfies ApplierToReader);
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

  reader.on('message', (m: ReaderToApplier) => {
    if (m.t === 'start') {
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
  });
  reader.on('close', () => layer?.u.close());
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
