/**
 * Dockerfile text → syntax tree, as Docker's parser does it: parser directives at the top, comments, line
 * continuations with the escape character (comment and blank lines inside a continuation are skipped), heredocs
 * after RUN, COPY and ADD, and each instruction's arguments split by its line parser. No I/O, no expansion.
 */
import { processWords } from '../util/shellwords.ts';
import type { Heredoc, Node, ParseResult, ParseWarning } from './ast.ts';
import { DirectiveParser } from './directives.ts';
import { DockerfileError } from './errors.ts';
import {
  type LineParse,
  LineParseError,
  parseHealthConfig,
  parseMaybeJSON,
  parseMaybeJSONToList,
  parseNameOrNameVal,
  parseNameVal,
  parseString,
  parseStringsWhitespaceDelimited,
  splitCommand,
  trimLeftSpace,
  trimSpace,
} from './line-parsers.ts';

export interface ParseOptions {
  /** The Dockerfile's name for error messages (default `Dockerfile`). */
  file?: string;
  /** Text with no instruction parses to no nodes instead of failing (`--change` may give none). */
  allowEmpty?: boolean;
}

const LINE_PARSERS: Record<string, (rest: string, esc: string) => LineParse> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, esc) => parseNameVal(rest, 'ENV', esc),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, esc) => parseNameVal(rest, 'LABEL', esc),
  maintainer: parseString,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

/** Every instruction Docker knows, lower case. */
export const INSTRUCTIONS = new Set([...Object.keys(LINE_PARSERS), 'onbuild']);

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

