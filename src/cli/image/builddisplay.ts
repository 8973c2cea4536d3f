/**
 * `berth build`'s progress, drawn from the engine's structured events as BuildKit draws its own: on a terminal a
 * live block (`[+] Building 1.2s (4/9)`, each step with its time, the running ones with their last lines of
 * output, finished ones collapsed to one line), redrawn in place; otherwise plain lines (`#3 [gen 2/5] RUN …`,
 * `#3 0.214 output`, `#3 DONE 0.3s`).
 */
import type { BuildEvent } from '../../engine-api/build.ts';
import type { OutStream } from '../command.ts';

interface StepView {
  n: number;
  label: string;
  start: number;
  end?: number;
  cached: boolean;
  lines: string[];
  partial: string;
}

const TAIL = 6;

export class BuildDisplay {
  readonly #out: OutStream;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #start: number;
  readonly #steps = new Map<number, StepView>();
  #total = 0;
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #notes: string[] = [];
  #context: string | undefined;

  constructor(out: OutStream, mode: 'tty' | 'plain', now: () => number = Date.now) {
    this.#out = out;
    this.#tty = mode === 'tty';
    this.#now = now;
    this.#start = now();
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(false), 100);
      this.#timer.unref();
    }
  }

  /** The context was sent: how much of it (berthd's kept contexts send only what changed). */
  context(bytes: number, files: number, of: number): void {
    if (this.#context !== undefined) return;
    const size =
      bytes < 1000 ? `${bytes}B` : bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)}kB` : `${(bytes / 1e6).toFixed(1)}MB`;
    this.#context = `transferring context: ${size} (${files} of ${of} files)`;
    if (!this.#tty) this.#line(`#0 [internal] load build context\n#0 ${this.#context} done\n`);
  }

  event(e: BuildEvent): void {
    switch (e.kind) {
      case 'step': {
        this.#total = Math.max(this.#total, e.total);
        const label = e.name !== undefined ? `[${e.name} ${e.index}/${e.count}] ${e.text}` : e.text;
        this.#steps.set(e.step, { n: e.step, label, start: this.#now(), cached: false, lines: [], partial: '' });
        if (!this.#tty) this.#line(`#${e.step} ${label}`);
        break;
      }
      case 'cached': {
        const s = this.#steps.get(e.step);
        if (s) s.cached = true;
        if (!this.#tty) this.#line(`#${e.step} CACHED`);
        break;
      }
      case 'output': {
        const s = this.#steps.get(e.step);
        if (!s) break;
        const parts = (s.partial + e.data).split('\n');
        s.partial = parts.pop() ?? '';
        for (const l of parts) {
          if (!this.#tty) this.#line(`#${s.n} ${((this.#now() - s.start) / 1000).toFixed(3)} ${l}`);
          s.lines.push(l);
          if (s.lines.length > TAIL) s.lines.shift();
        }
        break;
      }
      case 'result': {
        const s = this.#steps.get(e.step);
        if (!s) break;
        s.end = this.#now();
        if (!this.#tty && !s.cached) this.#line(`#${s.n} DONE ${((s.end - s.start) / 1000).toFixed(1)}s`);
        if (!this.#tty) this.#line('');
        break;
      }
      case 'pull': {
        const m = e.message as { status?: string; id?: string };
        if (!this.#tty && m.status && !('progressDetail' in m && m.id))
          this.#line(`#pull ${m.id ? `${m.id}: ` : ''}${m.status}`);
        break;
      }
      case 'warning':
        this.#notes.push(`WARNING: ${e.text}`);
        if (!this.#tty) this.#line(`WARNING: ${e.text}`);
        break;
      default:
        break;
    }
  }

  /** The build is over: the last drawing, then what it made (or nothing more when it failed). */
  finish(ok: boolean, made: string[] = []): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const s of this.#steps.values()) s.end ??= this.#now();
    if (this.#tty) {
      this.#draw(true, ok);
      for (const m of made) this.#out.write(` => ${m}\n`);
      for (const n of this.#notes) this.#out.write(`${n}\n`);
    } else for (const m of made) this.#line(m);
  }

  #line(text: string): void {
    this.#out.write(`${text}\n`);
  }

  #draw(final: boolean, ok = true): void {
    const width = this.#out.columns || 80;
    const now = this.#now();
    const done = [...this.#steps.values()].filter((s) => s.end !== undefined).length;
    const secs = ((now - this.#start) / 1000).toFixed(1);
    const lines = [`[+] Building ${secs}s (${done}/${this.#total})${final ? (ok ? ' FINISHED' : ' FAILED') : ''}`];
    if (this.#context !== undefined) {
      lines.push(fit(' => [internal] load build context', '', width));
      lines.push(fit(` => => ${this.#context}`, '', width));
    }
    for (const s of [...this.#steps.values()].sort((a, b) => a.n - b.n)) {
      const t = `${(((s.end ?? now) - s.start) / 1000).toFixed(1)}s`;
      const label = `${s.cached ? 'CACHED ' : ''}${s.label}`;
      lines.push(fit(` => ${label}`, t, width));
      const showOutput = s.end === undefined || (final && !ok && s === this.#last());
      if (showOutput) {
        const tail = s.partial ? [...s.lines, s.partial].slice(-TAIL) : s.lines;
        for (const l of tail) lines.push(fit(` => => # ${l}`, '', width));
      }
    }
    let text = '';
    if (this.#drawn > 0) text += `\u001b[${this.#drawn}A`;
    for (const l of lines) text += `\u001b[2K${l}\n`;
    // lines left over from a taller drawing are cleared
    for (let i = lines.length; i < this.#drawn; i++) text += '\u001b[2K\n';
    if (this.#drawn > lines.length) text += `\u001b[${this.#drawn - lines.length}A`;
    this.#out.write(text);
    this.#drawn = lines.length;
  }

  #last(): StepView | undefined {
    return [...this.#steps.values()].sort((a, b) => b.n - a.n)[0];
  }
}

/** `left` cut to fit, and `right` aligned at the end of the line. */
function fit(left: string, right: string, width: number): string {
  const room = Math.max(10, width - right.length - 1);
  const l = [...left.replace(/[\r\t]/g, ' ')];
  const cut = l.length > room ? `${l.slice(0, room - 1).join('')}…` : l.join('');
  return right === '' ? cut : `${cut.padEnd(room)} ${right}`;
}
