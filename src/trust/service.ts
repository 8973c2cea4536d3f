/**
 * Trust in the engine: what berthd does for signatures, SBOMs and scans. Signing happens in the client (private
 * keys stay there); berthd reads and writes the registry (signatures, referrers), keeps the vulnerability
 * database, and reads images' root filesystems, which only it has.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type RegistryAuth, type RemoteRepository, withRepository } from '../distribution/index.ts';
import type {
  AddSignatureRequest,
  AttachRequest,
  ScanDbImportResponse,
  ScanDbInfo,
  ScanReport,
  SignaturesResponse,
} from '../engine-api/trust.ts';
import type { ImageService } from '../images/index.ts';
import { parseReference, type Reference, referenceString, withDefaultTag } from '../oci/reference.ts';
import type { Descriptor } from '../oci/types.ts';
import { mountAll, unmountAll } from '../snapshots/index.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { lookasideBase, type RegistriesD, writeLookaside } from './lookaside.ts';
import { scanDbInfo, VulnDb } from './osv/db.ts';
import { filesFromTar, filesFromZip } from './osv/sources.ts';
import { attachArtifact, describe, writeSigstoreSignature } from './registry.ts';
import { filterBySeverity, scanSbom } from './scan.ts';
import { type SignatureStores, signatureSource } from './sources.ts';
import { extractSbom } from './sbom/extract.ts';
import { sbomDocument, type SbomFormat } from './sbom/formats.ts';
import type { Sbom } from './sbom/types.ts';
import type { Severity } from './osv/cvss.ts';

export interface TrustServiceDeps extends SignatureStores {
  images: ImageService;
  /** `<data-root>/trust`: the vulnerability database and mount points of images being read. */
  root: string;
  /** Days after which the vulnerability database is reported stale (default 7). */
  dbMaxAgeDays?: number;
  tool: string;
}

const VIEW_PREFIX = 'berth-trust-view-';

export class TrustService {
  readonly #d: TrustServiceDeps;
  #db: VulnDb | undefined;

  constructor(deps: TrustServiceDeps) {
    this.#d = deps;
  }

  get registriesD(): RegistriesD {
    return this.#d.registriesD;
  }

