import { errorMessage } from '../util/errors.ts';
import { ExitStatusError, TemplateError } from './errors.ts';
import { TabWriter } from './format/tabwriter.ts';

/**
 * Output helpers shared by commands: docker's default tables are drawn here directly; any other
 * `--format` (`table TEMPLATE`, `json`, a raw Go template) goes to the template engine in `./format/`.
 */

type FormatModule = typeof import('./format/index.ts');

let formatModule: Promise<FormatModule> | undefined;

/** Loads the template engine on first use (it costs ~0.1 s to load), so plain tables do not pay for it. */
export function loadFormat(): Promise<FormatModule> {
  formatModule ??= import('./format/index.ts');
  return formatModule;
}

/**
 * Marks an object as a Go struct for templates: naming a field it lacks is an error ("can't evaluate
 * field Foo in type T"), as with docker's typed values, instead of Go's `<no value>` for maps.
 */
export function goStruct<T extends object>(value: T, typeName: string, marker: symbol): T {
  return Object.create(value, { [marker]: { value: typeName } }) as T;
}

/** Marks `value` as a Go struct of `typeName`, loading the template engine for its marker. */
export async function asGoStruct<T extends object>(value: T, typeName: string): Promise<T> {
  const fmt = await loadFormat();
  return goStruct(value, typeName, fmt.GO_TYPE);
}

/**
 * A row as docker's formatter contexts behave in templates: a struct of `typeName`, whose `json` is
 * its fields with sorted keys and HTML-escaped strings (docker's `MarshalJSON` of a context).
 */
export async function asDockerContext<T extends object>(row: T, typeName: string): Promise<T> {
  const fmt = await loadFormat();
  return Object.create(row, {
    [fmt.GO_TYPE]: { value: typeName },
    [fmt.MARSHAL_JSON]: { value: () => fmt.marshalJSON({ ...row }, { escapeHTML: true, sortMapKeys: true }) },
  }) as T;
}

/** The engine's message without its own `template parsing error: ` prefix. */
function templateMessage(err: unknown): string {
  return errorMessage(err).replace(/^template parsing error: /, '');
}

/** A list-command layout: the default table's columns (fields of the row objects) and their headers. */
export interface ListLayout {
  /** docker's default table template, e.g. `table {{.Repository}}\t{{.Tag}}`. */
  defaultTable: string;
  /** Field → header, for every field a template may name. */
  headers: Record<string, string>;
  /** The fields the default table shows, in order (rows carry them already resolved). */
  columns: readonly string[];
  /** Go type name of a row in template errors, e.g. `*formatter.imageContext`. */
  typeName?: string;
}

/** docker's `SubHeaderContext.Label`: the header of `.Label "com.example.some-key"` is `some key`. */
export function headerLabel(name: string): string {
  const parts = name.split('.');
  return (parts[parts.length - 1] ?? '').replaceAll('-', ' ').replaceAll('_', ' ');
}

/** Draws rows as a table of the given fields with docker's tabwriter settings. */
export function renderTable(
  rows: readonly Record<string, unknown>[],
  fields: readonly string[],
  headers: Record<string, string>,
): string {
  let text = `${fields.map((f) => headers[f] ?? f).join('\t')}\n`;
  for (const row of rows) text += `${fields.map((f) => String(row[f] ?? '')).join('\t')}\n`;
  return TabWriter.format(text);
}

/**
 * Renders rows for a list command: `''`/`table` draw the default columns here; anything else
 * (`table TEMPLATE`, `json`, a raw template) is handed to the template engine's `renderList`.
 * Template failures become docker's "template parsing error: …" (exit 1 for list commands).
 */
export async function renderRows(
  rows: readonly Record<string, string>[],
  format: string,
  layout: ListLayout,
): Promise<string> {
  if (format === '' || format === 'table') return renderTable(rows, layout.columns, layout.headers);
  const fmt = await loadFormat();
  try {
    return fmt.renderList([...rows], format, {
      defaultTable: layout.defaultTable,
      headers: layout.headers,
      ...(layout.typeName !== undefined ? { typeName: layout.typeName } : {}),
    });
  } catch (err) {
    throw new Error(`template parsing error: ${templateMessage(err)}`, { cause: err });
  }
}

export interface CompileOptions {
  /** The template's name in messages (`version` for `berth version`, else ''). */
  name?: string;
  /** Put before a parse error (which exits 64); docker's `template parsing error: `. */
  parsePrefix?: string;
  /** Put before an execution error (which exits 1); docker varies this per command. */
  execPrefix?: string;
  /** Exit status for a parse error: 64 where docker wraps it in a StatusError (the default), else 1. */
  parseStatus?: number;
  /** Go's `missingkey` option; docker sets `error` where inspect falls back to the raw JSON. */
  missingKey?: 'invalid' | 'zero' | 'error';
}

/**
 * Compiles a `--format` template for single-object output (inspect, version, info, events). A parse
 * failure is a TemplateError (exit 64, as docker's StatusError); an execution failure is a plain error.
 */
export async function compileFormat(source: string, opts: CompileOptions = {}): Promise<(data: unknown) => string> {
  const fmt = await loadFormat();
  const parsePrefix = opts.parsePrefix ?? 'template parsing error: ';
  const execPrefix = opts.execPrefix ?? 'template parsing error: ';
  let tmpl: ReturnType<FormatModule['Template']['parse']>;
  try {
    tmpl = fmt.Template.parse(source, {
      name: opts.name ?? '',
      ...(opts.missingKey !== undefined ? { missingKey: opts.missingKey } : {}),
    });
  } catch (err) {
    const message = `${parsePrefix}${templateMessage(err)}`;
    throw (opts.parseStatus ?? 64) === 64
      ? new TemplateError(message, { cause: err })
      : new ExitStatusError(message, opts.parseStatus ?? 1, { cause: err });
  }
  return (data) => {
    try {
      return tmpl.execute(data);
    } catch (err) {
      throw new Error(`${execPrefix}${templateMessage(err)}`, { cause: err });
    }
  };
}
