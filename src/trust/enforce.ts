/**
 * berthd's signature policy at work: `checkPull` runs inside a pull on the manifest the reference names, before
 * anything of the image is downloaded; `checkRun` runs before a container is created from a local image, with
 * the image's manifest digest (or the index digest it was pulled by) and its signatures read from its registry.
 * A refusal is a ForbiddenError that names the image, the policy section and the reason; when the policy cannot
 * refuse anything (accept-anything requirements only), neither check costs more than a lookup.
 */
import type { RegistryAuth, RemoteRepository } from '../distribution/index.ts';
import type { ImageService } from '../images/index.ts';
import {
  familiarString,
  fullName,
  parseReference,
  type Reference,
  referenceString,
  withDefaultTag,
} from '../oci/reference.ts';
import { ForbiddenError, isBerthError } from '../util/errors.ts';
import { evaluatePolicy, type GpgVerifier } from './evaluate.ts';
import { gpgVerify } from './gpg.ts';
import { type Policy, type Requirement, requirementsFor } from './policy.ts';
import { type SignatureStores, signatureSource } from './sources.ts';

export interface EnforcerDeps extends SignatureStores {
  policy: Policy;
  images: ImageService;
  gpg?: GpgVerifier;
}

function onlyAccepts(reqs: Requirement[]): boolean {
  return reqs.every((r) => r.type === 'insecureAcceptAnything');
}

export class PolicyEnforcer {
  readonly #d: EnforcerDeps;

  constructor(deps: EnforcerDeps) {
    this.#d = deps;
  }

  async #check(
    ref: Reference,
    digest: string,
    what: string,
    auth: RegistryAuth | undefined,
    signal: AbortSignal | undefined,
    repo?: RemoteRepository,
  ): Promise<void> {
    const { requirements } = requirementsFor(this.#d.policy, ref);
    if (onlyAccepts(requirements)) return;
    const image = { reference: ref, manifestDigest: digest };
    const gpg = this.#d.gpg ?? gpgVerify;
    // The `.sig` tag first (a manifest and its payloads); the referrers as well only when that is not enough.
    const source = (tagOnly: boolean) => signatureSource(this.#d, ref, digest, { repo, auth, signal, tagOnly });
    let d = await evaluatePolicy(this.#d.policy, image, source(true), gpg);
    if (!d.allowed && requirements.some((r) => r.type === 'sigstoreSigned')) {
      d = await evaluatePolicy(this.#d.policy, image, source(false), gpg);
    }
    if (!d.allowed) {
      throw new ForbiddenError(
        `${what} ${familiarString(ref)} is refused by the signature policy (${d.scope}): ${d.reason}`,
      );
    }
  }

  /** The pull hook: the manifest a reference names in the registry, before anything of it is stored. */
  checkPull(
    ref: Reference,
    manifest: { digest: string },
    repo: RemoteRepository | undefined,
    auth: RegistryAuth | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return this.#check(ref, manifest.digest, 'pulling', auth, signal, repo);
  }

  /**
   * Before a container is created from `name`: the local image's reference (its first tag when named by ID) and
   * digest (the digest it was pulled by from that repository, else its manifest's).
   */
  async checkRun(name: string, auth?: RegistryAuth, signal?: AbortSignal): Promise<void> {
    if (onlyAccepts(this.#d.policy.default) && Object.keys(this.#d.policy.transports).length === 0) return;
    let rec: ReturnType<ImageService['resolve']>;
    try {
      rec = this.#d.images.resolve(name);
    } catch (err) {
      if (isBerthError(err) && err.code === 'NOT_FOUND') return; // create reports the missing image itself
      throw err;
    }
    let ref: Reference | undefined;
    try {
      ref = withDefaultTag(parseReference(name));
    } catch {}
    if (!ref || (ref.digest === undefined && this.#d.images.records.tag(referenceString(ref)) === undefined)) {
      const tag = this.#d.images.records.tagsOf(rec.manifestDigest)[0];
      ref = tag ? parseReference(tag) : undefined;
    }
    if (!ref) {
      // An image without a name falls under the policy's default.
      if (onlyAccepts(this.#d.policy.default)) return;
      throw new ForbiddenError(
        `running ${name} is refused by the signature policy (default): the image has no name to check signatures for`,
      );
    }
    const repo = fullName(ref);
    const pulledBy = this.#d.images.records
      .repoDigestsOf(rec.manifestDigest)
      .find((rd) => rd.startsWith(`${repo}@`))
      ?.slice(repo.length + 1);
    await this.#check(ref, ref.digest ?? pulledBy ?? rec.manifestDigest, 'running', auth, signal);
  }
}
