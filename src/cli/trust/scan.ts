/** `berth sbom`, `berth scan` and `berth scan db`: berthd reads the image and matches; the CLI formats. */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { imageAttach, imageSbom, imageScan, scanDbImport, scanDbInfo } from '../../client/index.ts';
import type { ScanReport } from '../../engine-api/trust.ts';
import { SCAN_REPORT_ARTIFACT_TYPE } from '../../oci/mediatypes.ts';
import { parseReference } from '../../oci/reference.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { pack } from '../../util/tar/index.ts';
import type { Context } from '../command.ts';
import { ExitStatusError, UsageError } from '../errors.ts';
import { registryAuthFor } from '../image/registry.ts';
import { toSarif } from './sarif.ts';

const SBOM_TYPES: Record<string, string> = {
  'spdx-json': 'application/spdx+json',
  'cyclonedx-json': 'application/vnd.cyclonedx+json',
};
/** The artifact type Berth's scan reports are stored under. */
export const SCAN_REPORT_TYPE = SCAN_REPORT_ARTIFACT_TYPE;

async function attach(
  ctx: Context,
  image: string,
  artifactType: string,
  mediaType: string,
  bytes: Buffer,
): Promise<string> {
  const res = await imageAttach(
    ctx.client(),
    image,
    {
      artifactType,
      mediaType,
      data: bytes.toString('base64'),
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    },
    { registryAuth: await registryAuthFor(parseReference(image).domain), signal: ctx.signal },
  );
  return res.digest;
}

export async function sbom(
  ctx: Context,
  image: string,
  opts: { format: string; output: string; attach: boolean },
): Promise<void> {
  const mediaType = SBOM_TYPES[opts.format];
  if (!mediaType) throw new InvalidArgumentError(`invalid SBOM format "${opts.format}" (spdx-json or cyclonedx-json)`);
  const doc = await imageSbom(ctx.client(), image, opts.format, { signal: ctx.signal });
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (opts.output) await writeFile(opts.output, text);
  else ctx.streams.out.write(text);
  if (opts.attach) {
    const digest = await attach(ctx, image, mediaType, mediaType, Buffer.from(text));
    ctx.streams.err.write(`SBOM attached to ${image} as ${digest}\n`);
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function scanTable(r: ScanReport): string {
  const rows = r.vulnerabilities.map((v) => [
    v.package.name,
    v.package.version,
    v.id,
    v.severity,
    v.fixedVersion ?? '',
    v.summary.slice(0, 60),
  ]);
  const head = ['PACKAGE', 'INSTALLED', 'VULNERABILITY', 'SEVERITY', 'FIXED IN', 'SUMMARY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `${cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]! + 3))).join('')}`.trimEnd();
  const counts = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const)
    .map((s) => `${s} ${r.counts[s]}`)
    .join(', ');
  const db = `database: ${r.database.advisories} advisories${r.database.ageDays !== undefined ? `, imported ${r.database.ageDays} days ago` : ''}`;
  const out = [
    line(head),
    ...rows.map(line),
    '',
    `${r.image?.name ?? 'image'}: ${r.packages} packages, ${r.vulnerabilities.length} vulnerabilities (${counts}); ${db}`,
  ];
  return `${out.join('\n')}\n`;
}

function dbWarning(ctx: Context, r: { ageDays?: number; stale?: boolean }): void {
  if (r.stale || r.ageDays === undefined) {
    ctx.streams.err.write(
      `WARNING: the vulnerability database is ${r.ageDays === undefined ? 'of unknown age' : `${r.ageDays} days old`}; import a newer one with "berth scan db import"\n`,
    );
  }
}

export async function scan(
  ctx: Context,
  image: string,
  opts: { severities: string[]; format: string; exitCode: number; attach: boolean },
): Promise<void> {
  if (!['table', 'json', 'sarif'].includes(opts.format))
    throw new InvalidArgumentError(`invalid format "${opts.format}" (table, json or sarif)`);
  const report = await imageScan(ctx.client(), image, opts.severities, { signal: ctx.signal });
  dbWarning(ctx, report.database);
  const text =
    opts.format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : opts.format === 'sarif'
        ? `${JSON.stringify(toSarif(report), null, 2)}\n`
        : scanTable(report);
  ctx.streams.out.write(text);
  if (opts.attach) {
    const digest = await attach(ctx, image, SCAN_REPORT_TYPE, 'application/json', Buffer.from(JSON.stringify(report)));
    ctx.streams.err.write(`Scan report attached to ${image} as ${digest}\n`);
  }
  if (opts.exitCode !== 0 && report.vulnerabilities.length > 0) {
    throw new ExitStatusError(`${report.vulnerabilities.length} vulnerabilities found in ${image}`, opts.exitCode);
  }
}

/** The directory's `*.json` files as tar entries, 64 read at once (small files are bound by the round trip). */
async function* dirEntries(dir: string) {
  const all = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = all.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(e.parentPath, e.name));
  for (let i = 0; i < paths.length; i += 64) {
    const batch = paths.slice(i, i + 64);
    const bodies = await Promise.all(batch.map((p) => readFile(p)));
    for (let j = 0; j < batch.length; j++)
      yield { header: { name: relative(dir, batch[j]!), mode: 0o644 }, body: bodies[j]! };
  }
}

export async function db(ctx: Context, args: string[]): Promise<void> {
  const [verb, path] = args;
  if (verb === 'info' && path === undefined) {
    const info = await scanDbInfo(ctx.client(), { signal: ctx.signal });
    ctx.streams.out.write(
      `Advisories: ${info.advisories}\nImported:   ${info.importedAt ?? 'never'}${info.ageDays !== undefined ? ` (${info.ageDays} days ago)` : ''}\nNewest:     ${info.newest ?? '-'}\n`,
    );
    return;
  }
  if (verb !== 'import' || path === undefined)
    throw new UsageError('usage: berth scan db import DIR|ZIP, or berth scan db info', 'args');
  const st = await stat(path);
  const res = st.isDirectory()
    ? await scanDbImport(ctx.client(), Readable.from(pack(dirEntries(path))), 'application/x-tar', {
        signal: ctx.signal,
      })
    : await scanDbImport(ctx.client(), createReadStream(path), 'application/zip', { signal: ctx.signal });
  ctx.streams.out.write(
    `Imported ${res.imported} advisories (${res.advisories} in the database)${res.skipped ? `, skipped ${res.skipped} with errors` : ''}\n`,
  );
  for (const e of res.errors) ctx.streams.err.write(`  skipped ${e}\n`);
}
