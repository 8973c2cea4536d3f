import type { EngineClient, ImageSummary } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { renderRows, type ListLayout } from '../output.ts';
import { truncateID } from '../text.ts';
import { displayReference } from './refs.ts';
import { formatGoTime, humanSize, humanSizeWithPrecision, timeAgo } from '../units.ts';

export interface ListImagesOptions {
  all: boolean;
  quiet: boolean;
  noTrunc: boolean;
  digests: boolean;
  format: string;
  filters: Record<string, string[]>;
  /** The optional `REPOSITORY[:TAG]` argument, a `reference` filter. */
  matchName: string | undefined;
  /** Invoked as `berth images` (the hint about `berth image ls` applies only there). */
  calledAsImages: boolean;
}

/** Fields of one image row, named as docker's image formatter names them. */
export type ImageRow = Record<
  | 'Containers'
  | 'CreatedAt'
  | 'CreatedSince'
  | 'Digest'
  | 'ID'
  | 'Repository'
  | 'SharedSize'
  | 'Size'
  | 'Tag'
  | 'UniqueSize'
  | 'VirtualSize',
  string
>;

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

const DEFAULT_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const DEFAULT_TABLE_DIGESTS =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

export function isDangling(img: Pick<ImageSummary, 'RepoTags' | 'RepoDigests'>): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

export function imageRow(
  img: ImageSummary,
  repo: string,
  tag: string,
  digest: string,
  trunc: boolean,
  nowMs: number,
): ImageRow {
  const size = img.Size;
  const shared = img.SharedSize;
  return {
    Containers: img.Containers === -1 ? 'N/A' : String(img.Containers),
    CreatedAt: formatGoTime(img.Created),
    CreatedSince: timeAgo(img.Created, nowMs),
    Digest: digest,
    ID: trunc ? truncateID(img.Id) : img.Id,
    Repository: repo,
    SharedSize: shared === -1 ? 'N/A' : humanSize(shared),
    Size: humanSizeWithPrecision(size, 3),
    Tag: tag,
    UniqueSize: size === -1 || shared === -1 ? 'N/A' : humanSize(size - shared),
    VirtualSize: humanSize(size),
  };
}

/**
 * One row per repository:tag (and per digest when digests are shown), as docker's `imageFormat`:
 * dangling images are a single `<none> <none>` row, digest-only references get a `<none>` tag.
 */
export function imageRows(
  images: readonly ImageSummary[],
  opts: { trunc: boolean; digests: boolean; needDigest: boolean; nowMs: number },
): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(imageRow(img, '<none>', '<none>', '<none>', opts.trunc, opts.nowMs));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const ref of img.RepoTags ?? []) {
      const r = displayReference(ref);
      if (r === undefined || r.tag === undefined || r.digest !== undefined) continue;
      repoTags.set(r.name, [...(repoTags.get(r.name) ?? []), r.tag]);
    }
    for (const ref of img.RepoDigests ?? []) {
      const r = displayReference(ref);
      if (r === undefined || r.digest === undefined) continue;
      repoDigests.set(r.name, [...(repoDigests.get(r.name) ?? []), r.digest]);
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!opts.needDigest) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(imageRow(img, repo, tag, '<none>', opts.trunc, opts.nowMs));
        for (const d of digests) rows.push(imageRow(img, repo, tag, d, opts.trunc, opts.nowMs));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (opts.digests) for (const d of digests) rows.push(imageRow(img, repo, '<none>', d, opts.trunc, opts.nowMs));
      else rows.push(imageRow(img, repo, '<none>', '', opts.trunc, opts.nowMs));
    }
  }
  return rows;
}

/** The layout for `format` as docker's `NewImageFormat` chooses it. */
export function imageLayout(format: string, quiet: boolean, digests: boolean): { format: string; layout: ListLayout } {
  const base = { headers: IMAGE_HEADERS, typeName: '*formatter.imageContext' };
  if (format === '' || format === 'table') {
    if (quiet) return { format: '{{.ID}}', layout: { ...base, defaultTable: '{{.ID}}', columns: ['ID'] } };
    if (digests) {
      return {
        format: 'table',
        layout: {
          ...base,
          defaultTable: DEFAULT_TABLE_DIGESTS,
          columns: ['Repository', 'Tag', 'Digest', 'ID', 'CreatedSince', 'Size'],
        },
      };
    }
    return {
      format: 'table',
      layout: { ...base, defaultTable: DEFAULT_TABLE, columns: ['Repository', 'Tag', 'ID', 'CreatedSince', 'Size'] },
    };
  }
  let f = format;
  if (f.startsWith('table') && digests && !f.includes('{{.Digest}}')) f += '\t{{.Digest}}';
  return {
    format: f,
    layout: { ...base, defaultTable: DEFAULT_TABLE, columns: ['Repository', 'Tag', 'ID', 'CreatedSince', 'Size'] },
  };
}

const AMBIGUOUS = new Set([
  'build',
  'history',
  'import',
  'inspect',
  'list',
  'load',
  'ls',
  'prune',
  'pull',
  'push',
  'rm',
  'save',
  'tag',
]);

export async function listImages(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: ListImagesOptions,
  signal?: AbortSignal,
): Promise<void> {
  const filters: Record<string, string[]> = { ...opts.filters };
  if (opts.matchName !== undefined && opts.matchName !== '') {
    filters.reference = [...(filters.reference ?? []), opts.matchName];
  }
  const images = await client.imageList({ all: opts.all, filters, digests: opts.digests, signal });
  const { format, layout } = imageLayout(opts.format, opts.quiet, opts.digests);
  const needDigest = opts.digests || format.includes('{{.Digest}}');
  const rows = imageRows(images, { trunc: !opts.noTrunc, digests: opts.digests, needDigest, nowMs: Date.now() });
  if (format === '{{.ID}}' && opts.quiet) {
    out.write(rows.map((r) => `${r.ID}\n`).join(''));
  } else {
    out.write(await renderRows(rows, format, layout));
  }
  if (opts.matchName !== undefined && images.length === 0 && opts.calledAsImages && AMBIGUOUS.has(opts.matchName)) {
    err.write(
      `\nNo images found matching ${JSON.stringify(opts.matchName)}: did you mean "berth image ${opts.matchName}"?\n`,
    );
  }
}
