/** Trust: signing keys, simple-signing payloads and their registry layout, policies, SBOMs and vulnerability scans. */
export * from './keys.ts';
export * from './payload.ts';
export * from './layout.ts';
export * from './sign.ts';
export * from './policy.ts';
export * from './evaluate.ts';
export * from './gpg.ts';
export * from './versions/index.ts';
export {
  VulnDb,
  ecosystemBase,
  scanDbInfo,
  type DbInfo,
  type ImportResult,
  type OsvFile,
} from './osv/db.ts';
export { matchPackage, type Finding, type MatchablePackage } from './osv/match.ts';
export { filesFromDir, filesFromTar, filesFromZip, isZip } from './osv/sources.ts';
export { type Severity, SEVERITIES, severityRank } from './osv/cvss.ts';
export { extractSbom, sbomInput } from './sbom/extract.ts';
export { sbomFromLayers, type LayerOpener } from './sbom/layers.ts';
export { sbomDocument, SBOM_FORMATS, SBOM_MEDIA_TYPE, type SbomFormat, type SbomSubject } from './sbom/formats.ts';
export type { Distro, Package, PackageType, Sbom } from './sbom/types.ts';
export { scanSbom, filterBySeverity, type ScanReport, type Vulnerability, type ScanOptions } from './scan.ts';
export { TrustService, type TrustServiceDeps } from './service.ts';
export {
  loadRegistriesD,
  lookasideBase,
  readLookaside,
  writeLookaside,
  signatureUrl,
  type RegistriesD,
} from './lookaside.ts';
export { PolicyEnforcer, type EnforcerDeps } from './enforce.ts';
