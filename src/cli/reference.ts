/**
 * Just enough of docker's reference grammar (distribution/reference) for display: split a
 * `RepoTags`/`RepoDigests` entry and shorten `docker.io/library/x` to `x` (FamiliarName).
 */

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const NAME_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

export interface ParsedReference {
  /** The familiar name (`busybox`, `foo/bar`, `localhost:5000/x`). */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Parses `name[:tag][@digest]`; undefined when it is not a valid reference (e.g. `<none>:<none>`). */
export function parseReference(ref: string): ParsedReference | undefined {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return undefined;
  }
  if (rest.length > 255 || !NAME_RE.test(rest)) return undefined;
  return { name: familiarName(rest), tag, digest };
}

/** `docker.io/library/busybox` → `busybox`, `docker.io/foo/bar` → `foo/bar`. */
export function familiarName(name: string): string {
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/']) {
    if (name.startsWith(prefix) && !name.slice(prefix.length).includes('/')) return name.slice(prefix.length);
  }
  for (const prefix of ['docker.io/', 'index.docker.io/']) {
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  }
  return name;
}

/** docker's `stringid.TruncateID`: drop the algorithm, keep 12 characters. */
export function truncateID(id: string): string {
  const colon = id.indexOf(':');
  const hex = colon >= 0 ? id.slice(colon + 1) : id;
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

/** docker's `formatter.Ellipsis`: cut to `max` characters ending in `…`. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (max <= 0) return '';
  if (chars.length <= max) return s;
  if (max === 1) return chars[0] ?? '';
  return chars.slice(0, max - 1).join('') + '…';
}

/**
 * Why `ref` is not a valid reference, in distribution/reference's words, or undefined when it is
 * (`invalid reference format: repository name (library/Bad) must be lowercase`).
 */
export function referenceError(ref: string): string | undefined {
  if (parseReference(ref) !== undefined) return undefined;
  let name = ref;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  const lowered = ref.replace(name, name.toLowerCase());
  if (name !== name.toLowerCase() && parseReference(lowered) !== undefined) {
    const slash = name.indexOf('/');
    const first = slash < 0 ? '' : name.slice(0, slash);
    const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
    let remote = hasDomain ? name.slice(slash + 1) : name;
    if (!hasDomain && !remote.includes('/')) remote = `library/${remote}`;
    return `invalid reference format: repository name (${remote}) must be lowercase`;
  }
  return 'invalid reference format';
}
