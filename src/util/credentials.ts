/**
 * Whether a registry's credentials (the `Authorization` its client adds) go with a request to `to`, made for the
 * registry endpoint `from` or reached by a redirect from it: only when both have the same origin (scheme, host and
 * port). So a redirect to storage on another host or port goes without them, and so does one from https to plain
 * http on the same host (they would cross the network in clear) or from http to https. Docker's rule in effect:
 * docker/distribution's authorizer adds a registry's credentials to a request only when it holds a ping challenge
 * for the request's scheme, host and port (docs/design-notes.md, Registries). The registry client on the main
 * thread and the ingest thread's fetch both follow it on every hop.
 */
export function credentialsGo(from: URL, to: URL): boolean {
  return from.origin === to.origin;
}
