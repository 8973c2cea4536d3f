/**
 * Docker image references, with the grammar and normalisation of distribution/reference
 * (regexp.go, reference.go, normalize.go):
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] remote-name
 *   domain           := host [':' port-number]
 *   host             := domain-name | IPv4address | \[ IPv6address \]
 *   domain-name      := domain-component ['.' domain-component]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex (at least 32 hex digits; sha256/384/512 checked for length)
 *
 * A parsed Reference is always normalised: `busybox` is domain `docker.io`, path `library/busybox`.
 */
import { InvalidArgumentError } from '../util/errors.ts';

export interface Reference {
  /** Registry host, with port if any: 'docker.io', 'localhost:5000', '[::1]:5000'. */
  domain: string;
  /** Repository path inside the registry: 'library/busybox', 'user/app'. */
  path: string;
  tag?: string;
  /** 'sha256:<64 hex>' */
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
/** Maximum length of the path part of a name (RepositoryNameTotalLengthMax). */
export const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar, spelled as in regexp.go. JS and Go (RE2) agree on these patterns: leftmost-first matching,
// ASCII \w, no backreferences.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const referenceRegexp = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;
const shortIdRegexp = /^[a-f0-9]{4,64}$/;

/** Hex lengths of the digest algorithms Docker accepts (go-digest's registered algorithms). */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const ERR_INVALID_FORMAT = 'invalid reference format';

/**
 * Parses a reference as the docker CLI does (ParseNormalizedNamed): a familiar name such as `busybox` or
 * `user/app:1` becomes `docker.io/library/busybox`, `docker.io/user/app:1`. No tag is added.
 * @throws InvalidArgumentError with docker's messages for malformed input.
 */
export function parseReference(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidArgumentError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  // Berth is stricter than docker here: docker takes a first component with capitals and no '.' or ':' (as in
  // `UPPER/case`) for a registry host named "UPPER", which then fails far from the typo with a network error.
  // Host names are case-insensitive and a registry host without a dot or port is only ever `localhost`, so such
  // a name is far more likely a mistyped repository: refuse it here, with the message docker gives for capitals.
  const slash = s.indexOf('/');
  const first = slash > 0 ? s.slice(0, slash) : '';
  if (first !== '' && !/[.:]/.test(first) && first.toLowerCase() !== first) {
    const end = s.search(/[:@]/);
    throw new InvalidArgumentError(
      `invalid reference format: repository name (${end < 0 ? s : s.slice(0, end)}) must be lowercase`,
    );
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidArgumentError(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseCanonical(`${domain}/${remainder}`);
}

/** Parses an already fully qualified reference (distribution's Parse), requiring a domain-qualified name. */
function parseCanonical(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (m === null) {
    const lower = s.toLowerCase();
    if (lower !== s && referenceRegexp.test(lower)) {
      throw new InvalidArgumentError('repository name must be lowercase');
    }
    throw new InvalidArgumentError(ERR_INVALID_FORMAT);
  }
  const name = m[1] ?? '';
  const nameMatch = anchoredNameRegexp.exec(name);
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch?.[2] ?? name;
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidArgumentError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const ref: Reference = { domain, path };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    validateDigest(m[3]);
    ref.digest = m[3];
  }
  return ref;
}

/** go-digest's Validate for the algorithms Docker registers. */
function validateDigest(d: string): void {
  const i = d.indexOf(':');
  const algorithm = d.slice(0, i);
  const encoded = d.slice(i + 1);
  const size = DIGEST_HEX_LENGTH[algorithm];
  if (size === undefined) throw new InvalidArgumentError('unsupported digest algorithm');
  if (encoded.length !== size) throw new InvalidArgumentError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw new InvalidArgumentError('invalid checksum digest format');
}

/** Splits a familiar name into domain and remainder (remote name plus any tag/digest), as normalize.go. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === 'localhost') {
    [domain, remote] = [maybeDomain, maybeRemote];
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    [domain, remote] = [DEFAULT_DOMAIN, maybeRemote];
  } else if (/[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    // Contains "." or ":" (a host name, IP or port), or is uppercase, which no namespace may be.
    [domain, remote] = [maybeDomain, maybeRemote];
  } else {
    [domain, remote] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_REPO_PREFIX + remote;
  return [domain, remote];
}

/** TagNameOnly: adds the tag 'latest' when the reference has neither tag nor digest. */
export function withDefaultTag(r: Reference): Reference {
  if (r.tag !== undefined || r.digest !== undefined) return r;
  return { ...r, tag: DEFAULT_TAG };
}

/** The name as docker shows it: 'busybox', 'user/app', 'myreg:5000/a/b' ('docker.io/' and 'library/' dropped). */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return fullName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** familiarName plus ':tag' and '@digest' when present: 'busybox:latest'. */
export function familiarString(r: Reference): string {
  return familiarName(r) + suffix(r);
}

/** The normalised name: 'docker.io/library/busybox'. */
export function fullName(r: Reference): string {
  return r.domain === '' ? r.path : `${r.domain}/${r.path}`;
}

/** The normalised reference: 'docker.io/library/busybox:latest@sha256:…'. */
export function referenceString(r: Reference): string {
  return fullName(r) + suffix(r);
}

function suffix(r: Reference): string {
  return (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/**
 * Whether `s` may name an image by ID: a full or truncated hex ID of at least 4 digits, with or without the
 * 'sha256:' prefix (moby's `^([a-f0-9]{4,64})$` short-ID rule). Such a string may also be a valid name
 * ('cafe'); callers try the name first and the ID prefix second, as dockerd does. A bare 64-digit hex string is
 * always an ID (parseReference rejects it as a name).
 */
export function isIdPrefix(s: string): boolean {
  const hex = s.startsWith('sha256:') ? s.slice('sha256:'.length) : s;
  return shortIdRegexp.test(hex);
}
