import type { EngineClient } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { MultiError } from '../errors.ts';
import { compactJSON, indentJSON } from '../jsonindent.ts';
import { compileFormat, loadFormat } from '../output.ts';

export interface InspectOptions {
  refs: string[];
  format: string;
}

/**
 * Where the Go type docker decodes an inspect answer into is not a struct: dotted paths from the top
 * (`[]` for the elements of an array). Every other JSON object is taken for a struct.
 */
export interface InspectShape {
  /** Go type of the top-level object, e.g. `image.InspectResponse`. */
  typeName: string;
  /** Go maps: a missing key is `<no value>`, and a null one is an empty map that marshals as `null`. */
  maps: readonly string[];
  /** Go slices: a null one prints `[]` and marshals as `null`. */
  slices: readonly string[];
  /** time.Time values, sent as RFC 3339 text: printed as Go prints a time. */
  times: readonly string[];
  /** Struct fields whose Go name is not their JSON key, by JSON path (`Id` → `ID`, `HostConfig.NanoCpus` → `NanoCPUs`). */
  renames?: Readonly<Record<string, string>>;
  /**
   * Struct fields the engine may leave out (Go `omitempty`), by JSON path: a template still finds them,
   * holding their zero value (`null` for pointers, an empty map or slice that marshals as `null`).
   */
  omitted?: readonly string[];
}

/** The parts of docker's `image.InspectResponse` that are not structs (API 1.47–1.50). */
export const IMAGE_SHAPE: InspectShape = {
  typeName: 'image.InspectResponse',
  maps: ['Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'GraphDriver.Data', 'Descriptor.annotations'],
  slices: [
    'RepoTags',
    'RepoDigests',
    'RootFS.Layers',
    'Config.Env',
    'Config.Cmd',
    'Config.Entrypoint',
    'Config.OnBuild',
    'Config.Shell',
  ],
  times: ['Metadata.LastTagTime'],
  renames: { Id: 'ID' },
};

type FormatModule = Awaited<ReturnType<typeof loadFormat>>;

/**
 * The decoded answer as docker's typed value behaves in a template: objects are structs (naming a field
 * they lack fails), except the maps of `shape`; null maps and slices are empty ones that marshal as `null`.
 */
export function typedView(
  value: unknown,
  shape: InspectShape,
  fmt: Pick<FormatModule, 'GO_TYPE' | 'MARSHAL_JSON'>,
): unknown {
  const maps = new Set(shape.maps);
  const slices = new Set(shape.slices);
  const times = new Set(shape.times);
  const marshalNull = { [fmt.MARSHAL_JSON]: { value: () => 'null' } };
  const visit = (v: unknown, path: string, typeName: string): unknown => {
    if (v === null) {
      if (maps.has(path)) return Object.defineProperties(new Map(), marshalNull);
      if (slices.has(path)) return Object.defineProperties([], marshalNull);
      return null;
    }
    if (typeof v === 'string' && times.has(path)) {
      const date = new Date(v);
      return Number.isNaN(date.getTime())
        ? v
        : Object.defineProperty(date, fmt.MARSHAL_JSON, { value: () => JSON.stringify(v) });
    }
    if (Array.isArray(v)) return v.map((e) => visit(e, `${path}[]`, typeName));
    if (typeof v !== 'object' || maps.has(path)) return v;
    const out: Record<string | symbol, unknown> = { [fmt.GO_TYPE]: typeName };
    for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
      const at = path === '' ? k : `${path}.${k}`;
      out[shape.renames?.[at] ?? k] = visit(e, at, 'struct');
    }
    for (const at of shape.omitted ?? []) {
      const dot = at.lastIndexOf('.');
      if ((dot < 0 ? '' : at.slice(0, dot)) !== path) continue;
      const k = at.slice(dot + 1);
      const name = shape.renames?.[at] ?? k;
      if (!(name in out)) out[name] = visit(null, at, 'struct');
    }
    return out;
  };
  return visit(value, '', shape.typeName);
}

/**
 * docker's inspect output: the engine's raw JSON of every found object, as one array indented with
 * four spaces (or compact for `json`), or a template per object. A template runs as docker's
 * TemplateInspector runs it: over the typed value first and, when that fails, over the raw JSON with
 * `missingkey=error`, whose error is the one reported. Lookups that fail are reported together after
 * the output, which still lists what was found (`[]` when nothing).
 */
export async function inspectObjects(
  out: OutStream,
  opts: InspectOptions,
  fetchRaw: (ref: string) => Promise<string | { raw: string; shape: InspectShape }>,
  shape: InspectShape = IMAGE_SHAPE,
): Promise<void> {
  const templated = opts.format !== '' && opts.format !== 'json';
  const typed = templated ? await compileFormat(opts.format) : undefined;
  const raw = templated ? await compileFormat(opts.format, { missingKey: 'error' }) : undefined;
  const fmt = templated ? await loadFormat() : undefined;
  const raws: string[] = [];
  const errors: unknown[] = [];
  let text = '';
  for (const ref of opts.refs) {
    let answer: string;
    let objectShape = shape;
    try {
      const got = await fetchRaw(ref);
      if (typeof got === 'string') answer = got;
      else ({ raw: answer, shape: objectShape } = got);
    } catch (err) {
      errors.push(err);
      continue;
    }
    if (typed === undefined || raw === undefined || fmt === undefined) {
      raws.push(answer.trim());
      continue;
    }
    const decoded = JSON.parse(answer) as unknown;
    try {
      text += `${typed(typedView(decoded, objectShape, fmt))}\n`;
    } catch {
      try {
        text += `${raw(decoded)}\n`;
      } catch (err) {
        errors.push(err);
      }
    }
  }
  if (templated) {
    out.write(text === '' ? '\n' : text);
  } else if (raws.length === 0) {
    out.write('[]\n');
  } else {
    const array = `[${raws.join(',')}]`;
    out.write(`${opts.format === 'json' ? compactJSON(array) : indentJSON(array)}\n`);
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiError(errors);
}

export function inspectImages(
  client: EngineClient,
  out: OutStream,
  opts: InspectOptions,
  signal?: AbortSignal,
): Promise<void> {
  return inspectObjects(out, opts, (ref) => client.imageInspectRaw(ref, { signal }));
}
