/** A scan report as SARIF 2.1.0, the format code-scanning tools read: one rule per advisory, one result per hit. */
import type { ScanReport } from '../../engine-api/trust.ts';

const LEVEL: Record<string, string> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  UNKNOWN: 'note',
};

export function toSarif(r: ScanReport): Record<string, unknown> {
  const rules = new Map<string, Record<string, unknown>>();
  for (const v of r.vulnerabilities) {
    if (rules.has(v.id)) continue;
    rules.set(v.id, {
      id: v.id,
      name: v.id.replace(/[^A-Za-z0-9]/g, ''),
      shortDescription: { text: v.summary || v.id },
      helpUri: `https://osv.dev/vulnerability/${encodeURIComponent(v.id)}`,
      properties: {
        'security-severity': String(v.score ?? { CRITICAL: 9.5, HIGH: 8, MEDIUM: 5.5, LOW: 2, UNKNOWN: 0 }[v.severity]),
        tags: ['vulnerability', v.severity],
      },
    });
  }
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: { driver: { name: 'berth', informationUri: 'https://berth.invalid', rules: [...rules.values()] } },
        results: r.vulnerabilities.map((v) => ({
          ruleId: v.id,
          level: LEVEL[v.severity] ?? 'note',
          message: {
            text: `${v.package.name} ${v.package.version} is affected by ${v.id} (${v.severity})${v.fixedVersion ? `; fixed in ${v.fixedVersion}` : ''}`,
          },
          locations: (v.package.locations.length ? v.package.locations : ['/']).map((l) => ({
            physicalLocation: { artifactLocation: { uri: l.replace(/^\//, '') } },
            logicalLocations: [{ name: v.package.purl, kind: 'package' }],
          })),
        })),
      },
    ],
  };
}
