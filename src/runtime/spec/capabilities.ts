/** Linux capabilities: names, Docker's default set, --cap-add/--cap-drop resolution. */
import { InvalidArgumentError } from '../../util/errors.ts';

/** Every capability Linux defines, indexed by its number (CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default capability set (moby oci/caps/defaults.go), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const KNOWN = new Set(ALL_CAPABILITIES);

/**
 * `chown`, `CHOWN`, `cap_chown` and `CAP_CHOWN` all become `CAP_CHOWN`; `all`/`ALL` becomes `ALL`.
 * An unknown name is an InvalidArgumentError quoting it.
 */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw new InvalidArgumentError(`unknown capability: "${name}"`);
  return full;
}

export interface CapabilityRequest {
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  /**
   * The capabilities the runtime itself holds (its bounding set, see `capabilitiesFromMask`). A runtime cannot
   * grant what it lacks (this host has no CAP_SYS_RESOURCE), so ALL and --privileged are cut down to this set,
   * and an explicit --cap-add outside it is refused. Absent: every capability is assumed available.
   */
  available?: readonly string[];
}

/**
 * The container's capability set, as Docker's TweakCapabilities computes it: --privileged gives all;
 * `--cap-add ALL` gives all but the dropped; `--cap-drop ALL` gives only the added; otherwise the default set
 * minus the dropped plus the added. Result is sorted by capability number, without duplicates.
 */
export function resolveCapabilities(req: CapabilityRequest): string[] {
  const available = req.available ? new Set(req.available.map(normalizeCapability)) : undefined;
  const all = ALL_CAPABILITIES.filter((c) => !available || available.has(c));
  if (req.privileged) return [...all];
  const adds = (req.capAdd ?? []).map(normalizeCapability);
  const drops = (req.capDrop ?? []).map(normalizeCapability);
  if (available) {
    for (const c of adds) {
      if (c !== 'ALL' && !available.has(c)) {
        throw new InvalidArgumentError(`capability "${c}" cannot be added: the runtime on this host does not hold it`);
      }
    }
  }
  let caps: string[];
  if (adds.includes('ALL')) caps = all.filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  const set = new Set(caps);
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}

/**
 * The capability names set in a hex mask as /proc/<pid>/status shows it (`CapBnd:\t000001fffeffffff`).
 * Bits beyond the names Berth knows are ignored.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const text = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) throw new InvalidArgumentError(`not a capability mask: "${hex}"`);
  const mask = BigInt(`0x${text}`);
  return ALL_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}
