/**
 * Per-network locks around backend calls. A backend decides per network whether a teardown is the last one (and
 * removes the bridge and its rules), which must not interleave with a setup on that network, and a network's first
 * setup creates the bridge and rules, which must not run twice at once; so teardowns and first setups hold a
 * network alone. Setups on a network where another container's endpoint is already up share it (its rules exist,
 * the backend adds only per-container ones). Podman serialises every call.
 */
import { RWLock } from '../util/lock.ts';
import type { Records } from './model.ts';

export class NetworkLocks {
  readonly #records: Records;
  readonly #locks = new Map<string, RWLock>();
  /**
   * Containers whose endpoints do not count for "warm" now: their setup has not finished, or they are going (the
   * backend may remove the bridge).
   */
  readonly unsettled = new Set<string>();

  constructor(records: Records) {
    this.#records = records;
  }

  /** Runs a backend call holding each named network's lock, in a fixed order; `setup` may share a warm network. */
  run<T>(names: readonly string[], fn: () => Promise<T>, setup?: { containerId: string }): Promise<T> {
    const sorted = [...new Set(names)].sort();
    const go = async (i: number): Promise<T> => {
      if (i === sorted.length) return fn();
      const name = sorted[i]!;
      let lock = this.#locks.get(name);
      if (!lock) this.#locks.set(name, (lock = new RWLock()));
      if (!setup) return lock.write(() => go(i + 1));
      // A setup that waited for the network alone while another made it warm lets go and shares it instead.
      for (;;) {
        if (this.#warm(name, setup.containerId)) {
          const shared = await lock.read(async () =>
            this.#warm(name, setup.containerId) ? { value: await go(i + 1) } : undefined,
          );
          if (shared) return shared.value;
        }
        const alone = await lock.write(async () =>
          this.#warm(name, setup.containerId) ? undefined : { value: await go(i + 1) },
        );
        if (alone) return alone.value;
      }
    };
    return go(0);
  }

  /** Whether another container's endpoint on the network is up (its setup finished): the bridge and rules exist. */
  #warm(networkName: string, containerId: string): boolean {
    const n = this.#records.byName(networkName);
    if (!n) return false;
    return this.#records
      .endpointsOn(n.id)
      .some((e) => e.endpointId !== null && e.containerId !== containerId && !this.unsettled.has(e.containerId));
  }
}
