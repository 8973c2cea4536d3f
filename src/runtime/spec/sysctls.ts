/** --sysctl: only the kernel parameters that belong to a namespace the container has of its own. */
import { sysctlNamespace } from '../../oci/linux.ts';
import { InvalidArgumentError } from '../../util/errors.ts';

export interface SysctlNamespaces {
  /** The container has an IPC namespace of its own (private, or joined from another container). */
  privateIpc: boolean;
  /** The container has a network namespace of its own (none, or joined); false for --network host. */
  privateNetwork: boolean;
}

/**
 * Checks --sysctl settings as Docker and runc do: `kernel.msg*`, `kernel.sem`, `kernel.shm*` and `fs.mqueue.*`
 * need a private IPC namespace, `net.*` a private network namespace; any other parameter is host-wide and is
 * refused. Keys may be written with dots or slashes (`net/ipv4/ip_forward`); the result uses dots.
 */
export function validateSysctls(
  sysctls: Readonly<Record<string, string>>,
  ns: SysctlNamespaces,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(sysctls)) {
    const key = raw.trim().replaceAll('/', '.');
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_:@+-]+)+$/.test(key)) {
      throw new InvalidArgumentError(`invalid sysctl "${raw}": not a kernel parameter name`);
    }
    if (typeof value !== 'string' || value === '' || /[\n\0]/.test(value)) {
      throw new InvalidArgumentError(`invalid sysctl "${raw}=${value}": the value must be a non-empty single line`);
    }
    const namespace = sysctlNamespace(key);
    if (namespace === 'ipc') {
      if (!ns.privateIpc) throw new InvalidArgumentError(`sysctl "${raw}" is not allowed in the host's IPC namespace`);
    } else if (namespace === 'net') {
      if (!ns.privateNetwork) {
        throw new InvalidArgumentError(`sysctl "${raw}" is not allowed in the host's network namespace`);
      }
    } else {
      throw new InvalidArgumentError(`sysctl "${raw}" is not namespaced: it would change the whole host`);
    }
    out[key] = value;
  }
  return out;
}
