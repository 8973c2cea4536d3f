import type { ContainerPort, ContainerSummary, EngineClient } from '../../client/index.ts';
import { familiarName, parseReference } from '../../oci/index.ts';
import type { OutStream } from '../command.ts';
import { BerthError } from '../../util/errors.ts';
import { headerLabel, loadFormat, renderRows, type ListLayout } from '../output.ts';
import { ellipsis, truncateID } from '../text.ts';
import { formatGoTime, humanDuration, humanSizeWithPrecision } from '../units.ts';

/**
 * `berth ps` (docker/cli `container/list.go` and `formatter/container.go`): the same columns, truncation,
 * quoting and port grouping as docker, `--format` templates over the same fields (with `.Label "k"`).
 */

export interface PsOptions {
  all: boolean;
  quiet: boolean;
  size: boolean;
  /** `-s` given explicitly (even as `-s=false`): a template naming `.Size` then does not turn sizes on. */
  sizeGiven: boolean;
  noTrunc: boolean;
  latest: boolean;
  last: number;
  format: string;
  filters: Record<string, string[]>;
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};
Object.defineProperty(CONTAINER_HEADERS, 'Label', { value: headerLabel, enumerable: false });

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
const DEFAULT_COLUMNS = ['ID', 'Image', 'Command', 'RunningFor', 'Status', 'Ports', 'Names'];
const RAW_FORMAT = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`;

/** Go's `strconv.Quote`. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x80 || (c >= 0x80 && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (/\p{L}|\p{M}|\p{N}|\p{P}|\p{S}|\u0020/u.test(ch)) out += ch;
    else if (c > 0xffff) out += `\\U${c.toString(16).padStart(8, '0')}`;
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** docker's `DisplayablePorts`: consecutive ports grouped into ranges, host mappings last. */
export function displayablePorts(ports: readonly ContainerPort[]): string {
  const sorted = [...ports].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    if ((a.IP ?? '') !== (b.IP ?? '')) return (a.IP ?? '') < (b.IP ?? '') ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const joinHostPort = (ip: string, port: string): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  const formGroup = (key: string, first: number, last: number): string => {
    const parts = key.split('/');
    let type = parts[0] as string;
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0] as string;
      type = parts[1] as string;
    }
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP !== undefined && p.IP !== '') {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (g === undefined) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    // Go re-inserts an existing map key: its place among the keys stays where it was.
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  result.push(...hostMappings);
  return result.join(', ');
}

/** The image column: with truncation, an ID prefix or the familiar `name[:tag]` (digest dropped). */
function imageColumn(c: ContainerSummary, trunc: boolean): string {
  if (c.Image === '') return '<no image>';
  if (trunc) {
    const t = truncateID(c.ImageID ?? '');
    if (t === truncateID(c.Image)) return t;
    try {
      const ref = parseReference(c.Image);
      return ref.tag !== undefined ? `${familiarName(ref)}:${ref.tag}` : familiarName(ref);
    } catch {
      // not a reference: shown as it is
    }
  }
  return c.Image;
}

/** A row with the fields docker's container formatter offers, plus its `Label` method. */
export type ContainerRow = Record<string, string | null> & { Label?: (name: string) => string };

export function containerRow(c: ContainerSummary, trunc: boolean, nowMs: number): ContainerRow {
  let names = (c.Names ?? []).map((n) => n.slice(1));
  if (trunc) {
    const plain = names.find((n) => !n.includes('/'));
    if (plain !== undefined) names = [plain];
  }
  const labels = c.Labels ?? {};
  const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
  const row: ContainerRow = {
    Command: goQuote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: formatGoTime(c.Created),
    ID: trunc ? truncateID(c.Id) : c.Id,
    Image: imageColumn(c, trunc),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: (c.Mounts ?? [])
      .map((m) => {
        const name = m.Name === undefined || m.Name === '' ? (m.Source ?? '') : m.Name;
        return trunc ? ellipsis(name, 15) : name;
      })
      .join(','),
    Names: names.join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Platform: null,
    Ports: displayablePorts(c.Ports ?? []),
    RunningFor: `${humanDuration(nowMs - c.Created * 1000)} ago`,
    Size: (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSizeWithPrecision(c.SizeRootFs ?? 0, 3)})` : srw,
    State: c.State,
    Status: c.Status,
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => labels[name] ?? '', enumerable: false });
  return row;
}

