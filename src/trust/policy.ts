/**
 * Signature policies in the containers-policy.json(5) format that podman, skopeo and CRI-O read:
 *
 * ```json
 * { "default": [{"type": "reject"}],
 *   "transports": { "docker": {
 *       "registry.example:5000/app": [{"type": "sigstoreSigned", "keyPath": "/etc/keys/app.pub",
 *                                      "signedIdentity": {"type": "matchRepository"}}],
 *       "registry.example:5000":     [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/keys/ops.gpg"}],
 *       "":                          [{"type": "insecureAcceptAnything"}] } } }
 * ```
 * Parsing is as strict as containers/image's: unknown fields, a missing `default`, an empty requirement list,
 * several or none of `keyPath`/`keyPaths`/`keyData` are errors, each naming where it is in the file. Key files
 * are read when the policy is loaded (so a policy naming a missing or malformed key is refused at daemon start,
 * not at the first pull); sigstore keys are parsed then, GPG keys are kept as bytes for gpg.
 */
import type { KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '../util/errors.ts';
import { fullName, parseReference, type Reference } from '../oci/reference.ts';
import { parsePublicKey } from './keys.ts';

export type IdentityMatch =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: Reference }
  | { type: 'exactRepository'; dockerRepository: Reference }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; gpgKeys: Buffer[]; keySources: string[]; signedIdentity: IdentityMatch }
  | { type: 'sigstoreSigned'; keys: KeyObject[]; keySources: string[]; signedIdentity: IdentityMatch }
  | { type: 'signedBaseLayer' };

export interface Policy {
  default: Requirement[];
  /** transport name → scope → requirements. */
  transports: Record<string, Record<string, Requirement[]>>;
}

/** The policy that accepts everything: berthd's default when no `signature-policy` is set. */
export const ACCEPT_ANYTHING: Policy = { default: [{ type: 'insecureAcceptAnything' }], transports: {} };

/** How the parser reads key files (node:fs's readFileSync in berthd). */
export type ReadKeyFile = (path: string) => Buffer;

class Ctx {
  readonly source: string;
  readonly readFile: ReadKeyFile;
  constructor(source: string, readFile: ReadKeyFile) {
    this.source = source;
    this.readFile = readFile;
  }
  fail(where: string, msg: string): never {
    throw new InvalidArgumentError(`invalid signature policy ${this.source}: ${where}: ${msg}`);
  }
}

function obj(ctx: Ctx, v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) ctx.fail(where, 'not a JSON object');
  return v as Record<string, unknown>;
}

function onlyKeys(ctx: Ctx, o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) ctx.fail(where, `unknown field "${k}"`);
}

function str(ctx: Ctx, v: unknown, where: string): string {
  if (typeof v !== 'string') ctx.fail(where, 'not a string');
  return v;
}

function base64(ctx: Ctx, v: unknown, where: string): Buffer {
  const s = str(ctx, v, where);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) ctx.fail(where, 'not base64');
  return Buffer.from(s, 'base64');
}

function readKey(ctx: Ctx, path: unknown, where: string): Buffer {
  const p = str(ctx, path, where);
  if (!p.startsWith('/')) ctx.fail(where, `key path "${p}" is not absolute`);
  try {
    return ctx.readFile(p);
  } catch (err) {
    return ctx.fail(where, `cannot read key file "${p}": ${(err as Error).message}`);
  }
}

/**
 * A fault in a key: named by its file, or, for inline key data, by its place in the policy (`WHERE.keyData`), which
 * is then the place of the error.
 */
function keyFault(ctx: Ctx, where: string, source: string, msg: string): never {
  return source.startsWith(`${where}.`) ? ctx.fail(source, msg) : ctx.fail(where, `${source}: ${msg}`);
}

/**
 * Whether bytes can be OpenPGP public key material, as gpg imports it: ASCII armor of a public key block, or binary
 * packets starting with a public key packet (tag 6, in the old or the new packet format). Only the shape is checked
 * here, so that a key file of something else stops berthd at start; gpg reads the keys when a signature is verified.
 */
