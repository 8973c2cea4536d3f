import type { EngineClient } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { MultiError } from '../errors.ts';
import { compactJSON, indentJSON } from '../jsonindent.ts';
import { asGoStruct, compileFormat } from '../output.ts';

export interface InspectOptions {
  refs: string[];
  format: string;
}

/**
 * docker's inspect output: the engine's raw JSON of every found object, as one array indented with
 * four spaces (or compact for `json`), or a template per object. Lookups that fail are reported
 * together after the output, which still lists what was found (`[]` when nothing).
 */
export async function inspectObjects(
  out: OutStream,
  opts: InspectOptions,
  fetchRaw: (ref: string) => Promise<string>,
  typeName = 'image.InspectResponse',
): Promise<void> {
  const template = opts.format === '' || opts.format === 'json' ? undefined : await compileFormat(opts.format);
  const raws: string[] = [];
  const errors: unknown[] = [];
  let templated = '';
  for (const ref of opts.refs) {
    let raw: string;
    try {
      raw = await fetchRaw(ref);
    } catch (err) {
      errors.push(err);
      continue;
    }
    if (template === undefined) {
      raws.push(raw.trim());
      continue;
    }
    try {
      templated += template(await asGoStruct(JSON.parse(raw) as object, typeName)) + '\n';
    } catch (err) {
      errors.push(err);
    }
  }
  if (template !== undefined) {
    out.write(templated === '' ? '\n' : templated);
  } else if (raws.length === 0) {
    out.write('[]\n');
  } else {
    const array = `[${raws.join(',')}]`;
    out.write((opts.format === 'json' ? compactJSON(array) : indentJSON(array)) + '\n');
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiError(errors);
}

export function inspectImages(client: EngineClient, out: OutStream, opts: InspectOptions, signal?: AbortSignal): Promise<void> {
  return inspectObjects(out, opts, (ref) => client.imageInspectRaw(ref, { signal }));
}
