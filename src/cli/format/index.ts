/**
 * `--format` for the berth CLI: Go's text/template with docker's functions, and docker's table/json list
 * output aligned by a Go-compatible tabwriter.
 */
export { renderList, type RenderListOptions } from './list.ts';
export { Template, type TemplateOptions } from './template.ts';
export { TemplateExecError } from './exec.ts';
export { TabWriter, DOCKER_TABLE, stringWidth, type TabWriterOptions } from './tabwriter.ts';
export { FuncError, type FuncMap, type GoFunction, type ParamType } from './funcs.ts';
export { GO_TYPE, MARSHAL_JSON, GoFloat } from './values.ts';
export { marshalJSON } from './gojson.ts';
export { sprintf, sprint, sprintln } from './gofmt.ts';
