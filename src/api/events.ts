/**
 * The filters of `GET /events`, as dockerd applies them to the daemon's event log (moby `daemon/events/filter.go`).
 */
import { familiarName, parseReference } from '../oci/reference.ts';
import type { EngineEvent } from '../util/events.ts';
import { matchLabel } from '../util/labels.ts';

/** The filters `GET /events` takes. */
export const EVENT_FILTERS: readonly string[] = [
  'type',
  'event',
  'action',
  'image',
  'container',
  'label',
  'scope',
  'network',
  'volume',
  'daemon',
  'plugin',
  'node',
  'service',
  'secret',
  'config',
];

/** Actor types whose filter matches the actor's ID or name, exactly or as a prefix (moby's FuzzyMatch). */
const NAMED = ['container', 'network', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config'] as const;

/** Exact, or a prefix of the value (Docker's FuzzyMatch). */
function fuzzy(wanted: readonly string[] | undefined, ...values: (string | undefined)[]): boolean {
  if (!wanted?.length) return true;
  return wanted.some((w) => values.some((v) => v !== undefined && v !== '' && v.startsWith(w)));
}

function exact(wanted: readonly string[] | undefined, ...values: (string | undefined)[]): boolean {
  if (!wanted?.length) return true;
  return wanted.some((w) => values.includes(w));
}

/** `busybox:latest` → `busybox`; a name that does not parse stays as it is. */
function stripTag(name: string): string {
  if (name === '' || name.startsWith('sha256:')) return name;
  try {
    const r = parseReference(name);
    return r.digest ? name : familiarName(r);
  } catch {
    return name;
  }
}

/**
 * Whether an event passes the filters of `GET /events`, as dockerd decides (moby `daemon/events/filter.go`): every
 * key given must match, the values of one key are alternatives. `container`, `network`, `volume`… match the
 * actor's ID or `name` attribute by prefix, whatever the event's type, so `container=web` shows only that
 * container's events; `image` matches an image event's ID or name, or a container event's `image` attribute, with
 * or without the tag (and, a Berth addition, an image ID by prefix); `event` values `exec_start`, `exec_create` and
 * `health_status` match their longer actions by prefix.
 */
export function eventMatches(e: EngineEvent, f: ReadonlyMap<string, readonly string[]>): boolean {
  const events = [...(f.get('event') ?? []), ...(f.get('action') ?? [])];
  const fuzzyEvents = events.some((v) => v === 'health_status' || v === 'exec_create' || v === 'exec_start');
  if (events.length && !(fuzzyEvents ? fuzzy(events, e.Action) : exact(events, e.Action))) return false;
  if (!exact(f.get('type'), e.Type)) return false;
  if (!exact(f.get('scope'), e.scope)) return false;
  for (const key of NAMED) if (!fuzzy(f.get(key), e.Actor.ID, e.Actor.Attributes.name)) return false;
  const img = f.get('image');
  if (img?.length) {
    const name = (e.Type === 'image' ? e.Actor.Attributes.name : e.Actor.Attributes.image) ?? '';
    const byId =
      e.Type === 'image' && img.some((i) => /^[0-9a-f]{4,64}$/.test(i) && e.Actor.ID.startsWith(`sha256:${i}`));
    if (!byId && !exact(img, e.Actor.ID, name, stripTag(e.Actor.ID), stripTag(name))) return false;
  }
  const label = f.get('label');
  return !label || label.every((l) => matchLabel(e.Actor.Attributes, l));
}
