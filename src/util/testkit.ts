/** Helpers for the tests of any folder. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server listening on a loopback port, and its close. */
export interface Listening {
  port: number;
  /** `127.0.0.1:<port>`. */
  host: string;
  /** Closes the server after ending its connections (a kept-alive one would hold the close until it times out). */
  close(): Promise<void>;
}

/**
 * Listens with an HTTP(S) server on 127.0.0.1 at a free port. With `t` (a test's context), the server is closed
 * after the test; else the caller closes it.
 */
export async function listenLoopback(
  server: Pick<Server, 'listen' | 'address' | 'close' | 'closeAllConnections'>,
  t?: { after(fn: () => Promise<void>): void },
): Promise<Listening> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  t?.after(close);
  return { port, host: `127.0.0.1:${port}`, close };
}