function isOpenPgpKeys(b: Buffer): boolean {
  if (b.toString('latin1', 0, 200).trimStart().startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return true;
  const first = b[0];
  if (first === undefined || (first & 0x80) === 0) return false;
  const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
  return tag === 6;
}

/** The keys named by exactly one of `pathKey`, `pathsKey`, `dataKey` (and `datasKey`), with where each came from. */
function keySet(
  ctx: Ctx,
  o: Record<string, unknown>,
  where: string,
  fields: { path: string; paths: string; data: string; datas?: string },
): { bytes: Buffer[]; sources: string[] } {
  const present = [fields.path, fields.paths, fields.data, fields.datas].filter(
    (f): f is string => f !== undefined && o[f] !== undefined,
  );
  const names = [fields.path, fields.paths, fields.data, fields.datas].filter(Boolean).join(', ');
  if (present.length !== 1) ctx.fail(where, `exactly one of ${names} must be specified (${present.length} are)`);
  const f = present[0]!;
  const at = `${where}.${f}`;
  if (f === fields.path) return { bytes: [readKey(ctx, o[f], at)], sources: [str(ctx, o[f], at)] };
  if (f === fields.data) return { bytes: [base64(ctx, o[f], at)], sources: [`${at}`] };
  const list = o[f];
  if (!Array.isArray(list) || list.length === 0) ctx.fail(at, 'not a non-empty array');
  if (f === fields.paths) {
    return {
      bytes: list.map((p, i) => readKey(ctx, p, `${at}[${i}]`)),
      sources: list.map((p, i) => str(ctx, p, `${at}[${i}]`)),
    };
  }
  return { bytes: list.map((d, i) => base64(ctx, d, `${at}[${i}]`)), sources: list.map((_, i) => `${at}[${i}]`) };
}

function parseRef(ctx: Ctx, v: unknown, where: string): Reference {
  const s = str(ctx, v, where);
  try {
    return parseReference(s);
  } catch (err) {
    return ctx.fail(where, `invalid reference "${s}": ${(err as Error).message}`);
  }
}

/** A remapIdentity prefix: a host[:port], a repository or a namespace, with no tag or digest. */
function prefix(ctx: Ctx, v: unknown, where: string): string {
  const s = str(ctx, v, where);
  if (
    !/^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(
      s,
    )
  ) {
    ctx.fail(where, `prefix "${s}" is not valid`);
  }
  return s;
}

function identity(ctx: Ctx, v: unknown, where: string): IdentityMatch {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const o = obj(ctx, v, where);
  const type = str(ctx, o.type, `${where}.type`);
  switch (type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyKeys(ctx, o, ['type'], where);
      return { type };
    case 'exactReference': {
      onlyKeys(ctx, o, ['type', 'dockerReference'], where);
      const ref = parseRef(ctx, o.dockerReference, `${where}.dockerReference`);
      if (ref.tag === undefined && ref.digest === undefined) {
        ctx.fail(`${where}.dockerReference`, `"${o.dockerReference}" contains neither a tag nor a digest`);
      }
      return { type, dockerReference: ref };
    }
    case 'exactRepository': {
      onlyKeys(ctx, o, ['type', 'dockerRepository'], where);
      return { type, dockerRepository: parseRef(ctx, o.dockerRepository, `${where}.dockerRepository`) };
    }
    case 'remapIdentity':
      onlyKeys(ctx, o, ['type', 'prefix', 'signedPrefix'], where);
      return {
        type,
        prefix: prefix(ctx, o.prefix, `${where}.prefix`),
        signedPrefix: prefix(ctx, o.signedPrefix, `${where}.signedPrefix`),
      };
    default:
      return ctx.fail(`${where}.type`, `unknown signedIdentity type "${type}"`);
  }
}

function requirement(ctx: Ctx, v: unknown, where: string): Requirement {
  const o = obj(ctx, v, where);
  const type = str(ctx, o.type, `${where}.type`);
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyKeys(ctx, o, ['type'], where);
      return { type };
    case 'signedBaseLayer':
      onlyKeys(ctx, o, ['type', 'baseLayerIdentity'], where);
      if (o.baseLayerIdentity === undefined) ctx.fail(where, 'baseLayerIdentity not specified');
      identity(ctx, o.baseLayerIdentity, `${where}.baseLayerIdentity`);
      return { type };
    case 'signedBy': {
      onlyKeys(ctx, o, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], where);
      const keyType = str(ctx, o.keyType, `${where}.keyType`);
      if (keyType !== 'GPGKeys') {
        ctx.fail(`${where}.keyType`, `"${keyType}" is not supported (only "GPGKeys", as in containers/image)`);
      }
      const keys = keySet(ctx, o, where, { path: 'keyPath', paths: 'keyPaths', data: 'keyData' });
      keys.bytes.forEach((b, i) => {
        if (!isOpenPgpKeys(b)) {
          keyFault(
            ctx,
            where,
            keys.sources[i]!,
            'not OpenPGP public keys (an armored PGP PUBLIC KEY BLOCK or gpg --export output)',
          );
        }
      });
      return {
        type,
        keyType,
        gpgKeys: keys.bytes,
        keySources: keys.sources,
        signedIdentity: identity(ctx, o.signedIdentity, `${where}.signedIdentity`),
      };
    }
    case 'sigstoreSigned': {
      onlyKeys(
        ctx,
        o,
        [
          'type',
          'keyPath',
          'keyPaths',
          'keyData',
          'keyDatas',
          'fulcio',
          'rekorPublicKeyPath',
          'rekorPublicKeyPaths',
          'rekorPublicKeyData',
          'rekorPublicKeyDatas',
          'pki',
          'signedIdentity',
        ],
        where,
      );
      for (const f of [
        'fulcio',
        'pki',
        'rekorPublicKeyPath',
        'rekorPublicKeyPaths',
        'rekorPublicKeyData',
        'rekorPublicKeyDatas',
      ]) {
        if (o[f] !== undefined)
          ctx.fail(`${where}.${f}`, 'keyless (Fulcio, Rekor, PKI) verification is not supported; use public keys');
      }
      const keys = keySet(ctx, o, where, { path: 'keyPath', paths: 'keyPaths', data: 'keyData', datas: 'keyDatas' });
      const parsed = keys.bytes.map((b, i) => {
        try {
          return parsePublicKey(b, keys.sources[i]!);
        } catch (err) {
          const msg = (err as Error).message;
          const source = keys.sources[i]!;
          return keyFault(ctx, where, source, msg.startsWith(`${source}: `) ? msg.slice(source.length + 2) : msg);
        }
      });
      return {
        type,
        keys: parsed,
        keySources: keys.sources,
        signedIdentity: identity(ctx, o.signedIdentity, `${where}.signedIdentity`),
      };
    }
    default:
      return ctx.fail(`${where}.type`, `unknown policy requirement type "${type}"`);
  }
}

