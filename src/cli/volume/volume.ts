import { compareVersions, type EngineClient, type Volume } from '../../client/index.ts';
import { BerthError, CanceledError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { MultiError } from '../errors.ts';
import { inspectObjects } from '../image/inspect.ts';
import { headerLabel, renderRows, type ListLayout } from '../output.ts';
import { confirm, type LineSource } from '../prompt.ts';
import { humanSize } from '../units.ts';
import { VOLUME_SHAPE } from '../container/inspect.ts';
import { kvToMap } from '../container/values.ts';

/** `berth volume create/ls/inspect/rm/prune` (docker/cli `command/volume`). */

export interface VolumeCreateOptions {
  name: string;
  /** `--name`, hidden in docker but accepted. */
  nameFlag: string;
  driver: string;
  opts: string[];
  labels: string[];
}

export async function createVolume(client: EngineClient, out: OutStream, o: VolumeCreateOptions): Promise<void> {
  if (o.name !== '' && o.nameFlag !== '') {
    throw new BerthError(
      'conflicting options: cannot specify a volume-name through both --name and as a positional arg',
    );
  }
  const v = await client.volumeCreate({
    Driver: o.driver,
    DriverOpts: kvToMap(o.opts),
    Name: o.name || o.nameFlag,
    Labels: kvToMap(o.labels),
  });
  out.write(`${v.Name}\n`);
}

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a[i] as string;
    const cb = b[j] as string;
    const da = ca >= '0' && ca <= '9';
    const db = cb >= '0' && cb <= '9';
    if (da && db) {
      let ei = i;
      while (ei < a.length && (a[ei] as string) >= '0' && (a[ei] as string) <= '9') ei++;
      let ej = j;
      while (ej < b.length && (b[ej] as string) >= '0' && (b[ej] as string) <= '9') ej++;
      const na = a.slice(i, ei).replace(/^0+/, '');
      const nb = b.slice(j, ej).replace(/^0+/, '');
      if (na.length !== nb.length) return na.length < nb.length;
      if (na !== nb) return na < nb;
      if (ei - i !== ej - j) return ei - i < ej - j;
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca < cb;
    i++;
    j++;
  }
  return a.length - i < b.length - j;
}

const HEADERS: Record<string, string> = {
  ID: 'ID',
  Name: 'VOLUME NAME',
  Group: 'GROUP',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Status: 'STATUS',
};
Object.defineProperty(HEADERS, 'Label', { value: headerLabel, enumerable: false });

export function volumeRow(v: Volume): Record<string, string> {
  const labels = v.Labels ?? {};
  const row: Record<string, string> = {
    Availability: 'N/A',
    Driver: v.Driver,
    Group: 'N/A',
    Labels: Object.entries(labels)
      .map(([k, val]) => `${k}=${val}`)
      .sort()
      .join(','),
    Links: v.UsageData == null ? 'N/A' : String(v.UsageData.RefCount),
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: v.UsageData == null ? 'N/A' : humanSize(v.UsageData.Size),
    Status: 'N/A',
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => labels[name] ?? '', enumerable: false });
  return row;
}

export async function listVolumes(
  client: EngineClient,
  out: OutStream,
  o: { quiet: boolean; format: string; filters: Record<string, string[]> },
): Promise<void> {
  const res = await client.volumeList({ filters: o.filters });
  const volumes = [...(res.Volumes ?? [])].sort((a, b) =>
    naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0,
  );
  let format = o.format === '' ? 'table' : o.format;
  if (format === 'table' && o.quiet) format = '{{.Name}}';
  else if (format === 'raw') format = o.quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\\ndriver: {{.Driver}}\\n';
  const layout: ListLayout = {
    defaultTable: 'table {{.Driver}}\t{{.Name}}',
    headers: HEADERS,
    columns: ['Driver', 'Name'],
    typeName: '*formatter.volumeContext',
  };
  const rows = volumes.map(volumeRow);
  if (format === '{{.Name}}') {
    out.write(rows.map((r) => `${r.Name ?? ''}\n`).join(''));
    return;
  }
  out.write(await renderRows(rows, format, layout));
}

export function inspectVolumes(
  client: EngineClient,
  out: OutStream,
  o: { names: string[]; format: string },
): Promise<void> {
  return inspectObjects(
    out,
    { refs: o.names, format: o.format },
    (name) => client.volumeInspectRaw(name),
    VOLUME_SHAPE,
  );
}

export async function removeVolumes(
  client: EngineClient,
  out: OutStream,
  o: { names: string[]; force: boolean },
): Promise<void> {
  const errors: unknown[] = [];
  for (const name of o.names) {
    try {
      await client.volumeRemove(name, { force: o.force });
      out.write(`${name}\n`);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiError(errors);
}

const UNUSED_WARNING = `WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue?`;
const ALL_WARNING = `WARNING! This will remove all local volumes not used by at least one container.
Are you sure you want to continue?`;

export async function pruneVolumes(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  o: { all: boolean; force: boolean; filters: Record<string, string[]> },
): Promise<void> {
  const filters = { ...o.filters };
  let warning = UNUSED_WARNING;
  const api = await client.apiVersion();
  if (compareVersions(api, '1.42') >= 0) {
    if (o.all) {
      if (filters.all !== undefined)
        throw new BerthError('conflicting options: cannot specify both --all and --filter all=1');
      filters.all = ['true'];
      warning = ALL_WARNING;
    }
  } else {
    warning = ALL_WARNING;
  }
  if (!o.force && !(await confirm(input, out, warning))) throw new CanceledError('volume prune has been cancelled');
  const report = await client.volumePrune(filters);
  const deleted = report.VolumesDeleted ?? [];
  let space = 0;
  if (deleted.length > 0) {
    out.write(`Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    space = report.SpaceReclaimed;
  }
  out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}
