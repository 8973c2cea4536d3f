/**
 * An applier thread (see pool.ts): does the file work of layers (steps.ts) for every reader thread it is connected
 * to, each through its own port and shared memory.
 */
import { parentPort } from 'node:worker_threads';
import { stepApplier } from './steps.ts';
import type { ApplierToReader, ReaderToApplier, ToApplier } from './unpack-protocol.ts';

const port = parentPort;
if (port !== null) {
  port.on('message', (m: ToApplier) => {
    if (m.t !== 'reader') return;
    const reader = m.port;
    const a = stepApplier(m.id, new Int32Array(m.ctl), new Uint8Array(m.bodies), (e: ApplierToReader) =>
      reader.postMessage(e),
    );
    reader.on('message', (s: ReaderToApplier) => a.handle(s));
    reader.on('close', () => a.close());
  });
}
