/**
 * Tags: pointing names at images, each move recorded in the tag's history (in the same transaction, by
 * `ImageRecords.setTag`), the history itself, and rolling a tag back to a version it had.
 */
import type { ImageDeleteItem } from '../engine-api/images.ts';
import type { ImageRecord, ImageRecords, TagAction } from '../metadata/index.ts';
import { familiarString, parseReference, referenceString, withDefaultTag } from '../oci/reference.ts';
import { InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';

/** One version in a tag's history, newest first. */
export interface TagVersion {
  /** The manifest digest the tag pointed at from then on (null: untagged). */
  manifestDigest: string | null;
  /** The image ID of that version (null: untagged). */
  configDigest: string | null;
  /** Milliseconds since the epoch. */
  at: number;
  action: TagAction;
  /** Whether that version's image is still stored. */
  exists: boolean;
}

export interface RollbackResult {
  /** The tag, familiar (`app:latest`). */
  name: string;
  from: string | null;
  to: string;
}

export class Tags {
  readonly #records: ImageRecords;
  readonly #events: EventLog;

  constructor(deps: { records: ImageRecords; events: EventLog }) {
    this.#records = deps.records;
    this.#events = deps.events;
  }

  /** `docker tag SOURCE TARGET`, SOURCE resolved to `img`. */
  tag(img: ImageRecord, target: string): void {
    const ref = parseReference(target);
    if (ref.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const name = referenceString(withDefaultTag(ref));
    const r = this.#records.setTag(name, img.manifestDigest);
    if (r.changed)
      this.#events.publish('image', 'tag', img.configDigest, { name: familiarString(withDefaultTag(ref)) });
  }

  /** Removes the tag `name` (full) from `img`, reporting it in `out` as `docker rmi` does. */
  untag(name: string, img: ImageRecord, out: ImageDeleteItem[]): void {
    if (this.#records.removeTag(name) === undefined) return;
    const display = familiarString(parseReference(name));
    out.push({ Untagged: display });
    this.#events.publish('image', 'untag', img.configDigest, { name: display });
  }

  /** A tag's history, newest first: each version it pointed at, when, and how it got there. */
  history(name: string): TagVersion[] {
    const ref = withDefaultTag(parseReference(name));
    const h = this.#records.history(referenceString(ref));
    if (h.length === 0) throw new NotFoundError(`No history for tag: ${familiarString(ref)}`);
    return h.map((e) => ({
      manifestDigest: e.manifestDigest,
      configDigest: e.configDigest,
      at: e.at,
      action: e.action,
      exists: e.manifestDigest !== null && this.#records.get(e.manifestDigest) !== undefined,
    }));
  }

  /**
   * Moves a tag back. With `to` (a manifest digest, an image ID, or a prefix of either found in the tag's
   * history), to that version; without, one version back: to the version the tag had before the one it has now
   * was first set (repeated rollbacks walk further back). The image must still exist.
   */
  rollback(name: string, to?: string): RollbackResult {
    const ref = withDefaultTag(parseReference(name));
    if (ref.digest !== undefined) throw new InvalidArgumentError(`cannot roll back a digest reference "${name}"`);
    const full = referenceString(ref);
    const display = familiarString(ref);
    const history = this.#records.history(full);
    if (history.length === 0) throw new NotFoundError(`No history for tag: ${display}`);
    const current = this.#records.tag(full)?.manifestDigest ?? null;
    let target: string | undefined;
    if (to !== undefined && to !== '') {
      const want = to.startsWith('sha256:') ? to : `sha256:${to}`;
      const match = history.find(
        (h) =>
          h.manifestDigest !== null && (h.manifestDigest.startsWith(want) || (h.configDigest ?? '').startsWith(want)),
      );
      if (!match?.manifestDigest) throw new NotFoundError(`${to} is not in the history of ${display}`);
      target = match.manifestDigest;
    } else {
      // Versions in the order they were set by tagging (rollbacks do not add versions).
      const versions = history.filter((h) => h.action === 'tag' && h.manifestDigest !== null).reverse();
      let idx = versions.length;
      if (current !== null) {
        for (let i = versions.length - 1; i >= 0; i--) {
          if (versions[i]!.manifestDigest === current) {
            idx = i;
            break;
          }
        }
      }
      for (let i = idx - 1; i >= 0; i--) {
        const d = versions[i]!.manifestDigest!;
        if (d !== current && this.#records.get(d)) {
          target = d;
          break;
        }
      }
      if (!target) throw new NotFoundError(`${display} has no earlier version to roll back to`);
    }
    const img = this.#records.get(target);
    if (!img) throw new NotFoundError(`the image ${target} of ${display}'s history has been deleted`);
    if (target === current) return { name: display, from: current, to: target };
    this.#records.setTag(full, target, 'rollback');
    this.#events.publish('image', 'tag', img.configDigest, { name: display });
    return { name: display, from: current, to: target };
  }
}