  #vulnDb(): VulnDb {
    this.#db ??= new VulnDb(join(this.#d.root, 'osv.db'));
    return this.#db;
  }

  /** Start-up repair: mounts and snapshot views a crash left behind while an image was being read. */
  async repair(): Promise<void> {
    const mnt = join(this.#d.root, 'mnt');
    for (const name of await readdir(mnt).catch(() => [] as string[])) {
      await unmountAll(join(mnt, name), { detach: true }).catch(() => 0);
      await rmdir(join(mnt, name)).catch(() => undefined);
    }
    for await (const s of this.#d.images.snapshotter.walk()) {
      if (s.key.startsWith(VIEW_PREFIX)) await this.#d.images.snapshotter.remove(s.key).catch(() => undefined);
    }
  }

  close(): void {
    this.#db?.close();
  }

  /** Runs fn with the local image's root filesystem mounted read-only at a private directory. */
  async withImageRoot<T>(name: string, fn: (root: string, digest: string) => Promise<T>): Promise<T> {
    const rec = this.#d.images.resolve(name);
    const snap = this.#d.images.snapshotter;
    const id = randomBytes(8).toString('hex');
    const dir = join(this.#d.root, 'mnt', id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (rec.chainId === null) {
      try {
        return await fn(dir, rec.manifestDigest);
      } finally {
        await rmdir(dir).catch(() => undefined);
      }
    }
    const key = `${VIEW_PREFIX}${id}`;
    const mounts = await snap.view(key, rec.chainId);
    try {
      mountAll(
        mounts.map((m) => (m.options.includes('ro') ? m : { ...m, options: [...m.options, 'ro'] })),
        dir,
      );
      try {
        return await fn(dir, rec.manifestDigest);
      } finally {
        await unmountAll(dir, { detach: true });
      }
    } finally {
      await snap.remove(key).catch(() => undefined);
      await rmdir(dir).catch(() => undefined);
    }
  }

  /** The SBOM of a local image. */
  async sbomOf(name: string): Promise<{ sbom: Sbom; digest: string }> {
    return this.withImageRoot(name, async (root, digest) => ({ sbom: await extractSbom(root), digest }));
  }

  async sbomDocument(name: string, format: SbomFormat): Promise<Record<string, unknown>> {
    const { sbom, digest } = await this.sbomOf(name);
    return sbomDocument(format, sbom, { name, digest }, { tool: this.#d.tool });
  }

  async scan(name: string, opts: { severities?: Severity[] } = {}): Promise<ScanReport> {
    const db = this.#vulnDb();
    if (db.info().advisories === 0) {
      throw new FailedPreconditionError(
        'the vulnerability database is empty: import one with "berth scan db import DIR|ZIP"',
      );
    }
    const { sbom, digest } = await this.sbomOf(name);
    const report = scanSbom(db, sbom, { image: { name, digest }, maxAgeDays: this.#d.dbMaxAgeDays ?? 7 });
    return opts.severities && opts.severities.length > 0 ? filterBySeverity(report, opts.severities) : report;
  }

  dbInfo(): ScanDbInfo {
    return scanDbInfo(this.#vulnDb().info());
  }

  /** Imports OSV records from a ZIP file (already on disk) or a tar stream of `*.json` files. */
  async importDb(
    source: { zip: string } | { tar: AsyncIterable<Uint8Array> },
    signal?: AbortSignal,
  ): Promise<ScanDbImportResponse> {
    const files = 'zip' in source ? filesFromZip(source.zip) : filesFromTar(source.tar, signal);
    const res = await this.#vulnDb().import(files);
    return { ...this.dbInfo(), imported: res.imported, skipped: res.skipped, errors: res.errors };
  }

  #ref(name: string): Reference {
    return withDefaultTag(parseReference(name));
  }

  async #subject(repo: RemoteRepository, ref: Reference): Promise<Descriptor> {
    const d = await describe(repo, ref.digest ?? ref.tag!);
    if (!d) throw new NotFoundError(`manifest for ${referenceString(ref)} not found in the registry`);
    return d;
  }

  /** Everything the registry (and the lookaside store) has about an image: signatures and referrers. */
  async signatures(
    name: string,
    opts: { auth?: RegistryAuth | undefined; signal?: AbortSignal },
  ): Promise<SignaturesResponse> {
    const ref = this.#ref(name);
    return withRepository(this.#d.registry, ref, opts, async (repo) => {
      const subject = await this.#subject(repo, ref);
      const source = signatureSource(this.#d, ref, subject.digest, { repo, signal: opts.signal });
      const sig = await source.sigstore();
      const gpg = await source.gpg();
      const refs = await repo.referrers(subject.digest);
      return {
        reference: referenceString(ref),
        descriptor: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        sigstore: sig.signatures.map((s) => ({
          payload: s.payload.toString('base64'),
          signature: s.signature,
          where: s.where,
        })),
        malformed: sig.malformed,
        gpg: gpg.map((g) => ({ signature: g.bytes.toString('base64'), where: g.where })),
        referrers: refs.descriptors.map((d) => ({
          digest: d.digest,
          mediaType: d.mediaType,
          size: d.size,
          ...(d.artifactType ? { artifactType: d.artifactType } : {}),
          ...(d.annotations ? { annotations: d.annotations } : {}),
        })),
        referrersApi: refs.api,
      };
    });
  }

  /** Stores a signature the client made over `req.digest`, which must be what `name` names in the registry. */
  async addSignature(
    name: string,
    req: AddSignatureRequest,
    opts: { auth?: RegistryAuth | undefined; signal?: AbortSignal },
  ): Promise<string[]> {
    const ref = this.#ref(name);
    if (req.kind === 'gpg') {
      const base = lookasideBase(this.#d.registriesD, ref, true);
      if (!base) {
        throw new FailedPreconditionError(
          `no lookaside store is configured for ${referenceString(ref)} in registries.d (set lookaside-staging or lookaside for it)`,
        );
      }
      if (!/^sha256:[a-f0-9]{64}$/.test(req.digest))
        throw new InvalidArgumentError(`invalid manifest digest "${req.digest}"`);
      return [await writeLookaside(base, ref, req.digest, Buffer.from(req.signature, 'base64'))];
    }
    return withRepository(this.#d.registry, ref, opts, async (repo) => {
      if (ref.digest !== undefined && ref.digest !== req.digest) {
        throw new InvalidArgumentError(`the signature is for ${req.digest}, but the reference names ${ref.digest}`);
      }
      const subject = await this.#subject(repo, { ...ref, digest: req.digest });
      return writeSigstoreSignature(repo, subject, {
        payload: Buffer.from(req.payload, 'base64'),
        signature: req.signature,
        ...(req.annotations ? { annotations: req.annotations } : {}),
      });
    });
  }

  /** Attaches an artifact to the image's manifest in its registry. */
  async attach(
    name: string,
    req: AttachRequest,
    opts: { auth?: RegistryAuth | undefined; signal?: AbortSignal },
  ): Promise<{ digest: string; subject: string }> {
    const ref = this.#ref(name);
    return withRepository(this.#d.registry, ref, opts, async (repo) => {
      const subject = await this.#subject(repo, ref);
      const digest = await attachArtifact(repo, subject, {
        artifactType: req.artifactType,
        mediaType: req.mediaType,
        bytes: Buffer.from(req.data, 'base64'),
        ...(req.annotations ? { annotations: req.annotations } : {}),
      });
      return { digest, subject: subject.digest };
    });
  }
}