/** The format and layout docker's `NewContainerFormat` picks. */
export function containerLayout(format: string, quiet: boolean, size: boolean): { format: string; layout: ListLayout } {
  const base = { headers: CONTAINER_HEADERS, typeName: '*formatter.ContainerContext' };
  const columns = size ? [...DEFAULT_COLUMNS, 'Size'] : DEFAULT_COLUMNS;
  const table = size ? `${DEFAULT_TABLE}\t{{.Size}}` : DEFAULT_TABLE;
  if (format === '' || format === 'table') {
    if (quiet) return { format: '{{.ID}}', layout: { ...base, defaultTable: '{{.ID}}', columns: ['ID'] } };
    return { format: 'table', layout: { ...base, defaultTable: table, columns } };
  }
  if (format === 'raw')
    return {
      format: quiet ? 'container_id: {{.ID}}' : RAW_FORMAT + (size ? 'size: {{.Size}}\\n' : ''),
      layout: { ...base, defaultTable: table, columns },
    };
  return { format: quiet ? '{{.ID}}' : format, layout: { ...base, defaultTable: table, columns } };
}

/**
 * docker parses and runs the template over an empty container before asking the engine, so a bad one
 * fails first: "failed to parse template: …" or "failed to execute template: …".
 */
async function checkTemplate(format: string): Promise<boolean> {
  const fmt = await loadFormat();
  let tmpl;
  try {
    tmpl = fmt.Template.parse(format);
  } catch (err) {
    throw new BerthError(`failed to parse template: ${(err as Error).message}`, { cause: err });
  }
  const empty: ContainerSummary = {
    Id: '',
    Names: null,
    Image: '',
    ImageID: '',
    Command: '',
    Created: 0,
    Ports: null,
    Labels: null,
    State: '',
    Status: '',
  };
  let sizeUsed = false;
  const fields = containerRow(empty, true, Date.now());
  const size = fields.Size;
  Object.defineProperty(fields, 'Size', {
    get: () => {
      sizeUsed = true;
      return size;
    },
    enumerable: true,
  });
  const row = Object.create(fields, {
    [fmt.GO_TYPE]: { value: '*formatter.ContainerContext' },
    [fmt.MARSHAL_JSON]: { value: () => fmt.marshalJSON({ ...fields }, { escapeHTML: true, sortMapKeys: true }) },
  }) as object;
  try {
    tmpl.execute(row);
  } catch (err) {
    throw new BerthError(`failed to execute template: ${(err as Error).message}`, { cause: err });
  }
  return sizeUsed;
}

export async function listContainers(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: PsOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (opts.format !== '' && opts.quiet)
    err.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
  let size = opts.size;
  if (opts.format !== '') {
    const sizeUsed = await checkTemplate(opts.format);
    if (!opts.quiet && !size && !opts.sizeGiven && sizeUsed) size = true;
  }
  let limit = opts.last;
  if (opts.latest && limit === -1) limit = 1;
  const containers = await client.containerList({ all: opts.all, limit, size, filters: opts.filters, signal });
  const { format, layout } = containerLayout(opts.format, opts.quiet, size);
  const now = Date.now();
  const rows = containers.map((c) => containerRow(c, !opts.noTrunc, now));
  if (format === '{{.ID}}') {
    out.write(rows.map((r) => `${r.ID ?? ''}\n`).join(''));
    return;
  }
  out.write(await renderRows(rows as Record<string, string>[], format, layout));
}
