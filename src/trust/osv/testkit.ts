/** OSV records in the real schema, for tests and benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordSpec {
  id: string;
  ecosystem: string;
  name: string;
  /** ECOSYSTEM range events, e.g. `[{ introduced: '0' }, { fixed: '1.2-3' }]`. */
  events?: Record<string, string>[];
  versions?: string[];
  rangeType?: 'ECOSYSTEM' | 'SEMVER';
  cvss?: string;
  severityWord?: string;
  urgency?: string;
  aliases?: string[];
  summary?: string;
  modified?: string;
}

/**
 * The advisories the image scans of the integration tests match: Debian's openssl (fixed in 99.0-1, urgency high,
 * so every Debian 12 image has it) and npm's lodash (fixed in 4.17.21, CVSS 9.8, critical).
 */
export const ADVISORY = {
  debianOpenssl: {
    id: 'DSA-9001-1',
    ecosystem: 'Debian:12',
    name: 'openssl',
    events: [{ introduced: '0' }, { fixed: '99.0-1' }],
    urgency: 'high',
  },
  npmLodash: {
    id: 'GHSA-lodash-test',
    ecosystem: 'npm',
    name: 'lodash',
    events: [{ introduced: '0' }, { fixed: '4.17.21' }],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  },
} satisfies Record<string, RecordSpec>;

/** A record as osv.dev publishes them (schema 1.6). */
export function osvRecord(s: RecordSpec): Record<string, unknown> {
  return {
    schema_version: '1.6.0',
    id: s.id,
    modified: s.modified ?? '2024-05-01T00:00:00Z',
    published: '2024-04-01T00:00:00Z',
    aliases: s.aliases ?? [],
    summary: s.summary ?? `${s.name} vulnerability`,
    details: `A vulnerability in ${s.name}.`,
    ...(s.cvss ? { severity: [{ type: 'CVSS_V3', score: s.cvss }] } : {}),
    affected: [
      {
        package: { ecosystem: s.ecosystem, name: s.name },
        ...(s.events ? { ranges: [{ type: s.rangeType ?? 'ECOSYSTEM', events: s.events }] } : {}),
        ...(s.versions ? { versions: s.versions } : {}),
        ...(s.urgency ? { ecosystem_specific: { urgency: s.urgency } } : {}),
      },
    ],
    references: [{ type: 'ADVISORY', url: `https://example.invalid/${s.id}` }],
    ...(s.severityWord ? { database_specific: { severity: s.severityWord } } : {}),
  };
}

/** Writes records as `<dir>/<id>.json`, as OSV's exports lay them out. */
export function writeOsvDir(dir: string, specs: RecordSpec[]): void {
  mkdirSync(dir, { recursive: true });
  for (const s of specs) writeFileSync(join(dir, `${s.id}.json`), JSON.stringify(osvRecord(s), null, 2));
}
