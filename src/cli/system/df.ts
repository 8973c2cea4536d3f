import type {
  DiskUsage,
  DiskUsageBuildCache,
  DiskUsageContainer,
  DiskUsageVolume,
  EngineClient,
  ImageSummary,
} from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { imageRow, IMAGE_HEADERS, isDangling } from '../image/list.ts';
import { asDockerContext, asGoStruct, compileFormat, renderRows, renderTable } from '../output.ts';
import { displayReference } from '../image/refs.ts';
import { ellipsis, truncateID } from '../text.ts';
import { formatGoTime, humanDuration, humanSize, humanSizeWithPrecision } from '../units.ts';

export interface DiskUsageOptions {
  verbose: boolean;
  format: string;
}

const SUMMARY_HEADERS: Record<string, string> = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};

function percentOf(reclaimable: number, total: number): string {
  return total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable);
}

const ACTIVE_STATES = new Set(['running', 'paused', 'restarting']);

/** The four summary rows of `docker system df`, computed as docker's disk-usage formatter does. */
export function summaryRows(du: DiskUsage): Record<string, string>[] {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  const layers = du.LayersSize ?? 0;

  let usedByContainers = 0;
  for (const i of images) {
    if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) usedByContainers += i.Size - i.SharedSize;
  }
  const imageReclaimable = layers - usedByContainers;

  let ctrSize = 0;
  let ctrReclaimable = 0;
  for (const c of containers) {
    const size = c.SizeRw ?? 0;
    ctrSize += size;
    if (!ACTIVE_STATES.has(c.State ?? '')) ctrReclaimable += size;
  }

  let volSize = 0;
  let volReclaimable = 0;
  for (const v of volumes) {
    const u = v.UsageData;
    if (u === undefined || u === null || u.Size === -1) continue;
    volSize += u.Size;
    if (u.RefCount === 0) volReclaimable += u.Size;
  }

  let builderSize = 0;
  let inUse = 0;
  for (const b of cache) {
    if (b.Shared !== true) builderSize += b.Size ?? 0;
    if (b.InUse === true && b.Shared !== true) inUse += b.Size ?? 0;
  }

  return [
    {
      Type: 'Images',
      TotalCount: String(images.length),
      Active: String(images.filter((i) => i.Containers > 0).length),
      Size: humanSize(layers),
      Reclaimable: percentOf(imageReclaimable, layers),
    },
    {
      Type: 'Containers',
      TotalCount: String(containers.length),
      Active: String(containers.filter((c) => ACTIVE_STATES.has(c.State ?? '')).length),
      Size: humanSize(ctrSize),
      Reclaimable: percentOf(ctrReclaimable, ctrSize),
    },
    {
      Type: 'Local Volumes',
      TotalCount: String(volumes.length),
      Active: String(volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Size: humanSize(volSize),
      Reclaimable: percentOf(volReclaimable, volSize),
    },
    {
      Type: 'Build Cache',
      TotalCount: String(cache.length),
      Active: String(cache.filter((b) => b.InUse === true).length),
      Size: humanSize(builderSize),
      Reclaimable: humanSize(builderSize - inUse),
    },
  ];
}

function verboseImageRow(img: ImageSummary, trunc: boolean, nowMs: number): Record<string, string> {
  let repo = '<none>';
  let tag = '<none>';
  const first = img.RepoTags?.[0];
  if (first !== undefined && !isDangling(img)) {
    const r = displayReference(first);
    if (r?.tag !== undefined) {
      repo = r.name;
      tag = r.tag;
    }
  }
  return imageRow(img, repo, tag, '', trunc, nowMs);
}

function containerRow(c: DiskUsageContainer, trunc: boolean, nowMs: number): Record<string, unknown> {
  const names = (c.Names ?? []).map((n) => n.slice(1));
  let shownNames = names;
  if (trunc) {
    const top = names.find((n) => n.split('/').length === 1);
    if (top !== undefined) shownNames = [top];
  }
  let image = c.Image ?? '';
  if (image === '') image = '<no image>';
  else if (trunc && truncateID(c.ImageID ?? '') === truncateID(image)) image = truncateID(image);
  const command = trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '');
  const mounts = (c.Mounts ?? []) as { Name?: string; Source?: string; Driver?: string }[];
  const labels = (c.Labels ?? {}) as Record<string, string>;
  const networks = Object.keys(
    (c.NetworkSettings as { Networks?: Record<string, unknown> } | undefined)?.Networks ?? {},
  ).sort();
  const ports = ((c.Ports ?? []) as { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[]).map(
    (p) =>
      p.PublicPort !== undefined && p.PublicPort !== 0
        ? `${p.IP ?? ''}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`
        : `${p.PrivatePort}/${p.Type}`,
  );
  return {
    Command: JSON.stringify(command),
    CreatedAt: formatGoTime(c.Created ?? 0),
    ID: trunc ? truncateID(c.Id) : c.Id,
    Image: image,
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    LocalVolumes: String(mounts.filter((m) => m.Driver === 'local').length),
    Mounts: mounts.map((m) => (trunc ? ellipsis(m.Name || m.Source || '', 15) : m.Name || m.Source || '')).join(','),
    Names: shownNames.join(','),
    Networks: networks.join(','),
    Platform: null,
    Ports: ports.join(', '),
    RunningFor: `${humanDuration(nowMs - (c.Created ?? 0) * 1000)} ago`,
    Size: humanSizeWithPrecision(c.SizeRw ?? 0, 3),
    State: c.State ?? '',
    Status: c.Status ?? '',
  };
}

