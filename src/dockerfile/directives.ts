/**
 * Parser directives: `# syntax=…`, `# escape=…`, `# check=…` comments at the very top of a Dockerfile. They must
 * come before any instruction, blank line or other comment; each may appear once; names are case-insensitive.
 */
import { trimLeftSpace } from './line-parsers.ts';

export const DIRECTIVE_NAMES = new Set(['syntax', 'escape', 'check']);

const DIRECTIVE_RE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;

export interface Directive {
  name: string;
  value: string;
  line: number;
}

/**
 * Reads directives line by line until the first line that is not one; after that it returns null for every
 * line. A repeated directive is an Error (`only one escape parser directive can be used`).
 */
export class DirectiveParser {
  private line = 0;
  private done = false;
  private readonly seen = new Set<string>();
  private readonly comment: string;

  constructor(comment = '#') {
    this.comment = comment;
  }

  parseLine(text: string): Directive | null {
    this.line++;
    if (this.done) return null;
    if (!text.startsWith(this.comment)) {
      this.done = true;
      return null;
    }
    const m = DIRECTIVE_RE.exec(trimLeftSpace(text.slice(this.comment.length)));
    const name = m?.[1]?.toLowerCase();
    if (!m || name === undefined || !DIRECTIVE_NAMES.has(name)) {
      this.done = true;
      return null;
    }
    if (this.seen.has(name)) throw new Error(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    return { name, value: m[2]!, line: this.line };
  }
}

/**
 * The `# syntax=` directive (the frontend image a BuildKit build would run), looked for the way BuildKit does:
 * after an optional `#!` line, as `# syntax=`, then `// syntax=`, then a JSON document's `"syntax"` key.
 * Returns the image reference (the value up to its first space), or undefined.
 */
export function detectSyntax(text: string): string | undefined {
  let body = text.startsWith('\ufeff') ? text.slice(1) : text;
  if (body.startsWith('#!')) {
    const nl = body.indexOf('\n');
    body = nl < 0 ? '' : body.slice(nl + 1);
  }
  for (const prefix of ['#', '//']) {
    const parser = new DirectiveParser(prefix);
    for (const line of body.split('\n')) {
      let d: Directive | null;
      try {
        d = parser.parseLine(line.replace(/\r$/, ''));
      } catch {
        break;
      }
      if (d === null) break;
      if (d.name === 'syntax') return d.value.split(' ')[0];
    }
  }
  try {
    const doc: unknown = JSON.parse(body);
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
      const v = (doc as Record<string, unknown>).syntax;
      if (typeof v === 'string') return v;
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/** `# check=skip=Rule1,Rule2;error=true`: which lint checks to skip, and whether warnings fail the build. */
export interface CheckDirective {
  skip: string[];
  skipAll: boolean;
  experimental: string[];
  experimentalAll: boolean;
  error: boolean;
}

/** Parses a check directive's value as BuildKit does; a malformed one is an Error naming the bad option. */
export function parseCheckDirective(value: string): CheckDirective {
  const out: CheckDirective = { skip: [], skipAll: false, experimental: [], experimentalAll: false, error: false };
  const text = value.trim();
  if (text === '') return out;
  const parts = text.split(';');
  // BuildKit splits into at most three options; a fourth stays glued to the third
  if (parts.length > 3) parts.splice(2, parts.length - 2, parts.slice(2).join(';'));
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) throw new Error(`invalid check option "${p}"`);
    const key = p.slice(0, eq).trim();
    const v = p.slice(eq + 1).trim();
    const list = () => v.split(',').map((r) => r.trim());
    if (key === 'skip') {
      if (v === 'all') out.skipAll = true;
      else out.skip = list();
    } else if (key === 'experimental') {
      if (v === 'all') out.experimentalAll = true;
      else out.experimental = list();
    } else if (key === 'error') {
      if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v)) {
        throw new Error(`failed to parse check option "${p}": invalid syntax`);
      }
      out.error = /^(1|t|T|TRUE|true|True)$/.test(v);
    } else {
      throw new Error(`invalid check option "${key}"`);
    }
  }
  return out;
}
