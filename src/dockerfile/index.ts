/**
 * The Dockerfile frontend: text → syntax tree → typed instructions in stages. Pure: no I/O, nothing expanded
 * that needs build state (the planner does that). The builder (src/build/) and `import`/`commit --change`
 * (src/images/changes.ts) both read Dockerfile instructions with it.
 */
export { dump, dumpNode } from './ast.ts';
export type { Heredoc, Node, ParseResult, ParseWarning, ParseWarningRule } from './ast.ts';
export { type CheckDirective, detectSyntax, parseCheckDirective } from './directives.ts';
export { DockerfileError } from './errors.ts';
export * from './instructions.ts';
export { type CacheSharing, csvFields, type Mount, type MountType, parseMount } from './mounts.ts';
export { suggestion } from './flags.ts';
export { LineParseError } from './line-parsers.ts';
export { chompHeredocContent, INSTRUCTIONS, parse, parseHeredoc, type ParseOptions } from './parser.ts';
