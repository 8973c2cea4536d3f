/**
 * Values of an image's run config as Docker's builder checks them: the ExposedPorts keys of an EXPOSE word and
 * StopSignal names. Pure. The Dockerfile builder (build/imageconfig.ts) and `--change` (images/changes.ts) both
 * use them, as dockerd runs the same instruction code for both.
 */
import { InvalidArgumentError } from '../util/errors.ts';

/**
 * The ExposedPorts keys of one EXPOSE word (go-connections' nat.ParsePortSpec): `80`, `80/udp`, `8000-8002`,
 * even `127.0.0.1:8080:80/tcp` (only the container port counts). The protocol is lower-cased.
 */
export function exposedPortKeys(raw: string): string[] {
  const parts = raw.split(':');
  let container = parts.length === 1 ? parts[0]! : parts[parts.length - 1]!;
  const slash = container.indexOf('/');
  let proto = 'tcp';
  if (slash >= 0) {
    proto = container.slice(slash + 1) || 'tcp';
    container = container.slice(0, slash);
  }
  if (container === '') throw new InvalidArgumentError(`no port specified: ${raw}<empty>`);
  proto = proto.toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidArgumentError(`invalid proto: ${proto}`);
  const range = parsePortRange(container);
  if (!range) throw new InvalidArgumentError(`invalid containerPort: ${container}`);
  const out: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) out.push(`${p}/${proto}`);
  return out;
}

/** `N` or `N-M` with 0 ≤ N ≤ M ≤ 65535 (Go's ParseUint with 16 bits), or undefined. */
function parsePortRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) return undefined;
  return [start, end];
}

const LINUX_SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
]);
for (let i = 1; i <= 15; i++) {
  LINUX_SIGNALS.add(`RTMIN+${i}`);
  LINUX_SIGNALS.add(`RTMAX-${i}`);
}

/** moby/sys signal.ParseSignal on Linux: a non-zero number, or a name with or without `SIG`, any case. */
export function isValidSignal(raw: string): boolean {
  if (/^[+-]?\d+$/.test(raw)) return Number(raw) !== 0;
  return LINUX_SIGNALS.has(raw.toUpperCase().replace(/^SIG/, ''));
}
