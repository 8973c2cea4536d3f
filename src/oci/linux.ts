/**
 * Names the OCI runtime spec's Linux section takes, as Docker checks them on both sides of the API: the docker CLI's
 * `--ulimit` and `--sysctl` (src/cli/container/values.ts) and the spec builder (src/runtime/spec/). Pure.
 */

/** The resources of `setrlimit` a container's `Ulimits` may name (`RLIMIT_<NAME>` lower-cased). */
export const RLIMIT_NAMES = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;
export type RlimitName = (typeof RLIMIT_NAMES)[number];

/** The IPC-namespaced kernel.* parameters (fs.mqueue.* is IPC-namespaced too). */
const IPC_KERNEL_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * The namespace a kernel parameter (dotted: `net.ipv4.ip_forward`) belongs to, as Docker and runc decide: `ipc`
 * for `kernel.msg*`, `kernel.sem`, `kernel.shm*` and `fs.mqueue.*`, `net` for `net.*`; undefined for a parameter
 * of the whole host.
 */
export function sysctlNamespace(key: string): 'ipc' | 'net' | undefined {
  if (IPC_KERNEL_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'net';
  return undefined;
}
