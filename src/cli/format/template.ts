/**
 * Go text/template for `--format`: parse once, execute over data. See values.ts for how JavaScript values
 * stand in for Go's, and funcs.ts for the functions.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import { execute, funcMap } from './exec.ts';
import { BUILTINS, DOCKER_FUNCS, type FuncMap, type GoFunction } from './funcs.ts';
import { parseTemplate, TemplateParseError, type Tree } from './parse.ts';

export interface TemplateOptions {
  /** The template's name, shown in error messages (docker's list formats use ''). */
  name?: string;
  /** Functions besides Go's builtins; docker's (json, split, join, title, lower, upper, pad, truncate) when omitted. */
  funcs?: FuncMap;
}

export class Template {
  readonly name: string;
  private readonly trees: Map<string, Tree>;
  private readonly funcs: Map<string, GoFunction>;

  private constructor(name: string, trees: Map<string, Tree>, funcs: Map<string, GoFunction>) {
    this.name = name;
    this.trees = trees;
    this.funcs = funcs;
  }

  /**
   * Parses Go template text.
   * @throws InvalidArgumentError with Go's message, e.g. `template: :1: function "foo" not defined`.
   */
  static parse(source: string, opts: TemplateOptions = {}): Template {
    const name = opts.name ?? '';
    const funcs = funcMap(BUILTINS, opts.funcs ?? DOCKER_FUNCS);
    try {
      return new Template(name, parseTemplate(name, source, (f) => funcs.has(f)), funcs);
    } catch (err) {
      if (err instanceof TemplateParseError) throw new InvalidArgumentError(err.message, { cause: err });
      throw err;
    }
  }

  /**
   * Executes the template over `data`. `funcs` replace functions of the same name for this execution only
   * (docker's header row uses this).
   * @throws TemplateExecError (an InvalidArgumentError) with Go's message and the output written so far.
   */
  execute(data: unknown, opts: { funcs?: FuncMap } = {}): string {
    const funcs = opts.funcs === undefined ? this.funcs : new Map([...this.funcs, ...funcMap(opts.funcs)]);
    return execute(this.trees, this.name, data, funcs);
  }
}