function volumeRow(v: DiskUsageVolume): Record<string, string> {
  const u = v.UsageData;
  return {
    Availability: 'N/A',
    Driver: v.Driver ?? '',
    Group: 'N/A',
    Labels: Object.entries(v.Labels ?? {})
      .map(([k, val]) => `${k}=${val}`)
      .join(','),
    Links: u === undefined || u === null ? 'N/A' : String(u.RefCount),
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name,
    Scope: v.Scope ?? '',
    Size: u === undefined || u === null ? 'N/A' : humanSize(u.Size),
    Status: 'N/A',
  };
}

function cacheRow(b: DiskUsageBuildCache, trunc: boolean, nowMs: number): Record<string, string> {
  const id = trunc ? truncateID(b.ID) : b.ID;
  const since = (t: string | null | undefined): string => {
    if (t === undefined || t === null) return '';
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? '' : `${humanDuration(nowMs - ms)} ago`;
  };
  return {
    ID: b.InUse === true ? `${id}*` : id,
    CacheType: b.Type ?? '',
    Size: humanSizeWithPrecision(b.Size ?? 0, 3),
    CreatedSince: since(b.CreatedAt),
    LastUsedSince: since(b.LastUsedAt),
    UsageCount: String(b.UsageCount ?? 0),
    Shared: String(b.Shared === true),
  };
}

/** `berth system df [-v] [--format]`. */
export async function showDiskUsage(
  client: EngineClient,
  out: OutStream,
  opts: DiskUsageOptions,
  signal?: AbortSignal,
): Promise<void> {
  const du = await client.systemDf({ signal });
  const now = Date.now();
  if (!opts.verbose) {
    out.write(
      await renderRows(summaryRows(du), opts.format, {
        headers: SUMMARY_HEADERS,
        typeName: '*formatter.diskUsageImagesContext',
        defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
        columns: ['Type', 'TotalCount', 'Active', 'Size', 'Reclaimable'],
      }),
    );
    return;
  }
  const table = opts.format === '' || opts.format === 'table';
  const trunc = opts.format.startsWith('table') || opts.format === '';
  const images = (du.Images ?? []).map((i) => verboseImageRow(i, trunc, now));
  const containers = (du.Containers ?? []).map((c) => containerRow(c, trunc, now));
  const volumes = (du.Volumes ?? []).map(volumeRow);
  const cache = [...(du.BuildCache ?? [])]
    .sort((a, b) => Date.parse(b.LastUsedAt ?? '') - Date.parse(a.LastUsedAt ?? '') || 0)
    .map((b) => cacheRow(b, trunc, now));
  if (!table) {
    const template = await compileFormat(opts.format === 'json' ? '{{json .}}' : opts.format, {
      execPrefix: '',
      parseStatus: 1,
    });
    const wrap = (rows: Record<string, unknown>[], type: string): Promise<Record<string, unknown>[]> =>
      Promise.all(rows.map((r) => asDockerContext(r, type)));
    const data = {
      Images: await wrap(images, '*formatter.imageContext'),
      Containers: await wrap(containers, '*formatter.ContainerContext'),
      Volumes: await wrap(volumes, '*formatter.volumeContext'),
      BuildCache: await wrap(cache, '*formatter.buildCacheContext'),
    };
    out.write(template(await asGoStruct(data, '*formatter.diskUsageContext')));
    return;
  }
  let builderSize = 0;
  for (const b of du.BuildCache ?? []) if (b.Shared !== true) builderSize += b.Size ?? 0;
  out.write('Images space usage:\n\n');
  out.write(
    renderTable(
      images,
      ['Repository', 'Tag', 'ID', 'CreatedSince', 'Size', 'SharedSize', 'UniqueSize', 'Containers'],
      IMAGE_HEADERS,
    ),
  );
  out.write('\nContainers space usage:\n\n');
  out.write(
    renderTable(containers, ['ID', 'Image', 'Command', 'LocalVolumes', 'Size', 'RunningFor', 'Status', 'Names'], {
      ID: 'CONTAINER ID',
      Image: 'IMAGE',
      Command: 'COMMAND',
      LocalVolumes: 'LOCAL VOLUMES',
      Size: 'SIZE',
      RunningFor: 'CREATED',
      Status: 'STATUS',
      Names: 'NAMES',
    }),
  );
  out.write('\nLocal Volumes space usage:\n\n');
  out.write(renderTable(volumes, ['Name', 'Links', 'Size'], { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }));
  out.write(`\nBuild cache usage: ${humanSize(builderSize)}\n\n`);
  out.write(
    renderTable(cache, ['ID', 'CacheType', 'Size', 'CreatedSince', 'LastUsedSince', 'UsageCount', 'Shared'], {
      ID: 'CACHE ID',
      CacheType: 'CACHE TYPE',
      Size: 'SIZE',
      CreatedSince: 'CREATED',
      LastUsedSince: 'LAST USED',
      UsageCount: 'USAGE',
      Shared: 'SHARED',
    }),
  );
}
