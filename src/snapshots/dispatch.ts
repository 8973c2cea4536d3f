/**
 * The reader thread's side of a layer's file work: turns tar entries into steps for the applier threads, keeping
 * the order that matters and nothing more.
 *
 * Alone (one applier does the whole layer, in order): 'delete' mode, a root that is not empty, one applier.
 *
 * Shared (an empty root in 'overlay' mode: every snapshot a layer unpacks into): each step goes to any applier, as
 * long as what it depends on is done first: a step goes to the applier of an unfinished step it depends on (each
 * applier works in order) or waits until the others are done. A step depends on the step that made its parent
 * directory, on the last step at its own path (a later entry replaces an earlier one) and, for a hard link, on the
 * step that made its target. Parents the layer does not name are made by steps of their own, as the lone applier
 * makes them. Replacing a directory by anything else removes the directory's tree: that waits until every applier
 * is idle, runs alone, and every applier then forgets the directories it knew (so none writes through a symlink
 * that replaced one). Directories' times are set here at the end, after every applier is done. Every path made in a
 * shared unpack is known here (the root started empty), so a hard link to a path not made yet is refused here, as
 * the lone applier refuses it.
 *
 * One of the appliers may be this thread itself (the `local` link): its steps are done when they are sent, and it
 * gets a step that could go anywhere only while every applier thread has `localAfter` steps waiting, so the threads
 * stay busy and this thread does file work instead of waiting for them. By default never (LOCAL_AFTER): measured, it
 * made this thread the load's critical path (bench/README.md, "Data path"); tests set it.
 *
 * Bodies go through slots of shared memory (SLOT bytes each): copied in here, written from there by the applier,
 * freed by it; when no slot is free this thread waits (the backpressure). Progress: each applier counts the steps it
 * has done in the control block, and a step is done when its applier's count reaches the step's number.
 */
import { utimesSync } from 'node:fs';
import { posix } from 'node:path';
import { CanceledError, InvalidArgumentError, isErrno } from '../util/errors.ts';
import { copyToShared } from '../util/shared-copy.ts';
import type { TarHeader } from '../util/tar/index.ts';
import type { TarSink } from '../util/tar/parser.ts';
import {
  archivedSize,
  entryPath,
  isAbsoluteEntry,
  normalise,
  OPAQUE_MARKER,
  type PortableHeader,
  times,
  WHITEOUT_PREFIX,
  type WhiteoutMode,
} from './layer-rules.ts';
import {
  type ApplyStep,
  CTL_ABORT,
  CTL_FAILED,
  CTL_FREED,
  CTL_PROGRESS,
  freeSlot,
  type ReaderToApplier,
  SLOT,
  SLOTS,
  takeSlot,
  waitForSlots,
} from './unpack-protocol.ts';

/**
 * Steps gathered for one applier are sent when there are this many, or this many body bytes, or when the reader is
 * done with its piece of input (or is about to wait), or early when the applier has done everything it was sent and
 * the batch holds IDLE_STEPS steps or IDLE_BYTES of bodies: so a busy applier gets its work in few messages, and an
 * idle one waits at most for a few files' worth, not for a whole piece of input. Sending at once to an idle
 * applier, as before, made a message (and a wake-up of the applier) of every one or two steps: ~2,000 messages
 * for the 9,000 steps of the 256 MiB layer (bench/README.md, "Data path").
 */
const BATCH_STEPS = 128;
const BATCH_BYTES = 1 << 20;
const IDLE_STEPS = 16;
const IDLE_BYTES = 4 * SLOT;
/**
 * The reader's own applier (its link is `local`) does its steps when they are sent, on the reader's thread: its
 * steps are sent in batches of this many (or BATCH_BYTES, or when the reader waits or is done with its piece of
 * input), and a step that may go anywhere goes to it only while every applier thread has at least LOCAL_AFTER steps
 * to do: the threads are kept busy first, and the reader takes the rest instead of waiting for them.
 */
const LOCAL_BATCH = 16;
export const LOCAL_AFTER = Number.POSITIVE_INFINITY;
/**
 * A regular file larger than this goes to an applier thread whatever their queues: its body is written there while
 * this thread reads and copies the next pieces, where here the two would take turns.
 */
const LOCAL_MAX_FILE = 4 * SLOT;
/** Waits on shared memory wake up this often to look at the abort and failure flags. */
const WAIT_MS = 50;

/** An applier, as the reader sees it: its number in the control block, and how its messages reach it. */
export interface ApplierLink {
  id: number;
  post: (m: ReaderToApplier) => void;
  /** The reader's own applier: `post` does the steps at once, on the reader's thread. */
  local: boolean;
}

