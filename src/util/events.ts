/**
 * The daemon's event log, in the Engine API's shape (`GET /events`). Services publish; subscribers (the API's
 * events stream) get new events, and recent ones are kept for `since`.
 */
import type { EventMessage } from '../engine-api/system.ts';
import { matchLabel } from './labels.ts';

export interface EngineEvent extends EventMessage {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Legacy fields Docker still sends for container and image events. */
  status?: string;
  id?: string;
  from?: string;
}

type Listener = (e: EngineEvent) => void;

export class EventLog {
  readonly #recent: EngineEvent[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #keep: number;
  #lastNano = 0;

  constructor(keep = 1024) {
    this.#keep = keep;
  }

  publish(type: string, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    let nano = Date.now() * 1_000_000;
    if (nano <= this.#lastNano) nano = this.#lastNano + 1;
    this.#lastNano = nano;
    const e: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(nano / 1e9),
      timeNano: nano,
    };
    if (type === 'image' || type === 'container') {
      e.status = action;
      e.id = id;
      if (attributes.image !== undefined && type === 'container') e.from = attributes.image;
    }
    this.#recent.push(e);
    if (this.#recent.length > this.#keep) this.#recent.shift();
    for (const l of this.#listeners) l(e);
    return e;
  }

  /** Events kept in memory with timeNano >= sinceNano. */
  since(sinceNano: number): EngineEvent[] {
    return this.#recent.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

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

/**
 * Whether an event passes the filters of `GET /events`. Applied: `type`, `event`/`action`, `image` (an image's
 * ID, ID prefix or name; a container's image), `label` and `scope`; the others are accepted and not applied.
 */
export function eventMatches(e: EngineEvent, f: ReadonlyMap<string, readonly string[]>): boolean {
  const t = f.get('type');
  if (t && !t.includes(e.Type)) return false;
  const ev = [...(f.get('event') ?? []), ...(f.get('action') ?? [])];
  if (ev.length && !ev.includes(e.Action)) return false;
  const img = f.get('image');
  if (
    img &&
    !(
      e.Type === 'image' &&
      (img.includes(e.Actor.ID) ||
        img.includes(e.Actor.Attributes.name ?? '') ||
        img.some((i) => e.Actor.ID.startsWith(`sha256:${i}`)))
    )
  ) {
    if (!(e.Type === 'container' && img.includes(e.Actor.Attributes.image ?? ''))) return false;
  }
  const label = f.get('label');
  if (label && !label.every((l) => matchLabel(e.Actor.Attributes, l))) return false;
  const scope = f.get('scope');
  if (scope && !scope.includes(e.scope)) return false;
  return true;
}
