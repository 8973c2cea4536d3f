/**
 * The daemon's event log, in the Engine API's shape (`GET /events`). Services publish; subscribers (the API's
 * events stream) get new events, and recent ones are kept for `since`. Which events a client asked for is the
 * API's business (src/api/events.ts).
 */

/** An event as `GET /events` sends it (the Engine API's `EventMessage`, every field set). */
export interface EngineEvent {
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

/**
 * The event's time in nanoseconds since the epoch, strictly after the previous one. Such numbers are beyond a
 * double's exact integers (2^53), so consecutive ones are a power of two apart (256 ns in these decades): a tie moves
 * on by that step, since adding 1 would change nothing.
 */
export function nextNano(last: number, now: number): number {
  if (now > last) return now;
  return last + 2 ** Math.max(0, Math.floor(Math.log2(last)) - 52);
}

export class EventLog {
  readonly #recent: EngineEvent[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #keep: number;
  #lastNano = 0;

  constructor(keep = 1024) {
    this.#keep = keep;
  }

  publish(type: string, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    this.#lastNano = nextNano(this.#lastNano, Math.round((performance.timeOrigin + performance.now()) * 1e6));
    const nano = this.#lastNano;
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
