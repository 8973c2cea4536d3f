import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanReport } from '../../engine-api/trust.ts';
import { toSarif } from './sarif.ts';
import { scanTable } from './scan.ts';

const report: ScanReport = {
  image: { name: 'r/app:1', digest: `sha256:${'a'.repeat(64)}` },
  database: { advisories: 50, importedAt: '2026-01-01T00:00:00.000Z', ageDays: 3, stale: false },
  packages: 12,
  vulnerabilities: [
    {
      id: 'GHSA-1',
      aliases: ['CVE-1'],
      summary: 'prototype pollution',
      severity: 'CRITICAL',
      score: 9.8,
      fixedVersion: '4.17.21',
      package: {
        name: 'lodash',
        version: '4.17.20',
        type: 'npm',
        ecosystem: 'npm',
        purl: 'pkg:npm/lodash@4.17.20',
        locations: ['/app/package-lock.json'],
      },
    },
    {
      id: 'DSA-2',
      aliases: [],
      summary: '',
      severity: 'MEDIUM',
      package: {
        name: 'libssl3',
        version: '3.0.0-1',
        type: 'deb',
        ecosystem: 'Debian:12',
        purl: 'pkg:deb/debian/libssl3@3.0.0-1',
        locations: [],
      },
    },
  ],
  counts: { CRITICAL: 1, HIGH: 0, MEDIUM: 1, LOW: 0, UNKNOWN: 0 },
};

test('the table: one row per finding in columns, then counts and the database’s size and age', () => {
  const lines = scanTable(report).trimEnd().split('\n');
  assert.match(lines[0]!, /^PACKAGE\s+INSTALLED\s+VULNERABILITY\s+SEVERITY\s+FIXED IN\s+SUMMARY$/);
  assert.match(lines[1]!, /^lodash\s+4\.17\.20\s+GHSA-1\s+CRITICAL\s+4\.17\.21\s+prototype pollution$/);
  assert.match(lines[2]!, /^libssl3\s+3\.0\.0-1\s+DSA-2\s+MEDIUM$/);
  assert.equal(
    lines.at(-1),
    'r/app:1: 12 packages, 2 vulnerabilities (CRITICAL 1, HIGH 0, MEDIUM 1, LOW 0, UNKNOWN 0); database: 50 advisories, imported 3 days ago',
  );
});

test('SARIF 2.1.0: a rule per advisory, a result per finding with its level and location', () => {
  const s = toSarif(report) as {
    version: string;
    runs: {
      tool: { driver: { rules: { id: string; properties: Record<string, unknown> }[] } };
      results: {
        ruleId: string;
        level: string;
        locations: { physicalLocation: { artifactLocation: { uri: string } } }[];
      }[];
    }[];
  };
  assert.equal(s.version, '2.1.0');
  const run = s.runs[0]!;
  assert.deepEqual(
    run.tool.driver.rules.map((r) => r.id),
    ['GHSA-1', 'DSA-2'],
  );
  assert.equal(run.tool.driver.rules[0]!.properties['security-severity'], '9.8');
  assert.deepEqual(
    run.results.map((r) => [r.ruleId, r.level]),
    [
      ['GHSA-1', 'error'],
      ['DSA-2', 'warning'],
    ],
  );
  assert.equal(run.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri, 'app/package-lock.json');
});
