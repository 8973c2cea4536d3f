import { type Digest, isDigest } from '../util/digest.ts';
import { RegistryError } from './errors.ts';

/** The spec's repository name: lowercase components joined by `/`, at most 255 characters in all. */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

/** NAME_INVALID unless `name` is a valid repository name. */
export function checkName(name: string): string {
  if (!isRepositoryName(name)) {
    const why =
      name.length > MAX_NAME_LENGTH
        ? `longer than ${MAX_NAME_LENGTH} characters`
        : 'it must be lowercase components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"';
    throw new RegistryError('NAME_INVALID', `invalid repository name "${name}": ${why}`, { detail: { name } });
  }
  return name;
}

export function isTag(ref: string): boolean {
  return TAG_RE.test(ref);
}

/** A manifest reference: a digest, or a tag; anything else is MANIFEST_INVALID… or for tags, TAG_INVALID. */
export function parseReference(ref: string): { digest: Digest } | { tag: string } {
  if (ref.includes(':')) {
    if (!isDigest(ref))
      throw new RegistryError('DIGEST_INVALID', `invalid digest "${ref}"`, { detail: { digest: ref } });
    return { digest: ref };
  }
  if (!isTag(ref)) throw new RegistryError('MANIFEST_INVALID', `invalid tag "${ref}"`, { detail: { tag: ref } });
  return { tag: ref };
}

/** DIGEST_INVALID unless `value` is a sha256 or sha512 digest. */
export function checkDigest(value: string | null | undefined, what = 'digest'): Digest {
  if (value === null || value === undefined || !isDigest(value))
    throw new RegistryError('DIGEST_INVALID', `invalid ${what} "${value ?? ''}"`, { detail: { digest: value } });
  return value;
}
