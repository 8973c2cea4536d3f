/** Package URLs (github.com/package-url/purl-spec): `pkg:type/namespace/name@version?qualifiers`. */

/** Percent-encodes a purl component as the spec says (what encodeURIComponent leaves, less `:` kept encoded). */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string,
  qualifiers: Record<string, string | undefined> = {},
): string {
  const ns = namespace ? `${namespace.split('/').map(enc).join('/')}/` : '';
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join('&');
  return `pkg:${type}/${ns}${enc(name)}@${enc(version)}${q ? `?${q}` : ''}`;
}

/** npm's purl: the scope is the namespace, `@` encoded. */
export function npmPurl(name: string, version: string): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return slash > 0
    ? purl('npm', name.slice(0, slash), name.slice(slash + 1), version)
    : purl('npm', undefined, name, version);
}

/** Go's purl: the module path's last element is the name, the rest the namespace. */
export function golangPurl(module: string, version: string): string {
  const i = module.lastIndexOf('/');
  return i > 0
    ? purl('golang', module.slice(0, i), module.slice(i + 1), version)
    : purl('golang', undefined, module, version);
}
