/**
 * Go's text/tabwriter (flags 0, space padding) over whole text: cells end at tabs, the last cell of a
 * line is not aligned, and each column block is as wide as its widest cell plus `padding`, at least
 * `minwidth`. docker prints tables with (10, 1, 3) and `version` with (20, 1, 1).
 */
export interface TabwriterOptions {
  minwidth: number;
  padding: number;
}

export const TABLE_LAYOUT: TabwriterOptions = { minwidth: 10, padding: 3 };

interface Cell {
  text: string;
  width: number;
}

export function tabwrite(text: string, opts: TabwriterOptions = TABLE_LAYOUT): string {
  const endsWithNewline = text.endsWith('\n');
  const rawLines = (endsWithNewline ? text.slice(0, -1) : text).split('\n');
  const lines: Cell[][] = rawLines.map((l) => l.split('\t').map((t) => ({ text: t, width: runeWidth(t) })));
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i] ?? [];
      let s = '';
      line.forEach((cell, j) => {
        s += cell.text;
        const w = widths[j];
        if (w !== undefined) s += ' '.repeat(Math.max(w - cell.width, 0));
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= (lines[i]?.length ?? 0) - 1) continue;
      writeLines(line0, i);
      line0 = i;
      let width = opts.minwidth;
      for (; i < line1; i++) {
        const line = lines[i] ?? [];
        if (column >= line.length - 1) break;
        const w = (line[column]?.width ?? 0) + opts.padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, i);
      widths.pop();
      line0 = i;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}

/** Counts code points, as Go's tabwriter counts runes. */
function runeWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
