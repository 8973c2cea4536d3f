/**
 * OSV records (the Open Source Vulnerability schema, ossf.github.io/osv-schema): validation of what matching
 * needs, and the severity of an advisory. A record that lacks what matching needs is refused with the reason;
 * the importer counts and skips it.
 */
import { cvss3Score, ratingOf, type Severity } from './cvss.ts';

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvRange {
  type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  events: OsvEvent[];
}

export interface OsvAffected {
  package: { ecosystem: string; name: string; purl?: string };
  ranges: OsvRange[];
  versions: string[];
  /** Debian's `urgency`, Ubuntu's and others' `severity`, when present. */
  ecosystemSeverity?: string;
}

/** The part of an OSV record a scan uses. */
export interface Advisory {
  id: string;
  aliases: string[];
  summary: string;
  modified: string;
  severity: Severity;
  /** The CVSS v3 base score, when the record has a vector. */
  score?: number;
  affected: OsvAffected[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;

/** Validates and reduces an OSV record. Throws an Error whose message is the reason it cannot be used. */
export function parseOsv(doc: unknown): Advisory {
  if (!isObj(doc)) throw new Error('not a JSON object');
  if (typeof doc.id !== 'string' || doc.id === '') throw new Error('"id" is missing or not a string');
  if (typeof doc.modified !== 'string' || Number.isNaN(Date.parse(doc.modified))) {
    throw new Error(`${doc.id}: "modified" is missing or not an RFC 3339 time`);
  }
  if (doc.aliases !== undefined && (!Array.isArray(doc.aliases) || doc.aliases.some((a) => typeof a !== 'string'))) {
    throw new Error(`${doc.id}: "aliases" is not a list of strings`);
  }
  const affected: OsvAffected[] = [];
  if (doc.affected !== undefined && !Array.isArray(doc.affected))
    throw new Error(`${doc.id}: "affected" is not a list`);
  for (const [i, a] of ((doc.affected as unknown[]) ?? []).entries()) {
    const at = `${doc.id}: affected[${i}]`;
    if (!isObj(a) || !isObj(a.package)) throw new Error(`${at}: "package" is missing`);
    const pkg = a.package;
    if (typeof pkg.ecosystem !== 'string' || typeof pkg.name !== 'string' || !pkg.name) {
      throw new Error(`${at}: package.ecosystem and package.name must be strings`);
    }
    const ranges: OsvRange[] = [];
    if (a.ranges !== undefined && !Array.isArray(a.ranges)) throw new Error(`${at}: "ranges" is not a list`);
    for (const [j, r] of ((a.ranges as unknown[]) ?? []).entries()) {
      if (!isObj(r) || !['ECOSYSTEM', 'SEMVER', 'GIT'].includes(r.type as string)) {
        throw new Error(`${at}.ranges[${j}]: "type" must be ECOSYSTEM, SEMVER or GIT`);
      }
      if (!Array.isArray(r.events) || r.events.length === 0)
        throw new Error(`${at}.ranges[${j}]: "events" is missing or empty`);
      const events: OsvEvent[] = [];
      for (const e of r.events) {
        if (!isObj(e)) throw new Error(`${at}.ranges[${j}]: an event is not an object`);
        const keys = Object.keys(e).filter((k) => (EVENT_KEYS as readonly string[]).includes(k));
        if (keys.length !== 1 || typeof e[keys[0]!] !== 'string') {
          throw new Error(
            `${at}.ranges[${j}]: each event must have exactly one of introduced, fixed, last_affected, limit`,
          );
        }
        events.push({ [keys[0]!]: e[keys[0]!] as string });
      }
      if (!events.some((e) => e.introduced !== undefined)) throw new Error(`${at}.ranges[${j}]: no "introduced" event`);
      ranges.push({ type: r.type as OsvRange['type'], events });
    }
    if (a.versions !== undefined && (!Array.isArray(a.versions) || a.versions.some((v) => typeof v !== 'string'))) {
      throw new Error(`${at}: "versions" is not a list of strings`);
    }
    const eco = isObj(a.ecosystem_specific) ? a.ecosystem_specific : {};
    const ecoSev =
      typeof eco.urgency === 'string' ? eco.urgency : typeof eco.severity === 'string' ? eco.severity : undefined;
    affected.push({
      package: {
        ecosystem: pkg.ecosystem,
        name: pkg.name,
        ...(typeof pkg.purl === 'string' ? { purl: pkg.purl } : {}),
      },
      ranges,
      versions: (a.versions as string[] | undefined) ?? [],
      ...(ecoSev !== undefined ? { ecosystemSeverity: ecoSev } : {}),
    });
  }
  const { severity, score } = severityOf(doc, affected);
  return {
    id: doc.id,
    aliases: (doc.aliases as string[] | undefined) ?? [],
    summary:
      typeof doc.summary === 'string'
        ? doc.summary
        : typeof doc.details === 'string'
          ? doc.details.split('\n')[0]!.slice(0, 200)
          : '',
    modified: doc.modified,
    severity,
    ...(score !== undefined ? { score } : {}),
    affected,
  };
}

const WORDS: Record<string, Severity> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'LOW',
  unimportant: 'LOW',
};

/**
 * The severity: from a CVSS v3 vector when there is one (its base score's rating), else the database's own word
 * (`database_specific.severity`, as GitHub's advisories give it), else the ecosystem's (Debian's urgency),
 * else UNKNOWN.
 */
function severityOf(doc: Record<string, unknown>, affected: OsvAffected[]): { severity: Severity; score?: number } {
  if (Array.isArray(doc.severity)) {
    for (const s of doc.severity) {
      if (isObj(s) && s.type === 'CVSS_V3' && typeof s.score === 'string') {
        const score = cvss3Score(s.score);
        if (score !== undefined) return { severity: ratingOf(score), score };
      }
    }
  }
  const dbs = isObj(doc.database_specific) ? doc.database_specific.severity : undefined;
  if (typeof dbs === 'string' && WORDS[dbs.toLowerCase()]) return { severity: WORDS[dbs.toLowerCase()]! };
  for (const a of affected) {
    const w = a.ecosystemSeverity ? WORDS[a.ecosystemSeverity.toLowerCase()] : undefined;
    if (w) return { severity: w };
  }
  return { severity: 'UNKNOWN' };
}
