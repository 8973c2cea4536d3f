import { errorMessage } from '../../util/errors.ts';
import { familiarName, parseReference } from '../../oci/index.ts';

/** A `RepoTags`/`RepoDigests` entry split for display: the familiar name (`busybox`, `foo/bar`), tag and digest. */
export interface DisplayReference {
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

/**
 * Splits a reference the engine lists as docker's image formatter does (`ParseNormalizedNamed`, then
 * `FamiliarName`); undefined for entries that are no reference, such as `<none>:<none>`.
 */
export function displayReference(ref: string): DisplayReference | undefined {
  try {
    const r = parseReference(ref);
    return { name: familiarName(r), tag: r.tag, digest: r.digest };
  } catch {
    return undefined;
  }
}

/**
 * Why `ref` is not a valid reference, in distribution/reference's words (`invalid reference format:
 * repository name (library/Bad) must be lowercase`), or undefined when it is one.
 */
export function referenceError(ref: string): string | undefined {
  try {
    parseReference(ref);
    return undefined;
  } catch (err) {
    // docker's client takes a first component with capitals (`UP/x`) for a registry host and leaves the verdict
    // to the engine; parseReference refuses it at once. Do as docker does, so the engine's message is shown.
    const slash = ref.indexOf('/');
    const first = slash > 0 ? ref.slice(0, slash) : '';
    if (first !== '' && !/[.:]/.test(first) && first !== first.toLowerCase()) {
      return referenceError(`${first.toLowerCase()}.host${ref.slice(slash)}`);
    }
    return errorMessage(err);
  }
}
