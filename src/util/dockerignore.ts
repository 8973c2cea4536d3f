/**
 * `.dockerignore`: reading the file and matching context paths against its patterns, with the rules of moby's
 * patternmatcher and ignorefile packages (what the docker CLI and BuildKit use). Pure.
 *
 * - One pattern a line; `#` lines are comments; blank lines are skipped; surrounding spaces are trimmed; a pattern
 *   is cleaned (`a//b/../c` → `a/c`) and a leading `/` dropped, so `/foo` and `foo` are the same.
 * - `*` is any run of characters but `/`, `?` one character but `/`, `[a-z]`/`[^a-z]` a class, `\` escapes;
 *   `**` is any number of directories (even none): `**​/x`, `a/**`, `a/**​/b`.
 * - A path is excluded when it or one of its parent directories matches, and a later `!pattern` puts it back: the
 *   last pattern that matches wins.
 * - `NAME.dockerignore` beside a Dockerfile called NAME takes the place of the context's `.dockerignore`.
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from './errors.ts';
import { isGoSpace } from './shellwords.ts';

/** The ignore files to look for, first found wins: `<dockerfile>.dockerignore`, then `.dockerignore`. */
export function dockerignoreCandidates(dockerfile: string): string[] {
  const name = dockerfile.replace(/^\.\//, '');
  return name === '' ? ['.dockerignore'] : [`${name}.dockerignore`, '.dockerignore'];
}

/** The patterns of an ignore file (ignorefile.ReadAll). */
export function readDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    let line = raw.replace(/\r$/, '');
    if (i === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.startsWith('#')) return;
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  });
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

class Pattern {
  readonly text: string;
  readonly exclusion: boolean;
  private type: MatchType = 'exact';
  private re: RegExp | undefined;

  constructor(text: string, exclusion: boolean) {
    this.text = text;
    this.exclusion = exclusion;
    this.compile();
  }

  matches(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.text;
      case 'prefix':
        return path.startsWith(this.text.slice(0, -2));
      case 'suffix': {
        const suffix = this.text.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'regexp':
        return this.re!.test(path);
    }
  }