function requirements(ctx: Ctx, v: unknown, where: string): Requirement[] {
  if (!Array.isArray(v)) ctx.fail(where, 'not a JSON array of requirements');
  if (v.length === 0) ctx.fail(where, 'the list of requirements must not be empty');
  return v.map((r, i) => requirement(ctx, r, `${where}[${i}]`));
}

/**
 * Parses a policy file's text. `source` names it in errors (its path). Key files are read through `readFile`.
 * InvalidArgumentError `invalid signature policy SOURCE: WHERE: WHAT` for anything wrong.
 */
export function parsePolicy(text: string, source: string, readFile: ReadKeyFile): Policy {
  const ctx = new Ctx(source, readFile);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return ctx.fail('the file', `not JSON: ${(err as Error).message}`);
  }
  const top = obj(ctx, doc, 'the file');
  onlyKeys(ctx, top, ['default', 'transports'], 'the file');
  if (top.default === undefined) ctx.fail('default', 'the default policy is missing');
  const policy: Policy = { default: requirements(ctx, top.default, 'default'), transports: {} };
  if (top.transports !== undefined && top.transports !== null) {
    const transports = obj(ctx, top.transports, 'transports');
    for (const [name, scopes] of Object.entries(transports)) {
      const at = `transports.${name}`;
      const s = obj(ctx, scopes, at);
      const out: Record<string, Requirement[]> = {};
      for (const [scope, reqs] of Object.entries(s))
        out[scope] = requirements(ctx, reqs, `${at}[${JSON.stringify(scope)}]`);
      policy.transports[name] = out;
    }
  }
  return policy;
}

/**
 * The scopes a docker reference is looked up under, most specific first (containers/image's order): the
 * reference with its tag or digest, the repository, each parent namespace, the host, then `*.domain` wildcards
 * for the host's parent domains.
 */
export function dockerScopes(ref: Reference): string[] {
  const name = fullName(ref);
  const out: string[] = [];
  if (ref.digest !== undefined) out.push(`${name}@${ref.digest}`);
  else out.push(`${name}:${ref.tag ?? 'latest'}`);
  let n = name;
  for (;;) {
    out.push(n);
    const slash = n.lastIndexOf('/');
    if (slash < 0) break;
    n = n.slice(0, slash);
  }
  let host = n.replace(/:[0-9]+$/, '');
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}

/** The requirements that apply to a docker reference, and the scope they were found under ('default' if none). */
export function requirementsFor(policy: Policy, ref: Reference): { scope: string; requirements: Requirement[] } {
  const scopes = policy.transports.docker;
  if (scopes) {
    for (const s of dockerScopes(ref)) {
      const reqs = scopes[s];
      if (reqs) return { scope: `transports.docker[${JSON.stringify(s)}]`, requirements: reqs };
    }
    if (scopes['']) return { scope: 'transports.docker[""]', requirements: scopes[''] };
  }
  return { scope: 'default', requirements: policy.default };
}

/** Whether a list of requirements can be decided without looking at signatures. */
export function needsSignatures(reqs: Requirement[]): boolean {
  return reqs.some((r) => r.type === 'signedBy' || r.type === 'sigstoreSigned');
}
