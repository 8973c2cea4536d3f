/**
 * The Dockerfile's syntax tree: one node per instruction, before any typing or expansion. The shape follows what
 * Docker's parser produces (and what its AST dump prints), so that the corpus of parser cases can be compared byte
 * for byte.
 */
import { goQuote } from '../util/shellwords.ts';

/** A heredoc attached to RUN, COPY or ADD (`<<EOF` … `EOF`). */
export interface Heredoc {
  /** The delimiter with quotes removed: the word that ends it and, for COPY/ADD, the file's name. */
  name: string;
  /** `3<<EOF`: the descriptor it feeds (0 when not given). */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted (`<<'EOF'`, `<<E"O"F`): the content is taken literally. */
  expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from the content's lines (and from the terminator). */
  chomp: boolean;
  /** The lines between the instruction and the terminator, each with its newline, tabs not yet stripped. */
  content: string;
}

export interface Node {
  /** The instruction as written (`RUN`, `run`, `Run`); compare it lower-cased. */
  keyword: string;
  /** `--name=value` words before the arguments, quotes removed, in order. */
  flags: string[];
  /**
   * The arguments as the instruction's line parser split them: ENV and LABEL give key, value, separator triples
   * (separator `=` or `""` for the legacy `ENV key value`), the JSON form gives its strings, the shell form of
   * RUN/CMD/ENTRYPOINT/SHELL one string, HEALTHCHECK its type then its command.
   */
  args: string[];
  /** ONBUILD's instruction. */
  sub?: Node;
  /** The arguments were a JSON array (the exec form). */
  json: boolean;
  heredocs: Heredoc[];
  /** The logical line (continuations joined), as the instruction's `String()` in Docker's builder. */
  original: string;
  /** 1-based lines of the file where the instruction starts and ends (heredoc bodies included). */
  startLine: number;
  endLine: number;
  /** The comment lines directly above the instruction, `#` and surrounding spaces removed. */
  comments: string[];
}

/** The parse of a whole Dockerfile. */
export interface ParseResult {
  nodes: Node[];
  /** `\` or `` ` ``, from the `# escape=` directive. */
  escapeToken: string;
  /** The parser directives found at the top of the file, lower-cased name → value. */
  directives: Map<string, string>;
  warnings: ParseWarning[];
}

/** A warning of the parser, named by its kind as BuildKit's build checks name it. */
export interface ParseWarning {
  /** The check's rule: `NoEmptyContinuation` (a blank line inside a continuation), the one the parser detects. */
  rule: ParseWarningRule;
  message: string;
  line: number;
}

export type ParseWarningRule = 'NoEmptyContinuation';

/**
 * The node as Docker's `Node.Dump()` prints it: `(run "echo hi")`, `(copy ["--from=x"] "a" "b")`,
 * `(onbuild (run "x"))`. Strings are quoted as Go quotes them.
 */
export function dumpNode(node: Node): string {
  let s = node.keyword.toLowerCase();
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  for (const a of node.args) s += ` ${goQuote(a)}`;
  if (node.sub) s += ` (${dumpNode(node.sub)})`;
  return s;
}

/** The whole file as Docker dumps it: one parenthesised node per line. */
export function dump(nodes: readonly Node[]): string {
  return nodes.map((n) => `(${dumpNode(n)})\n`).join('');
}