  private compile(): void {
    const cps = Array.from(this.text);
    let re = '^';
    let type: MatchType = 'exact';
    let inClass = false;
    for (let i = 0, n = 0; i < cps.length; i++, n++) {
      const ch = cps[i]!;
      if (inClass && (ch === '-' || (ch === '^' && cps[i - 1] === '['))) {
        re += ch;
      } else if (ch === '*') {
        if (cps[i + 1] === '*') {
          i++;
          if (cps[i + 1] === '/') i++;
          if (i + 1 >= cps.length) {
            if (type === 'exact') type = 'prefix';
            else {
              re += '[^\\n]*';
              type = 'regexp';
            }
          } else {
            re += '(?:[^\\n]*/)?';
            type = 'regexp';
          }
          if (n === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if ('.+()|{}$'.includes(ch)) {
        re += `\\${ch}`;
      } else if (ch === '\\') {
        if (i + 1 < cps.length) {
          re += literal(cps[++i]!);
          type = 'regexp';
        } else {
          re += '\\\\';
        }
      } else if (ch === '[' || ch === ']') {
        re += ch;
        inClass = ch === '[';
        type = 'regexp';
      } else {
        re += literal(ch);
      }
    }
    this.type = type;
    if (type === 'regexp') {
      try {
        this.re = new RegExp(`${re}$`, 'u');
      } catch {
        throw new InvalidArgumentError(`syntax error in pattern: ${this.text}`);
      }
    }
  }
}

/** A character for a regular expression, escaped when it means something there. */
function literal(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** The state a walk keeps for a directory, to match its entries without re-checking their parents. */
export interface MatchInfo {
  parentMatched: boolean[];
}

export class PatternMatcher {
  private readonly patterns: Pattern[] = [];
  /** Some pattern is a `!` exception: an excluded directory may still hold files to send. */
  readonly hasExclusions: boolean;

  /** Throws InvalidArgumentError for `!` alone or a malformed pattern (`[`, `a[`, a trailing `\`). */
  constructor(patterns: readonly string[]) {
    let exclusions = false;
    for (const raw of patterns) {
      let p = goTrimSpace(raw);
      if (p === '') continue;
      p = goClean(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new InvalidArgumentError('illegal exclusion pattern: "!"');
        exclusion = true;
        exclusions = true;
        p = p.slice(1);
      }
      checkGlobSyntax(p);
      this.patterns.push(new Pattern(p, exclusion));
    }
    this.hasExclusions = exclusions;
  }

  /** Whether a slash-separated context path is excluded (it or a parent matches, no later `!` takes it back). */
  matches(file: string): boolean {
    const parent = goDir(file);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let match = p.matches(file);
      for (let i = 0; !match && i < parentDirs.length; i++) match = p.matches(parentDirs.slice(0, i + 1).join('/'));
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * The same answer for a walk that visits a directory before its entries: pass the directory's MatchInfo
   * (or undefined at the top) and keep the returned one for the entries of `file` if it is a directory.
   */
  matchesUsingParentResults(file: string, parent: MatchInfo | undefined): { matched: boolean; info: MatchInfo } {
    const info: MatchInfo = { parentMatched: new Array<boolean>(this.patterns.length).fill(false) };
    let matched = false;
    this.patterns.forEach((p, i) => {
      let match = parent?.parentMatched[i] ?? false;
      if (!match) {
        if (p.exclusion !== matched) return;
        match = p.matches(file);
        if (!match && parent === undefined) {
          const dir = goDir(file);
          const dirs = dir === '.' ? [] : dir.split('/');
          for (let j = 0; !match && j < dirs.length; j++) match = p.matches(dirs.slice(0, j + 1).join('/'));
        }
      }
      info.parentMatched[i] = match;
      if (match) matched = !p.exclusion;
    });
    return { matched, info };
  }

  /**
   * Whether a walk must enter an excluded directory because a `!` pattern may bring back something under it
   * (the docker CLI's rule: an exception pattern that starts with the directory's path).
   */
  mustEnterExcluded(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const prefix = `${dir}/`;
    return this.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(prefix));
  }

  /**
   * patternmatcher's older Matches, which the docker CLI still uses for its own files: a parent directory is
   * checked only at the depth of the pattern.
   */
  matchesOneParent(file: string): boolean {
    const clean = goClean(file);
    if (clean === '.') return false;
    const parent = goDir(clean);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let match = p.matches(clean);
      const depth = p.text.split('/').length;
      if (!match && parent !== '.' && depth <= parentDirs.length) {
        match = p.matches(parentDirs.slice(0, depth).join('/'));
      }
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /** The patterns as cleaned, `!` kept. */
  list(): string[] {
    return this.patterns.map((p) => (p.exclusion ? `!${p.text}` : p.text));
  }
}

/**
 * The docker CLI keeps the Dockerfile and .dockerignore in the context even when the patterns exclude them
 * (the builder needs both): `!` patterns are added for them when they would be excluded.
 */
export function keepBuildFiles(excludes: readonly string[], dockerfile: string | undefined): string[] {
  const out = [...excludes];
  if (new PatternMatcher(out).matchesOneParent('.dockerignore')) out.push('!.dockerignore');
  if (dockerfile !== undefined && new PatternMatcher(out).matchesOneParent(dockerfile)) out.push(`!${dockerfile}`);
  return out;
}

/** Go's path.Dir: everything before the last slash, cleaned (`a/b/` → `a/b`, `a` → `.`). */
function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : goClean(p.slice(0, i + 1));
}

/** Go's path.Clean. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Go's strings.TrimSpace. */
function goTrimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** filepath.Match's syntax check: classes closed and well-formed, no trailing escape. */
function checkGlobSyntax(p: string): void {
  const bad = () => new InvalidArgumentError(`syntax error in pattern: ${p}`);
  const cps = Array.from(p);
  let i = 0;
  const escaped = (): string => {
    const c = cps[i];
    if (c === undefined || c === '-' || c === ']') throw bad();
    if (c === '\\') {
      i++;
      if (cps[i] === undefined) throw bad();
    }
    return cps[i++]!;
  };
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === '\\') {
      if (i + 1 >= cps.length) throw bad();
      i += 2;
    } else if (c === '[') {
      i++;
      if (cps[i] === '^') i++;
      let ranges = 0;
      for (;;) {
        if (i >= cps.length) throw bad();
        if (cps[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        escaped();
        if (cps[i] === '-') {
          i++;
          escaped();
        }
        ranges++;
      }
    } else {
      i++;
    }
  }
}
