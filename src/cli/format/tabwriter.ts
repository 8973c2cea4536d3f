/**
 * Go's text/tabwriter (elastic tabstops), as docker/cli's copy of it: cell widths are terminal columns
 * (East Asian wide characters count two), not runes. Cells are terminated by '\t' (or '\v'); a column is a
 * block of consecutive lines that all have a cell in it, so columns are aligned within such blocks only. The
 * text after a line's last tab is not part of any column. '\f' is a line break that also ends all columns.
 * HTML filtering and escape characters are not implemented.
 */

export interface TabWriterOptions {
  /** minimal cell width including padding (docker: 10) */
  minWidth?: number;
  /** width of a tab when padChar is '\t' (docker: 1) */
  tabWidth?: number;
  /** padding added to a cell's width (docker: 3) */
  padding?: number;
  /** docker: ' ' */
  padChar?: string;
  alignRight?: boolean;
  /** drop columns whose cells are all empty and '\v'-terminated */
  discardEmptyColumns?: boolean;
  /** use tabs for leading empty cells */
  tabIndent?: boolean;
  /** print '|' between columns */
  debug?: boolean;
}

interface Cell {
  size: number; // code units of text
  width: number; // terminal columns
  htab: boolean; // terminated by '\t'
}

/** tabwriter.NewWriter(out, 10, 1, 3, ' ', 0), as docker's table formatter creates it. */
export const DOCKER_TABLE: Readonly<Required<TabWriterOptions>> = {
  minWidth: 10,
  tabWidth: 1,
  padding: 3,
  padChar: ' ',
  alignRight: false,
  discardEmptyColumns: false,
  tabIndent: false,
  debug: false,
};

export class TabWriter {
  private readonly opts: Required<TabWriterOptions>;
  private buf = '';
  private cell: Cell = { size: 0, width: 0, htab: false };
  private lines: Cell[][] = [[]];
  private widths: number[] = [];
  private out: string[] = [];

  constructor(opts: TabWriterOptions = {}) {
    this.opts = { ...DOCKER_TABLE, ...opts };
    if (this.opts.padChar === '\t') this.opts.alignRight = false;
  }

  /** Formats text in one go: write, flush, return the output. */
  static format(text: string, opts: TabWriterOptions = {}): string {
    const w = new TabWriter(opts);
    w.write(text);
    w.flush();
    return w.output();
  }

  /** The output written so far (complete lines are written as soon as no later line can change them). */
  output(): string {
    return this.out.join('');
  }

  write(text: string): void {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.append(text.slice(n, i));
      n = i + 1;
      const ncells = this.terminateCell(ch === '\t');
      if (ch === '\n' || ch === '\f') {
        this.lines.push([]);
        if (ch === '\f' || ncells === 1) {
          // A line of one cell cannot change the formatting of later lines: flush what we have.
          this.flushInternal();
          if (ch === '\f' && this.opts.debug) this.out.push('---\n');
        }
      }
    }
    this.append(text.slice(n));
  }

  /** Writes out everything buffered; call after the last write. */
  flush(): void {
    this.flushInternal();
  }

  private append(text: string): void {
    this.buf += text;
    this.cell.size += text.length;
    this.cell.width += stringWidth(text);
  }

  private terminateCell(htab: boolean): number {
    this.cell.htab = htab;
    const line = this.lines[this.lines.length - 1]!;
    line.push(this.cell);
    this.cell = { size: 0, width: 0, htab: false };
    return line.length;
  }

  private flushInternal(): void {
    if (this.cell.size > 0) this.terminateCell(false);
    this.format(0, 0, this.lines.length);
    this.buf = '';
    this.cell = { size: 0, width: 0, htab: false };
    this.lines = [[]];
    this.widths = [];
  }

  private writePadding(textw: number, cellw: number, useTabs: boolean): void {
    if (this.opts.padChar === '\t' || useTabs) {
      if (this.opts.tabWidth === 0) return;
      cellw = Math.ceil(cellw / this.opts.tabWidth) * this.opts.tabWidth;
      const n = cellw - textw;
      this.out.push('\t'.repeat(Math.ceil(n / this.opts.tabWidth)));
      return;
    }
    this.out.push(this.opts.padChar.repeat(cellw - textw));
  }

  private writeLines(pos: number, line0: number, line1: number): number {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      let useTabs = this.opts.tabIndent;
      line.forEach((c, j) => {
        if (j > 0 && this.opts.debug) this.out.push('|');
        if (c.size === 0) {
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!, useTabs);
        } else {
          useTabs = false;
          const text = this.buf.slice(pos, pos + c.size);
          pos += c.size;
          if (!this.opts.alignRight) {
            this.out.push(text);
            if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!, false);
          } else {
            if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!, false);
            this.out.push(text);
          }
        }
      });
      if (i + 1 === this.lines.length) {
        // The last buffered line has no newline: write any text of the incomplete cell.
        this.out.push(this.buf.slice(pos, pos + this.cell.size));
        pos += this.cell.size;
      } else {
        this.out.push('\n');
      }
    }
    return pos;
  }

  /** Formats lines [line0, line1) whose text starts at pos; returns the position after them. */
  private format(pos: number, line0: number, line1: number): number {
    const column = this.widths.length;
    for (let current = line0; current < line1; current++) {
      if (column >= this.lines[current]!.length - 1) continue;
      // This line has a cell in this column: print the lines before the block, then find the block.
      pos = this.writeLines(pos, line0, current);
      line0 = current;
      let width = this.opts.minWidth;
      let discardable = true;
      for (; current < line1; current++) {
        const line = this.lines[current]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        width = Math.max(width, c.width + this.opts.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && this.opts.discardEmptyColumns) width = 0;
      this.widths.push(width);
      pos = this.format(pos, line0, current);
      this.widths.pop();
      line0 = current;
    }
    return this.writeLines(pos, line0, line1);
  }
}

/** Terminal width of a string (go-runewidth, East Asian width "narrow" context): wide and fullwidth count 2. */
export function stringWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += runeWidth(ch.codePointAt(0)!);
  return w;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd],
];

function runeWidth(r: number): number {
  if (r === 0 || r < 0x20 || (r >= 0x7f && r < 0xa0)) return 0;
  if (r < 0x300) return 1;
  if (ZERO_WIDTH.test(String.fromCodePoint(r))) return 0;
  let lo = 0;
  let hi = WIDE_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE_RANGES[mid]!;
    if (r < a) hi = mid - 1;
    else if (r > b) lo = mid + 1;
    else return 2;
  }
  return 1;
}
