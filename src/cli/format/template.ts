/**
 * Go text/template for `--format`: parse once, execute over data. See values.ts for how JavaScript values
 * stand in for Go's, and funcs.ts for the functions.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import { execute, funcMap, type MissingKey } from './exec.ts';
import { BUILTINS, DOCKER_FUNCS, type FuncMap, type GoFunction } from './funcs.ts';
import { parseTemplate, TemplateParseError, type Tree } from './parse.ts';

export interface TemplateOptions {
  /** The template's name, shown in error messages (docker's list formats use ''). */
  name?: string;
  /** Functions besides Go's builtins; docker's (json, split, join, title, lower, upper, pad, truncate) when omitted. */
  funcs?: FuncMap;
  /** What a missing map key gives (Go's `missingkey` option); `invalid`, printing `<no value>`, by default. */
  missingKey?: MissingKey;
}

const MISSING_KEY_VALUES: Record<string, MissingKey> = {
  invalid: 'invalid',
  default: 'invalid',
  zero: 'zero',
  error: 'error',
};

export class Template {
  readonly name: string;
  private readonly trees: Map<string, Tree>;
  private readonly funcs: Map<string, GoFunction>;
  readonly missingKey: MissingKey;

  private constructor(name: string, trees: Map<string, Tree>, funcs: Map<string, GoFunction>, missingKey: MissingKey) {
    this.name = name;
    this.trees = trees;
    this.funcs = funcs;
    this.missingKey = missingKey;
  }

  /**
   * Parses Go template text.
   * @throws InvalidArgumentError with Go's message, e.g. `template: :1: function "foo" not defined`.
   */
  static parse(source: string, opts: TemplateOptions = {}): Template {
    const name = opts.name ?? '';
    const funcs = funcMap(BUILTINS, opts.funcs ?? DOCKER_FUNCS);
    try {
      return new Template(
        name,
        parseTemplate(name, source, (f) => funcs.has(f)),
        funcs,
        opts.missingKey ?? 'invalid',
      );
    } catch (err) {
      if (err instanceof TemplateParseError) throw new InvalidArgumentError(err.message, { cause: err });
      throw err;
    }
  }

  /**
   * Go's `Template.Option`: `missingkey=default|invalid|zero|error`. Unlike Go's, which changes the template,
   * this returns a copy with the options set (sharing the parsed trees), so a template can run both ways.
   * @throws RangeError for an option Go does not know, with Go's message.
   */
  option(...options: string[]): Template {
    let missingKey = this.missingKey;
    for (const opt of options) {
      const eq = opt.indexOf('=');
      if (eq < 0 || opt.slice(0, eq) !== 'missingkey') throw new RangeError(`unrecognized option: ${opt}`);
      const value = MISSING_KEY_VALUES[opt.slice(eq + 1)];
      if (value === undefined) throw new RangeError(`unrecognized option: ${opt}`);
      missingKey = value;
    }
    return new Template(this.name, this.trees, this.funcs, missingKey);
  }

  /**
   * Executes the template over `data`. `funcs` replace functions of the same name for this execution only
   * (docker's header row uses this).
   * @throws TemplateExecError (an InvalidArgumentError) with Go's message and the output written so far.
   */
  execute(data: unknown, opts: { funcs?: FuncMap } = {}): string {
    const funcs = opts.funcs === undefined ? this.funcs : new Map([...this.funcs, ...funcMap(opts.funcs)]);
    return execute(this.trees, this.name, data, funcs, this.missingKey);
  }
}