/** Thrown out of the dispatcher when an applier failed: the reader then reports that applier's error. */
export class ApplierFailed extends Error {}

/** A step: the index of its applier among the links, and its number there. */
interface Step {
  a: number;
  seq: number;
}

/**
 * The step that last made or changed a path, whether it made a directory there, and the later steps that look at
 * the path without changing it (entries under it check that it is a real directory; a hard link links to it): a
 * step that replaces the path waits for those too.
 */
interface Made extends Step {
  dir: boolean;
  users: Step[];
}

/** Users above this many are pruned of those done. */
const PRUNE_USERS = 32;

export class Dispatcher implements TarSink {
  /**
   * The archive's size as its blocks add up (see `unpackLayer`), and the bytes of its regular files and symlink
   * targets (the layer's size as dockerd's overlay2 counts it).
   */
  size = 1024;
  fileBytes = 0;
  readonly #links: ApplierLink[];
  readonly #ctl: Int32Array;
  readonly #bodies: Buffer;
  readonly #job: number;
  readonly #shared: boolean;
  /** Per applier: steps numbered so far, steps sent, and the batch being gathered with its body bytes. */
  readonly #numbered: number[];
  readonly #sent: number[];
  #batch: ApplyStep[][];
  readonly #batchBytes: number[];
  #slotCursor = 0;
  /** Shared mode: what made each path, and the directories' times to set at the end. */
  readonly #made = new Map<string, Made>();
  readonly #dirTimes = new Map<string, [number, number]>();
  readonly #root: string;
  /** The applier taking the current entry's body (-1: no body wanted), and the file's path (shared mode). */
  #cur = -1;
  #curRel = '';
  readonly #localAfter: number;

