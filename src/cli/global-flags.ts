import type { FlagSpec } from './flags.ts';

/**
 * `berth`'s global flags, before the command: parsed by main.ts, and read by the entry (berth.ts) to find the
 * command before anything else is loaded. Plain data with a type-only import, so the entry reads it without
 * loading the flag parser (the bundle has its own copy: data only, no classes).
 */
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'debug', short: 'D', kind: 'bool', usage: 'Enable debug mode' },
  {
    name: 'host',
    short: 'H',
    kind: 'string',
    valueName: 'string',
    usage: 'Daemon socket to connect to (default "unix:///run/berth/berth.sock", or $BERTH_HOST)',
  },
  {
    name: 'log-level',
    short: 'l',
    kind: 'string',
    usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")',
    defaultValue: 'info',
  },
  { name: 'tls', kind: 'bool', usage: 'Use TLS; implied by --tlsverify' },
  {
    name: 'tlscacert',
    kind: 'string',
    usage: 'Trust certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem", or ~/.docker/ca.pem)',
  },
  { name: 'tlscert', kind: 'string', usage: 'Path to TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem")' },
  { name: 'tlskey', kind: 'string', usage: 'Path to TLS key file (default "$DOCKER_CERT_PATH/key.pem")' },
  { name: 'tlsverify', kind: 'bool', usage: 'Use TLS and verify the remote (or $DOCKER_TLS_VERIFY)' },
  { name: 'version', short: 'v', kind: 'bool', usage: 'Print version information and quit' },
];