/** Parses a whole Dockerfile. Throws DockerfileError. */
export function parse(input: string | Uint8Array, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? 'Dockerfile';
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const fail = (detail: string, line: number, endLine?: number, instruction?: string): never => {
    throw new DockerfileError(detail, {
      file,
      line,
      ...(endLine !== undefined ? { endLine } : {}),
      ...(instruction !== undefined ? { instruction } : {}),
    });
  };

  const lines = splitLines(text);
  const state = new EscapeState();
  const directiveParser = new DirectiveParser();
  const directives = new Map<string, string>();
  const nodes: Node[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let currentLine = 0;
  let i = 0;

  /** Trims the line end; on the first line of an instruction also leading space; takes directives; drops comments. */
  const processLine = (raw: string, stripLeft: boolean): { text: string; directive: boolean } => {
    let t = trimNewline(raw);
    if (stripLeft) t = trimLeftSpace(t);
    let directive = false;
    try {
      const d = directiveParser.parseLine(t);
      if (d) {
        directive = true;
        directives.set(d.name, d.value);
        if (d.name === 'escape') state.set(d.value);
      }
    } catch (err) {
      fail((err as Error).message, currentLine + 1);
    }
    return { text: isComment(t) ? '' : t, directive };
  };

  while (i < lines.length) {
    let raw = lines[i++]!;
    if (currentLine === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    if (isComment(raw)) {
      const comment = trimSpace(raw.slice(1));
      if (comment === '') comments = [];
      else comments.push(comment);
    }
    const first = processLine(raw, true);
    if (first.directive) comments.pop();
    currentLine++;
    const startLine = currentLine;
    let { text: part, end } = state.trimContinuation(first.text);
    if (end && part.length === 0) continue;
    let line = part;
    let emptyContinuation = false;
    while (!end && i < lines.length) {
      const next = lines[i++]!;
      const processed = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (trimLeftSpace(trimNewline(processed.text)).length === 0) {
        emptyContinuation = true;
        continue;
      }
      ({ text: part, end } = state.trimContinuation(processed.text));
      line += part;
    }
    if (emptyContinuation) {
      warnings.push({
        rule: 'NoEmptyContinuation',
        message: `Empty continuation line found in: ${line}`,
        line: currentLine,
      });
    }

    let node: Node;
    try {
      node = nodeFromLine(line, state.token, comments);
    } catch (err) {
      if (err instanceof LineParseError) fail(err.message, startLine, currentLine, keywordOf(line));
      throw err;
    }

    if (canContainHeredoc(node) && line.includes('<<')) {
      let heredocs: Omit<Heredoc, 'content'>[];
      try {
        heredocs = heredocsFromLine(line);
      } catch (err) {
        return fail((err as Error).message, startLine, currentLine, keywordOf(line));
      }
      for (const heredoc of heredocs) {
        let terminated = false;
        let content = '';
        while (i < lines.length) {
          const body = lines[i++]!;
          currentLine++;
          let candidate = trimNewline(body);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) fail('unterminated heredoc', startLine, currentLine, keywordOf(line));
        node.heredocs.push({ ...heredoc, content });
      }
    }
    node.startLine = startLine;
    node.endLine = currentLine;
    nodes.push(node);
    comments = [];
  }

  if (nodes.length === 0 && options.allowEmpty !== true) {
    if (text.length === 0) fail(`the Dockerfile (${file}) cannot be empty`, 0);
    fail(`failed to parse ${file}: file with no instructions`, 0);
  }
  return { nodes, escapeToken: state.token, directives, warnings };
}

/** The escape character and the line-continuation rule that follows from it. */
class EscapeState {
  token = '\\';
  private re = EscapeState.regex('\\');

  set(value: string): void {
    if (value !== '`' && value !== '\\') {
      throw new LineParseError(`invalid escape token '${value}' does not match \` or \\`);
    }
    this.token = value;
    this.re = EscapeState.regex(value);
  }

  /**
   * The escape character as the last non-blank character continues the line, unless another escape character
   * precedes it (`foo \\` ends the line); it and the blanks after it are removed.
   */
  private static regex(token: string): RegExp {
    const e = token === '\\' ? '\\\\' : '`';
    return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`, 'u');
  }

  trimContinuation(line: string): { text: string; end: boolean } {
    if (this.re.test(line)) return { text: line.replace(this.re, '$1'), end: false };
    return { text: line, end: true };
  }
}

/** Lines with their `\n` kept, as Go's scanner with Docker's split function gives them. */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function keywordOf(line: string): string {
  return (trimSpace(line).split(/[\t\v\f\r ]/, 1)[0] ?? '').toUpperCase();
}

function nodeFromLine(line: string, esc: string, comments: string[]): Node {
  const { keyword, flags, rest } = splitCommand(line, esc);
  const lower = keyword.toLowerCase();
  const node: Node = {
    keyword,
    flags,
    args: [],
    json: false,
    heredocs: [],
    original: line,
    startLine: 0,
    endLine: 0,
    comments: [...comments],
  };
  if (lower === 'onbuild') {
    if (rest !== '') node.sub = nodeFromLine(rest, esc, []);
    return node;
  }
  const lineParser = LINE_PARSERS[lower];
  if (!lineParser) {
    // unknown instructions keep an empty argument, as Docker's parser does; the instruction parser refuses them
    node.args = [''];
    return node;
  }
  const parsed = lineParser(rest, esc);
  node.args = parsed.args;
  node.json = parsed.json;
  return node;
}

function canContainHeredoc(node: Node): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.sub ? node.sub : node;
  return HEREDOC_INSTRUCTIONS.has(target.keyword.toLowerCase()) && !target.json;
}

const HEREDOC_RE = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/**
 * A heredoc marker word (`<<EOF`, `<<-'EOF'`, `3<<EOF`), or undefined when the word is not one. A marker with an
 * unbalanced quote is an Error. Any quoting in the delimiter turns expansion of the content off.
 */
export function parseHeredoc(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m) return undefined;
  const rest = m[3]!;
  if (rest === '') return undefined;
  const none = new Map<string, string>();
  const words = processWords(rest, none, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, none, { skipUnsetEnv: true, rawQuotes: true });
  if (raw.length !== words.length) {
    throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0]!,
    fileDescriptor: m[1] === '' ? 0 : Number(m[1]),
    expand: quotes(words[0]!) === quotes(raw[0]!),
    chomp: m[2] === '-',
  };
}

/** The heredoc markers of an instruction line, in order. */
export function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = processWords(line, new Map(), { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    words = [];
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of words) {
    const h = parseHeredoc(w);
    if (h) out.push(h);
  }
  return out;
}

/** `<<-` content: leading tabs removed from every line. */
export function chompHeredocContent(content: string): string {
  return content
    .split('\n')
    .map((l) => l.replace(/^\t+/, ''))
    .join('\n');
}
