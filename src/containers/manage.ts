/**
 * Changes to a container's record that are no transition of its state: a new name (`docker rename`) and new
 * limits (`docker update`). The service publishes their events.
 */
import type { HostConfig } from '../engine-api/containers.ts';
import type { RuntimeDriver } from '../runtime/index.ts';
import { ConflictError, errorMessage } from '../util/errors.ts';
import { validateHostConfig, validateName } from './config.ts';
import { isLive, type LookupDeps } from './lookup.ts';
import type { Row } from './model.ts';
import { applyUpdate, liveLimits } from './resources.ts';

export interface ManageDeps extends Pick<LookupDeps, 'records' | 'networks' | 'host'> {
  log?: { warn(m: string): void } | undefined;
}

/**
 * `docker rename`: the new name recorded (a Conflict in dockerd's words when it is the current one or taken), then
 * given to the container's DNS records, so that other containers on its user networks resolve it, as Docker's.
 * Returns the new name.
 */
export async function renameContainer(d: ManageDeps, r: Row, newName: string): Promise<string> {
  const name = validateName(newName);
  if (name === r.name) throw new ConflictError(`Renaming a container with the same name as its current name`);
  const other = d.records.byName(name);
  if (other || !d.records.rename(r.id, name)) {
    throw new ConflictError(
      `Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${other?.id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }
  await d.networks
    .rename(r.id, name)
    .catch((err: unknown) =>
      d.log?.warn(`rename ${r.id.slice(0, 12)}: DNS records keep the old name: ${errorMessage(err)}`),
    );
  return name;
}

/**
 * `docker update`: new limits (and restart policy) for a container; a running one gets them at once through the
 * runtime (`runc update`), and they are kept for its next start.
 */
export async function updateContainer(
  d: ManageDeps,
  r: Row,
  u: Partial<HostConfig>,
  driver: (r: Row) => RuntimeDriver,
): Promise<void> {
  const hc = applyUpdate(r.hostConfig, u);
  validateHostConfig(hc);
  if (isLive(r)) await driver(r).update(r.id, liveLimits(hc, d.host));
  d.records.setHostConfig(r.id, hc);
}
