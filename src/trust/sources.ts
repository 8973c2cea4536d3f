/**
 * Where an image's signatures are read from, one way for every reader: sigstore signatures from its registry (the
 * `sha256-<hex>.sig` tag, and signature referrers unless `tagOnly`) and GPG simple signatures from the lookaside
 * store registries.d names for it. The policy enforcer (pull and run) and `berth trust inspect` read through here.
 */
import {
  type RegistryAuth,
  type RegistryConfig,
  type RemoteRepository,
  withRepository,
} from '../distribution/index.ts';
import type { Reference } from '../oci/reference.ts';
import type { GpgSignature, SignatureSource } from './evaluate.ts';
import { lookasideBase, readLookaside, type RegistriesD } from './lookaside.ts';
import { readSigstoreSignatures } from './registry.ts';

/** The configuration that says where signatures are: the registry client's, and registries.d's lookaside stores. */
export interface SignatureStores {
  registry: RegistryConfig;
  registriesD: RegistriesD;
}

export interface SignatureSourceOptions {
  /** A connection to the image's repository already open (a pull's own): used instead of opening one. */
  repo?: RemoteRepository | undefined;
  auth?: RegistryAuth | undefined;
  signal?: AbortSignal | undefined;
  /** Only the `.sig` tag (one manifest and its payloads: what cosign and skopeo write), no referrers. */
  tagOnly?: boolean;
}

/** The signatures of `digest` in repository `ref`, each read only when asked for. */
export function signatureSource(
  stores: SignatureStores,
  ref: Reference,
  digest: string,
  opts: SignatureSourceOptions = {},
): SignatureSource {
  const read = (r: RemoteRepository) => readSigstoreSignatures(r, digest, { tagOnly: opts.tagOnly === true });
  return {
    sigstore: () =>
      opts.repo
        ? read(opts.repo)
        : withRepository(stores.registry, ref, { auth: opts.auth, signal: opts.signal }, read),
    gpg: async () => {
      const base = lookasideBase(stores.registriesD, ref, false);
      if (!base) return [];
      const found = await readLookaside(base, ref, digest, opts.signal);
      return found.map((g): GpgSignature => ({ bytes: g.bytes, where: g.url }));
    },
  };
}
