/**
 * BuildKit's build checks, for the rules this builder detects: the parser's warnings, each named by its kind
 * (`NoEmptyContinuation`: an empty continuation line). The `# check=` directive skips rules (`skip=Rule1,Rule2`,
 * `skip=all`) and with `error=true` turns any warning left into a failed build, with BuildKit's message; warnings
 * are reported as BuildKit names them (`Rule: message (line N)`). Pure.
 */
import { type CheckDirective, type ParseResult, parseCheckDirective } from '../dockerfile/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';

export interface LintWarning {
  rule: string;
  message: string;
  line: number;
}

/** The warnings the `# check=` directive leaves; throws BuildKit's error when it says `error=true` and any is left. */
export function lintDockerfile(parsed: ParseResult): LintWarning[] {
  let opts: CheckDirective;
  try {
    opts = parseCheckDirective(parsed.directives.get('check') ?? '');
  } catch (err) {
    throw new InvalidArgumentError(`failed to parse check directive: ${(err as Error).message}`);
  }
  const found: LintWarning[] = parsed.warnings.map((w) => ({ rule: w.rule, message: w.message, line: w.line }));
  const skip = new Set(opts.skip);
  const left = opts.skipAll ? [] : found.filter((w) => !skip.has(w.rule));
  if (opts.error && left.length > 0)
    throw new InvalidArgumentError(
      `lint violation found for rules: ${[...new Set(left.map((w) => w.rule))].join(', ')}`,
    );
  return left;
}

/** A warning as BuildKit prints it. */
export function lintText(w: LintWarning): string {
  return `${w.rule}: ${w.message} (line ${w.line})`;
}
