import type { EngineClient, ImageHistoryItem, TagHistoryEntry } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { renderRows, renderTable } from '../output.ts';
import { ellipsis, truncateID } from '../text.ts';
import { formatRFC3339, humanDuration, humanSizeWithPrecision } from '../units.ts';

export interface HistoryOptions {
  image: string;
  human: boolean;
  quiet: boolean;
  noTrunc: boolean;
  format: string;
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Dates before 2000 are shown as N/A in human mode (docker's `epoch`). */
const EPOCH_2000 = 946684800;

export type HistoryRow = Record<'Comment' | 'CreatedAt' | 'CreatedBy' | 'CreatedSince' | 'ID' | 'Size', string>;

export function historyRow(h: ImageHistoryItem, opts: { human: boolean; trunc: boolean; nowMs: number }): HistoryRow {
  const createdAt = formatRFC3339(h.Created);
  let createdSince = createdAt;
  if (opts.human) {
    createdSince = h.Created <= EPOCH_2000 ? 'N/A' : `${humanDuration(opts.nowMs - h.Created * 1000)} ago`;
  }
  const createdBy = h.CreatedBy.replaceAll('\t', ' ');
  return {
    Comment: h.Comment,
    CreatedAt: createdAt,
    CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: createdSince,
    ID: opts.trunc ? truncateID(h.Id) : h.Id,
    Size: opts.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
  };
}

export async function showHistory(
  client: EngineClient,
  out: OutStream,
  opts: HistoryOptions,
  signal?: AbortSignal,
): Promise<void> {
  const items = await client.imageHistory(opts.image, { signal });
  const rows = items.map((h) => historyRow(h, { human: opts.human, trunc: !opts.noTrunc, nowMs: Date.now() }));
  if ((opts.format === '' || opts.format === 'table') && opts.quiet) {
    out.write(rows.map((r) => `${r.ID}\n`).join(''));
    return;
  }
  const createdColumn = opts.human ? 'CreatedSince' : 'CreatedAt';
  out.write(
    await renderRows(rows, opts.format, {
      headers: HEADERS,
      typeName: '*image.historyContext',
      defaultTable: `table {{.ID}}\t{{.${createdColumn}}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`,
      columns: ['ID', createdColumn, 'CreatedBy', 'Size', 'Comment'],
    }),
  );
}

export interface TagHistoryOptions {
  name: string;
  noTrunc: boolean;
  quiet: boolean;
  format: string;
}

const TAG_HEADERS: Record<string, string> = {
  Digest: 'DIGEST',
  ImageID: 'IMAGE ID',
  Set: 'SET',
  Action: 'ACTION',
  Time: 'TIME',
};

/**
 * Berth addition, `berth image history --tags NAME:TAG`: what the tag pointed at over time, newest
 * first, from `GET /images/{name}/taghistory`. Columns: DIGEST, IMAGE ID, SET (relative time), ACTION.
 */
export async function showTagHistory(
  client: EngineClient,
  out: OutStream,
  opts: TagHistoryOptions,
  signal?: AbortSignal,
): Promise<void> {
  const entries = await client.imageTagHistory(opts.name, { signal });
  const now = Date.now();
  const rows = entries.map((e: TagHistoryEntry) => {
    const t = Date.parse(e.Time);
    return {
      Action: e.Action,
      // An untag leaves the tag pointing nowhere: no digest, no image.
      Digest: e.Digest ?? '<none>',
      ImageID:
        e.ImageID === null || e.ImageID === undefined ? '<none>' : opts.noTrunc ? e.ImageID : truncateID(e.ImageID),
      Set: Number.isNaN(t) ? e.Time : `${humanDuration(now - t)} ago`,
      Time: e.Time,
    };
  });
  if (opts.quiet && (opts.format === '' || opts.format === 'table')) {
    out.write(rows.map((r) => `${r.Digest}\n`).join(''));
    return;
  }
  if (opts.format === '' || opts.format === 'table') {
    out.write(renderTable(rows, ['Digest', 'ImageID', 'Set', 'Action'], TAG_HEADERS));
    return;
  }
  out.write(
    await renderRows(rows, opts.format, {
      headers: TAG_HEADERS,
      defaultTable: 'table {{.Digest}}\t{{.ImageID}}\t{{.Set}}\t{{.Action}}',
      columns: ['Digest', 'ImageID', 'Set', 'Action'],
    }),
  );
}