  constructor(opts: {
    job: number;
    root: string;
    mode: WhiteoutMode;
    shared: boolean;
    links: ApplierLink[];
    ctl: Int32Array;
    /** A Buffer over the shared slots: copied into with copyToShared (a memcpy; util/shared-copy.ts). */
    bodies: Buffer;
    /** LOCAL_AFTER, unless set (tests set it low, to give this thread's applier more of the work). */
    localAfter?: number;
  }) {
    this.#localAfter = opts.localAfter ?? LOCAL_AFTER;
    this.#job = opts.job;
    this.#root = opts.root;
    this.#shared = opts.shared;
    // Alone: one applier thread in order (this thread's own only when it may take work, or is the only one).
    const alone = this.#localAfter === LOCAL_AFTER ? opts.links.filter((l) => !l.local) : opts.links;
    const pick = alone.length > 0 ? alone : opts.links;
    this.#links = opts.shared ? opts.links : [pick[opts.job % pick.length]!];
    this.#ctl = opts.ctl;
    this.#bodies = opts.bodies;
    const n = this.#links.length;
    this.#numbered = new Array<number>(n).fill(0);
    this.#sent = new Array<number>(n).fill(0);
    this.#batch = Array.from({ length: n }, () => []);
    this.#batchBytes = new Array<number>(n).fill(0);
    for (const l of this.#links) {
      Atomics.store(this.#ctl, CTL_PROGRESS + l.id, 0);
      this.#post(l, { t: 'start', job: this.#job, root: opts.root, mode: opts.mode, shared: opts.shared });
    }
  }

  entry(h: TarHeader): void {
    this.#check();
    const ph = h as PortableHeader;
    this.size += archivedSize(ph);
    if (h.type === 'file') this.fileBytes += h.size;
    else if (h.type === 'symlink') this.fileBytes += Buffer.byteLength(h.linkname);
    if (!this.#shared) {
      this.#step(0, { h: ph });
      this.#cur = h.type === 'file' ? 0 : -1;
      return;
    }
    this.#cur = -1;
    const path = entryPath(h.name);
    if ('refused' in path) throw new InvalidArgumentError(path.refused);
    const rel = path.rel;
    if (rel === '') return; // the root itself: its metadata belongs to the snapshot
    const base = posix.basename(rel);
    const dir = parentOf(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) {
        const made = this.#dirMade(dir, h.name);
        const a = this.#route([made]);
        const seq = this.#step(a, { h: ph });
        if (made !== undefined) Object.assign(made, { a, seq });
      } else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
        this.#create(ph, posix.join(dir, base.slice(WHITEOUT_PREFIX.length)), false, undefined);
      }
      return;
    }
    let target: Made | undefined;
    if (h.type === 'link') {
      const to = isAbsoluteEntry(h.linkname) ? null : normalise(h.linkname);
      if (to === null || to === '')
        throw new InvalidArgumentError(`layer entry "${h.name}" links to "${h.linkname}", outside the root`);
      target = this.#made.get(to);
      if (target === undefined)
        throw new InvalidArgumentError(`layer entry "${h.name}" links to "${h.linkname}", which does not exist`);
    }
    this.#create(ph, rel, h.type === 'directory', target);
    if (h.type === 'directory') this.#dirTimes.set(rel, times(ph));
  }

  data(piece: Buffer): void {
    if (this.#cur < 0) return;
    const a = this.#cur;
    for (let off = 0; off < piece.length; off += SLOT) {
      const n = Math.min(SLOT, piece.length - off);
      const slot = this.#takeSlot();
      copyToShared(this.#bodies, slot * SLOT, piece, off, n);
      this.#batchBytes[a]! += n;
      this.#step(a, { d: slot, n });
      if (this.#batchBytes[a]! >= BATCH_BYTES) this.#flush(a);
    }
  }

  entryEnd(): void {
    if (this.#cur < 0) return;
    const seq = this.#step(this.#cur, { e: 1 });
    if (this.#shared) {
      const made = this.#made.get(this.#curRel);
      if (made !== undefined) made.seq = seq;
    }
    this.#cur = -1;
  }

  /** Sends every gathered step: called after each chunk of input, so the appliers never wait on a batch. */
  flushAll(): void {
    for (let a = 0; a < this.#links.length; a++) this.#flush(a);
  }

  /** After the last entry: waits for every applier, then sets directories' times (shared) or has it set (alone). */
  finish(): void {
    if (!this.#shared) this.#step(0, { f: 1 });
    this.#waitAll();
    for (const [rel, [atime, mtime]] of this.#dirTimes) {
      try {
        utimesSync(`${this.#root}/${rel}`, atime, mtime);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
  }

  /** After a failure: drops what was not sent and waits until the appliers have got through what was. */
  drain(): void {
    // The body slots of the steps not sent are freed here: no applier will ever free them, and the pool's slots
    // outlive this layer (leaked, they starved a later unpack of the same reader until it waited forever).
    for (const steps of this.#batch) for (const step of steps) if ('d' in step) freeSlot(this.#ctl, step.d);
    this.#batch = this.#batch.map(() => []);
    this.#batchBytes.fill(0);
    for (let a = 0; a < this.#links.length; a++) {
      const i = CTL_PROGRESS + this.#links[a]!.id;
      for (let v = Atomics.load(this.#ctl, i); v < this.#sent[a]!; v = Atomics.load(this.#ctl, i))
        Atomics.wait(this.#ctl, i, v, WAIT_MS);
    }
  }

  /**
   * Shared mode: a non-directory (or a directory) at `rel`, after the step that made its parent, the steps that
   * made and used what was at `rel` before, and (a hard link) the step that made its target.
   */
  #create(h: PortableHeader, rel: string, isDir: boolean, target: Made | undefined): void {
    const parent = this.#dirMade(parentOf(rel), h.name);
    const prev = this.#made.get(rel);
    let a: number;
    let seq: number;
    if (prev?.dir && !isDir) {
      // Replacing a directory removes its tree: alone, with every applier idle, and each forgets what it knew.
      this.#waitAll();
      a = 0;
      seq = this.#step(a, { h });
      this.#waitDone(a, seq);
      for (let b = 0; b < this.#links.length; b++) this.#step(b, { r: 1 });
      const prefix = `${rel}/`;
      for (const p of this.#made.keys()) if (p.startsWith(prefix)) this.#made.delete(p);
      for (const p of this.#dirTimes.keys()) if (p === rel || p.startsWith(prefix)) this.#dirTimes.delete(p);
    } else {
      // A big file's body goes to a thread: written there while this thread reads on, not here in between.
      const big = h.type === 'file' && h.size > LOCAL_MAX_FILE;
      a = this.#route([parent, prev, ...(prev?.users ?? []), target], !big);
      seq = this.#step(a, { h });
    }
    this.#use(parent, a, seq);
    this.#use(target, a, seq);
    if (h.type === 'file') {
      this.#cur = a;
      this.#curRel = rel;
    }
    this.#made.set(rel, { dir: isDir, a, seq, users: prev?.dir && isDir ? prev.users : [] });
  }

  /** What made the directory `rel` ('' is the root: nothing), making it and its missing ancestors first. */
  #dirMade(rel: string, name: string): Made | undefined {
    if (rel === '') return undefined;
    const made = this.#made.get(rel);
    if (made !== undefined) return made;
    const parent = this.#dirMade(parentOf(rel), name);
    const a = this.#route([parent]);
    const m: Made = { dir: true, a, seq: this.#step(a, { p: rel, name }), users: [] };
    this.#use(parent, a, m.seq);
    this.#made.set(rel, m);
    return m;
  }

  /** Records that step (a, seq) looks at what `made` made. */
  #use(made: Made | undefined, a: number, seq: number): void {
    if (made === undefined) return;
    if (made.users.length >= PRUNE_USERS) made.users = made.users.filter((u) => !this.#done(u.a, u.seq));
    made.users.push({ a, seq });
  }

  /**
   * The applier for a step that depends on `deps`: one with an unfinished dependency, else the least busy thread (or
   * this thread's own applier, see LOCAL_AFTER). Not `anywhere`: a thread, unless there is none (this thread's own
   * applier first does the dependencies it holds).
   */
  #route(deps: (Step | undefined)[], anywhere = true): number {
    let pending = -1;
    for (const d of deps) {
      if (d === undefined || this.#done(d.a, d.seq)) continue;
      if (!anywhere && this.#links[d.a]!.local) this.#waitDone(d.a, d.seq);
      else if (pending === -1 || pending === d.a) pending = d.a;
      else this.#waitDone(d.a, d.seq);
    }
    if (pending >= 0) return pending;
    let best = -1;
    let least = Number.POSITIVE_INFINITY;
    let local = -1;
    for (let a = 0; a < this.#links.length; a++) {
      if (this.#links[a]!.local) {
        local = a;
        continue;
      }
      const busy = this.#numbered[a]! - Atomics.load(this.#ctl, CTL_PROGRESS + this.#links[a]!.id);
      if (busy < least) {
        least = busy;
        best = a;
      }
    }
    return local >= 0 && (best < 0 || (anywhere && least >= this.#localAfter)) ? local : best;
  }

  /** Applier `a` has done every step sent to it. */
  #idle(a: number): boolean {
    return this.#done(a, this.#sent[a]!);
  }

  #done(a: number, seq: number): boolean {
    return Atomics.load(this.#ctl, CTL_PROGRESS + this.#links[a]!.id) >= seq;
  }

  /** Adds a step for applier `a`; returns its number. */
  #step(a: number, step: ApplyStep): number {
    const batch = this.#batch[a]!;
    batch.push(step);
    if (
      this.#links[a]!.local
        ? batch.length >= LOCAL_BATCH
        : batch.length >= BATCH_STEPS ||
          ((batch.length >= IDLE_STEPS || this.#batchBytes[a]! >= IDLE_BYTES) && this.#idle(a))
    )
      this.#flush(a);
    return ++this.#numbered[a]!;
  }

  #flush(a: number): void {
    const steps = this.#batch[a]!;
    if (steps.length === 0) return;
    this.#batch[a] = [];
    this.#batchBytes[a] = 0;
    this.#sent[a]! += steps.length;
    this.#post(this.#links[a]!, { t: 'steps', job: this.#job, steps });
  }

  #post(l: ApplierLink, m: ReaderToApplier): void {
    l.post(m);
  }

  /** Waits until applier `a` has done step `seq`; throws if the unpack failed or was canceled meanwhile. */
  #waitDone(a: number, seq: number): void {
    this.flushAll();
    const i = CTL_PROGRESS + this.#links[a]!.id;
    for (let v = Atomics.load(this.#ctl, i); v < seq; v = Atomics.load(this.#ctl, i)) {
      this.#check();
      Atomics.wait(this.#ctl, i, v, WAIT_MS);
    }
    this.#check();
  }

  #waitAll(): void {
    this.flushAll();
    for (let a = 0; a < this.#links.length; a++) this.#waitDone(a, this.#numbered[a]!);
    this.#check();
  }

  /** A free body slot, waiting (with everything gathered sent) until the appliers free some. */
  #takeSlot(): number {
    for (;;) {
      const seen = Atomics.load(this.#ctl, CTL_FREED);
      const s = takeSlot(this.#ctl, this.#slotCursor);
      if (s >= 0) {
        this.#slotCursor = (s + 1) % SLOTS;
        return s;
      }
      this.flushAll();
      this.#check();
      waitForSlots(this.#ctl, seen, WAIT_MS);
    }
  }

  /** Throws when the unpack was canceled or an applier failed. */
  #check(): void {
    if (Atomics.load(this.#ctl, CTL_ABORT) !== 0) throw new CanceledError(`unpack into "${this.#root}" canceled`);
    if (Atomics.load(this.#ctl, CTL_FAILED) !== 0) throw new ApplierFailed('an applier failed');
  }
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
