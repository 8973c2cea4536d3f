/**
 * A build's progress as events, and the classic builder's text for them: the JSON lines `POST /build` answers
 * (`Step N/M : …`, ` ---> Using cache`, ` ---> Running in …`, the step's output with stderr in red, ` ---> <id>`,
 * `aux` with each stage's image ID), which the docker CLI, dockerode and docker-py read.
 *
 * Stages that build side by side report at once; the text keeps the classic order (a stage's lines after the
 * lines of the stages before it), holding a later stage's lines until the earlier ones are done.
 */

import type { BuildEvent } from '../engine-api/build.ts';

export type { BuildEvent };

/** One JSON line of the classic stream. */
export type ClassicMessage = { stream: string } | { aux: { ID: string } } | Record<string, unknown>;

/** The classic builder's lines for one event. */
export function classicLines(e: BuildEvent): ClassicMessage[] {
  switch (e.kind) {
    case 'step':
      return [{ stream: `Step ${e.step}/${e.total} : ${e.text}` }, { stream: '\n' }];
    case 'triggers':
      return [{ stream: `# Executing ${e.count} build trigger${e.count === 1 ? '' : 's'}\n` }];
    case 'cached':
      return [{ stream: ' ---> Using cache\n' }];
    case 'run-start':
      return [{ stream: ` ---> Running in ${e.id.slice(0, 12)}\n` }];
    case 'output':
      return [{ stream: e.stream === 'stderr' ? `\u001b[91m${e.data}\u001b[0m` : e.data }];
    case 'run-end':
      return [{ stream: `Removing intermediate container ${e.id.slice(0, 12)}\n` }];
    case 'result':
      return [{ stream: ` ---> ${shortId(e.id)}\n` }];
    case 'stage-done':
      return [{ aux: { ID: e.id } }];
    case 'pull':
      return [e.message];
    case 'warning':
      return [{ stream: `[Warning] ${e.text}\n` }];
  }
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * Passes events on in stage order: the events of the first unfinished stage (in `order`) go out as they come,
 * those of later stages wait until the stages before them are done. Events without a stage go out at once.
 */
export class StageOrder {
  readonly #order: number[];
  readonly #out: (e: BuildEvent) => void;
  readonly #held = new Map<number, BuildEvent[]>();
  readonly #done = new Set<number>();
  #head = 0;

  constructor(order: readonly number[], out: (e: BuildEvent) => void) {
    this.#order = [...order];
    this.#out = out;
  }

  emit(e: BuildEvent): void {
    if (!('stage' in e) || this.#order[this.#head] === e.stage || !this.#order.includes(e.stage)) {
      this.#out(e);
      return;
    }
    const list = this.#held.get(e.stage) ?? [];
    list.push(e);
    this.#held.set(e.stage, list);
  }

  /** A stage has finished: when it is the head, the next stages' held events go out. */
  finish(stage: number): void {
    this.#done.add(stage);
    while (this.#head < this.#order.length && this.#done.has(this.#order[this.#head]!)) {
      this.#head++;
      const next = this.#order[this.#head];
      if (next === undefined) break;
      for (const e of this.#held.get(next) ?? []) this.#out(e);
      this.#held.delete(next);
    }
  }
}
