/**
 * SBOM documents: SPDX 2.3 JSON and CycloneDX 1.5 JSON, each describing the image (its name and manifest digest)
 * and every package with its purl. Timestamps and serial numbers come from the caller so output can be fixed in
 * tests.
 */
import { randomUUID } from 'node:crypto';
import { purl } from './purl.ts';
import type { Package, Sbom } from './types.ts';

export type SbomFormat = 'spdx-json' | 'cyclonedx-json';
export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx-json', 'cyclonedx-json'];
/** The media types an SBOM is stored under as an OCI artifact. */
export const SBOM_MEDIA_TYPE: Record<SbomFormat, string> = {
  'spdx-json': 'application/spdx+json',
  'cyclonedx-json': 'application/vnd.cyclonedx+json',
};

export interface SbomSubject {
  /** The image's name as given (`localhost:5000/app:1`). */
  name: string;
  /** Its manifest digest. */
  digest: string;
}

export interface DocumentOptions {
  tool: string;
  created?: Date;
  uuid?: string;
}

function imagePurl(s: SbomSubject): string {
  const bare = s.name.replace(/@.*$/, '');
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  const repo = colon > slash ? bare.slice(0, colon) : bare;
  const name = repo.slice(repo.lastIndexOf('/') + 1);
  return purl('oci', undefined, name, s.digest, { repository_url: repo });
}

function spdxId(i: number): string {
  return `SPDXRef-Package-${i + 1}`;
}

export function toSpdx(sbom: Sbom, subject: SbomSubject, opts: DocumentOptions): Record<string, unknown> {
  const created = (opts.created ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const uuid = opts.uuid ?? randomUUID();
  const pkg = (p: Package, i: number) => ({
    name: p.name,
    SPDXID: spdxId(i),
    versionInfo: p.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    ...(p.sourceName
      ? { sourceInfo: `built from source package ${p.sourceName}${p.sourceVersion ? ` ${p.sourceVersion}` : ''}` }
      : {}),
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    ...(p.license ? { comment: `declared license: ${p.license}` } : {}),
    attributionTexts: p.locations.map((l) => `found in ${l}`),
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subject.name,
    documentNamespace: `https://berth.invalid/spdx/${encodeURIComponent(subject.name)}-${uuid}`,
    creationInfo: { created, creators: [`Tool: ${opts.tool}`] },
    packages: [
      {
        name: subject.name,
        SPDXID: 'SPDXRef-Image',
        versionInfo: subject.digest,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'CONTAINER',
        externalRefs: [
          { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(subject) },
        ],
        ...(sbom.distro
          ? { comment: `distribution: ${sbom.distro.prettyName ?? `${sbom.distro.id} ${sbom.distro.versionId}`}` }
          : {}),
      },
      ...sbom.packages.map(pkg),
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
      ...sbom.packages.map((_, i) => ({
        spdxElementId: 'SPDXRef-Image',
        relationshipType: 'CONTAINS',
        relatedSpdxElement: spdxId(i),
      })),
    ],
  };
}

export function toCycloneDx(sbom: Sbom, subject: SbomSubject, opts: DocumentOptions): Record<string, unknown> {
  const created = (opts.created ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const [tool, version] = opts.tool.split('-');
  const components: Record<string, unknown>[] = [];
  if (sbom.distro) {
    components.push({
      type: 'operating-system',
      'bom-ref': `os:${sbom.distro.id}`,
      name: sbom.distro.id,
      version: sbom.distro.versionId,
    });
  }
  for (const p of sbom.packages) {
    components.push({
      type: 'library',
      'bom-ref': p.purl,
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(p.license ? { licenses: [{ expression: p.license }] } : {}),
      properties: [
        { name: 'berth:package:type', value: p.type },
        ...(p.sourceName ? [{ name: 'berth:package:source', value: p.sourceName }] : []),
        ...p.locations.map((l) => ({ name: 'berth:location', value: l })),
      ],
    });
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${opts.uuid ?? randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: created,
      tools: { components: [{ type: 'application', name: tool, ...(version ? { version } : {}) }] },
      component: {
        type: 'container',
        'bom-ref': imagePurl(subject),
        name: subject.name,
        version: subject.digest,
        purl: imagePurl(subject),
      },
    },
    components,
  };
}

export function sbomDocument(
  format: SbomFormat,
  sbom: Sbom,
  subject: SbomSubject,
  opts: DocumentOptions,
): Record<string, unknown> {
  return format === 'spdx-json' ? toSpdx(sbom, subject, opts) : toCycloneDx(sbom, subject, opts);
}
