/**
 * The "simple signing" payload that sigstore (cosign) and containers/image (GPG "atomic" signatures) sign:
 *
 * ```
 * {"critical":{"identity":{"docker-reference":REF},"image":{"docker-manifest-digest":DIGEST},"type":TYPE},
 *  "optional":OPTIONAL}
 * ```
 * `critical` holds exactly those three members (containers/image refuses any other), in that order as cosign's
 * Go struct writes them; annotations go in `optional` (a map, keys sorted; `null` when there are none, as cosign
 * writes). Parsing is as strict as containers/image's: exactly `critical` and `optional` at the top, exactly the
 * three members in `critical`, exactly one member in `identity` and `image`, and no duplicate keys anywhere.
 */
import { InvalidArgumentError } from '../util/errors.ts';
import { goJSON, sortedKeys } from './gojson.ts';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
export const ATOMIC_SIGNATURE_TYPE = 'atomic container signature';

export interface SimpleSigningPayload {
  dockerReference: string;
  manifestDigest: string;
  type: string;
  /** `optional`: annotations (cosign), creator and timestamp (containers/image); null when absent. */
  optional: Record<string, unknown> | null;
}

/** The payload bytes, as cosign's (type cosign) or containers/image's (type atomic) Go code marshals them. */
export function buildPayload(p: {
  dockerReference: string;
  manifestDigest: string;
  type?: string;
  optional?: Record<string, unknown> | null;
}): Buffer {
  if (!p.dockerReference || !p.manifestDigest)
    throw new InvalidArgumentError('a signature payload needs a reference and a digest');
  const doc = {
    critical: {
      identity: { 'docker-reference': p.dockerReference },
      image: { 'docker-manifest-digest': p.manifestDigest },
      type: p.type ?? COSIGN_SIGNATURE_TYPE,
    },
    optional: p.optional && Object.keys(p.optional).length > 0 ? sortedKeys(p.optional) : null,
  };
  return Buffer.from(goJSON(doc));
}

/** Throws when a JSON text has an object with a repeated key (JSON.parse would keep the last silently). */
function refuseDuplicateKeys(text: string): void {
  const stack: (Set<string> | null)[] = []; // null: an array
  const re = /"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^\s{}[\]:,"]+/g;
  let m: RegExpExecArray | null;
  let prev = '';
  while ((m = re.exec(text))) {
    const tok = m[0];
    if (tok === '{') stack.push(new Set());
    else if (tok === '[') stack.push(null);
    else if (tok === '}' || tok === ']') stack.pop();
    else if (tok.startsWith('"')) {
      const top = stack.at(-1);
      if (top && (prev === '{' || prev === ',')) {
        const key = JSON.parse(tok) as string;
        if (top.has(key)) throw new InvalidArgumentError(`signature payload: duplicate key "${key}"`);
        top.add(key);
      }
    }
    prev = tok;
  }
}

function exactObject(v: unknown, keys: string[], where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new InvalidArgumentError(`signature payload: ${where} is not a JSON object`);
  }
  const have = Object.keys(v);
  for (const k of have)
    if (!keys.includes(k)) throw new InvalidArgumentError(`signature payload: unexpected field "${k}" in ${where}`);
  for (const k of keys)
    if (!have.includes(k)) throw new InvalidArgumentError(`signature payload: missing field "${k}" in ${where}`);
  return v as Record<string, unknown>;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new InvalidArgumentError(`signature payload: ${where} is not a string`);
  return v;
}

/**
 * Parses a payload strictly. `expectType` (when given) must equal `critical.type`. The result is *untrusted*
 * until its signature was verified.
 */
export function parsePayload(bytes: Uint8Array, expectType?: string): SimpleSigningPayload {
  const text = Buffer.from(bytes).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('signature payload is not JSON');
  }
  refuseDuplicateKeys(text);
  const top = exactObject(doc, ['critical', 'optional'], 'the payload');
  const critical = exactObject(top.critical, ['identity', 'image', 'type'], 'critical');
  const type = str(critical.type, 'critical.type');
  if (expectType !== undefined && type !== expectType) {
    throw new InvalidArgumentError(
      `signature payload: unrecognized signature type "${type}" (expected "${expectType}")`,
    );
  }
  const image = exactObject(critical.image, ['docker-manifest-digest'], 'critical.image');
  const manifestDigest = str(image['docker-manifest-digest'], 'critical.image.docker-manifest-digest');
  if (!/^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$|^sha384:[a-f0-9]{96}$/.test(manifestDigest)) {
    throw new InvalidArgumentError(`signature payload: invalid docker-manifest-digest value "${manifestDigest}"`);
  }
  const identity = exactObject(critical.identity, ['docker-reference'], 'critical.identity');
  const dockerReference = str(identity['docker-reference'], 'critical.identity.docker-reference');
  const optional = top.optional;
  if (optional !== null && (typeof optional !== 'object' || Array.isArray(optional))) {
    throw new InvalidArgumentError('signature payload: optional is neither an object nor null');
  }
  if (optional && 'timestamp' in optional) {
    const ts = (optional as { timestamp: unknown }).timestamp;
    if (typeof ts !== 'number' || !Number.isInteger(ts)) {
      throw new InvalidArgumentError('signature payload: optional.timestamp is not an integer');
    }
  }
  return { dockerReference, manifestDigest, type, optional: optional as Record<string, unknown> | null };
}
