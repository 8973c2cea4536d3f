/**
 * docker's `--format` conventions (docker/cli cli/command/formatter/formatter.go): 'table' formats with a header
 * row aligned by a tabwriter, 'json' as one object per line, anything else a template per row.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import { TemplateExecError } from './exec.ts';
import { DOCKER_HEADER_FUNCS } from './funcs.ts';
import { marshalJSON } from './gojson.ts';
import { TabWriter } from './tabwriter.ts';
import { Template } from './template.ts';
import { GO_TYPE, MARSHAL_JSON, isPlainObject, structFields } from './values.ts';

const TABLE_KEY = 'table';
const JSON_KEY = 'json';

/** Wraps template errors as docker prints them: `template parsing error: template: :1: ...`. */
function dockerError(err: unknown): unknown {
  if (err instanceof InvalidArgumentError) {
    return new InvalidArgumentError(`template parsing error: ${err.message}`, { cause: err });
  }
  return err;
}

export interface RenderListOptions {
  /** The command's default format, used for '' and 'table', e.g. 'table {{.Repository}}\t{{.Tag}}'. */
  defaultTable: string;
  /** Column titles by field name, e.g. { ID: 'IMAGE ID', Repository: 'REPOSITORY' }. */
  headers: Record<string, string>;
  /**
   * The Go type name rows take in error messages, e.g. '*formatter.imageContext'. Rows act as Go structs:
   * a template naming a field they lack fails, as in docker.
   */
  typeName?: string;
}

/**
 * Renders rows for a list command's `--format`, as docker does:
 * - '' or 'table': `opts.defaultTable`;
 * - 'table TEMPLATE': a header row (the template over `opts.headers`, with docker's header functions) and one
 *   row per item, aligned by a tabwriter (minwidth 10, padding 3); literal `\t` and `\n` become tab and newline;
 * - 'json': each row as a JSON object with sorted keys, one per line;
 * - anything else: the template per row, each followed by a newline.
 * @throws InvalidArgumentError `template parsing error: …`, with nothing rendered, if the template fails.
 */
export function renderList<T>(rows: T[], format: string, opts: RenderListOptions): string {
  let spec = format === '' || format === TABLE_KEY ? opts.defaultTable : format;
  const isTable = spec.startsWith(TABLE_KEY);
  if (isTable) spec = spec.slice(TABLE_KEY.length);
  else if (spec === JSON_KEY) spec = '{{json .}}';
  spec = spec
    .replace(/^ +| +$/g, '')
    .replaceAll('\\t', '\t')
    .replaceAll('\\n', '\n');

  let tmpl: Template;
  try {
    tmpl = Template.parse(spec);
  } catch (err) {
    throw dockerError(err);
  }
  let body = '';
  for (const row of rows) {
    try {
      body += `${tmpl.execute(asDockerRow(row, opts.typeName ?? 'row'))}\n`;
    } catch (err) {
      throw dockerError(err);
    }
  }
  if (!isTable) return body;

  let header: string;
  try {
    header = tmpl.execute(opts.headers, { funcs: DOCKER_HEADER_FUNCS });
  } catch (err) {
    // docker ignores a failing header and keeps what it wrote before the failure.
    if (!(err instanceof TemplateExecError)) throw err;
    header = err.partial;
  }
  return TabWriter.format(`${header}\n${body}`);
}

/**
 * A row as docker's formatter contexts behave: a struct (missing fields are errors) whose JSON form is a map
 * of its fields with sorted keys and HTML-escaped strings.
 */
function asDockerRow(row: unknown, typeName: string): unknown {
  if (typeof row !== 'object' || row === null || Array.isArray(row) || row instanceof Map) return row;
  const fields = (): Record<string, unknown> =>
    isPlainObject(row) ? (row as Record<string, unknown>) : Object.fromEntries(structFields(row));
  return Object.create(row, {
    [GO_TYPE]: { value: typeName },
    [MARSHAL_JSON]: { value: () => marshalJSON(fields(), { escapeHTML: true, sortMapKeys: true }) },
  }) as unknown;
}
