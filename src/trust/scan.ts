/**
 * A vulnerability scan: an SBOM matched against the OSV database. The report lists each advisory per affected
 * package (most severe first), the fixed version when one exists, counts by severity, and the database's age, so
 * an old database is flagged rather than trusted silently.
 */
import { type Severity, SEVERITIES, severityRank } from './osv/cvss.ts';
import type { VulnDb } from './osv/db.ts';
import { matchPackage } from './osv/match.ts';
import type { Sbom } from './sbom/types.ts';
import type { ScanReport, ScanVulnerability } from '../engine-api/trust.ts';

export type Vulnerability = ScanVulnerability;
export type { ScanReport };

export interface ScanOptions {
  /** Days after which the database counts as stale (default 7). */
  maxAgeDays?: number;
  now?: number;
  image?: { name: string; digest: string };
}

export function scanSbom(db: Pick<VulnDb, 'lookup' | 'info'>, sbom: Sbom, opts: ScanOptions = {}): ScanReport {
  const vulns: Vulnerability[] = [];
  for (const p of sbom.packages) {
    for (const f of matchPackage(db, p)) {
      vulns.push({
        id: f.id,
        aliases: f.aliases,
        summary: f.summary,
        severity: f.severity,
        ...(f.score !== undefined ? { score: f.score } : {}),
        ...(f.fixedVersion !== undefined ? { fixedVersion: f.fixedVersion } : {}),
        package: {
          name: p.name,
          version: p.version,
          type: p.type,
          ecosystem: p.ecosystem,
          purl: p.purl,
          locations: p.locations,
        },
      });
    }
  }
  vulns.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (a.package.name < b.package.name
        ? -1
        : a.package.name > b.package.name
          ? 1
          : a.id < b.id
            ? -1
            : a.id > b.id
              ? 1
              : 0),
  );
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const v of vulns) counts[v.severity]++;
  const info = db.info();
  const now = opts.now ?? Date.now();
  const ageDays = info.importedAt !== undefined ? Math.floor((now - info.importedAt) / 86_400_000) : undefined;
  return {
    ...(opts.image ? { image: opts.image } : {}),
    database: {
      advisories: info.advisories,
      ...(info.importedAt !== undefined ? { importedAt: new Date(info.importedAt).toISOString() } : {}),
      ...(ageDays !== undefined ? { ageDays } : {}),
      stale: ageDays === undefined || ageDays > (opts.maxAgeDays ?? 7),
    },
    packages: sbom.packages.length,
    vulnerabilities: vulns,
    counts,
  };
}

/** Keeps the vulnerabilities whose severity is one of `severities` (recounting). */
export function filterBySeverity(report: ScanReport, severities: Severity[]): ScanReport {
  const vulnerabilities = report.vulnerabilities.filter((v) => severities.includes(v.severity));
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const v of vulnerabilities) counts[v.severity]++;
  return { ...report, vulnerabilities, counts };
}
