/**
 * node:http, node:https and node:tls, taken on first use and through `process.getBuiltinModule`: an ESM import of
 * node:http builds a facade of every export, whose lazy getters load undici and with it http2, tls and webcrypto
 * (about 13 MB of a daemon that may never pull; docs/design-notes.md, berthd's memory). A thread that only fetches
 * over plain HTTP through its own reader (util/blob-fetch.ts, `plainGet`) loads none of them.
 */
export const builtin = {
  get http() {
    return process.getBuiltinModule('node:http');
  },
  get https() {
    return process.getBuiltinModule('node:https');
  },
  get tls() {
    return process.getBuiltinModule('node:tls');
  },
};
