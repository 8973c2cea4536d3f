/**
 * Keys, signing, verification and inspection. Private keys never leave this process: the CLI reads the key,
 * builds the payload over the digest berthd reports for the image in its registry, signs it (ECDSA here, GPG through
 * the machine's gpg) and hands berthd only the signature to store. Verification also runs here, with the keys the
 * user names, over the signatures berthd reads from the registry.
 */
import { readFile } from 'node:fs/promises';
import { imageAddSignature, imageSignatures } from '../../client/index.ts';
import type { SignaturesResponse } from '../../engine-api/trust.ts';
import { parseReference, withDefaultTag } from '../../oci/reference.ts';
import { ExitStatusError } from '../errors.ts';
import type { Context } from '../command.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { InvalidArgumentError, errorMessage } from '../../util/errors.ts';
import { registryAuthFor } from '../image/registry.ts';
import { readSecret } from '../system/login.ts';

const trust = () => import('../../trust/index.ts');

/** The key password: BERTH_TRUST_PASSWORD, else asked on the terminal (twice when making a key). */
async function password(ctx: Context, confirm: boolean): Promise<string> {
  const env = process.env.BERTH_TRUST_PASSWORD;
  if (env !== undefined) return env;
  const first = await readSecret(ctx.streams.in, ctx.streams.err, 'Enter password for private key: ');
  if (!confirm) return first;
  const again = await readSecret(ctx.streams.in, ctx.streams.err, 'Enter password for private key again: ');
  if (first !== again) throw new InvalidArgumentError('the passwords do not match');
  return first;
}

async function writeKeyPair(ctx: Context, prefix: string, key: import('node:crypto').KeyObject): Promise<void> {
  const t = await trust();
  const pem = await t.encryptPrivateKey(key, await password(ctx, true));
  for (const f of [`${prefix}.key`, `${prefix}.pub`]) {
    if (
      await readFile(f).then(
        () => true,
        () => false,
      )
    )
      throw new InvalidArgumentError(`${f} already exists: remove it or choose another --output-key-prefix`);
  }
  const files = [
    [`${prefix}.key`, pem, 0o600],
    [`${prefix}.pub`, t.publicKeyPem(key), 0o644],
  ] as const;
  for (const [f, data, mode] of files)
    await writeFileAtomic(f, data, { tmp: `${f}.tmp-${process.pid}`, mode, exclusive: true });
  ctx.streams.err.write(`Private key written to ${prefix}.key\nPublic key written to ${prefix}.pub\n`);
}

export async function generateKey(ctx: Context, opts: { prefix: string }): Promise<void> {
  await writeKeyPair(ctx, opts.prefix, (await trust()).generatePrivateKey());
}

export async function importKey(ctx: Context, file: string, opts: { prefix: string }): Promise<void> {
  const t = await trust();
  const pem = await readFile(file, 'utf8');
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem);
  const key = t.importPrivateKey(pem, encrypted ? await password(ctx, false) : undefined);
  await writeKeyPair(ctx, opts.prefix, key);
}

function annotationsOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`invalid annotation "${a}": use key=value`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

export async function sign(
  ctx: Context,
  image: string,
  opts: { key: string; gpgKey: string; annotations: string[] },
): Promise<void> {
  if (!opts.key === !opts.gpgKey) throw new InvalidArgumentError('give exactly one of --key and --gpg-key');
  const t = await trust();
  const ref = parseReference(image);
  const registryAuth = await registryAuthFor(ref.domain);
  const client = ctx.client();
  const found = await imageSignatures(client, image, { registryAuth, signal: ctx.signal });
  const digest = found.descriptor.digest;
  const repo = `${ref.domain}/${ref.path}`;
  if (opts.key) {
    const key = await t.decryptPrivateKey(await readFile(opts.key, 'utf8'), await password(ctx, false));
    const annotations = annotationsOf(opts.annotations);
    // As cosign does, the signed identity is the repository: policies match it with signedIdentity matchRepository.
    const payload = t.buildPayload({ dockerReference: repo, manifestDigest: digest, optional: annotations });
    const signature = t.signPayload(key, payload);
    const res = await imageAddSignature(
      client,
      image,
      { kind: 'sigstore', digest, payload: payload.toString('base64'), signature },
      { registryAuth, signal: ctx.signal },
    );
    ctx.streams.out.write(`Signed ${repo}@${digest} (stored as ${res.stored.join(', ')})\n`);
    return;
  }
  // GPG simple signing, as skopeo --sign-by: the identity is the reference as given (with its tag).
  const identity = ref.digest !== undefined ? `${repo}@${ref.digest}` : `${repo}:${withDefaultTag(ref).tag}`;
  const payload = t.buildPayload({
    dockerReference: identity,
    manifestDigest: digest,
    type: t.ATOMIC_SIGNATURE_TYPE,
    optional: { creator: `berth ${ctx.version}`, timestamp: Math.floor(Date.now() / 1000) },
  });
  const signature = await t.gpgSign(payload, opts.gpgKey);
  const res = await imageAddSignature(
    client,
    image,
    { kind: 'gpg', digest, signature: signature.toString('base64') },
    { registryAuth, signal: ctx.signal },
  );
  ctx.streams.out.write(
    `Signed ${identity}@${digest} with GPG key ${opts.gpgKey} (stored at ${res.stored.join(', ')})\n`,
  );
}

interface VerifiedEntry {
  where: string;
  kind: 'sigstore' | 'gpg';
  verified: boolean;
  signer?: string;
  identity?: string;
  digest?: string;
  annotations?: Record<string, unknown> | null;
  reason?: string;
}

export async function verify(
  ctx: Context,
  image: string,
  opts: { key: string; gpgKeyFile: string; format: string },
): Promise<void> {
  if (!opts.key && !opts.gpgKeyFile)
    throw new InvalidArgumentError('give --key (a cosign public key) or --gpg-key-file');
  const t = await trust();
  const ref = parseReference(image);
  const found = await imageSignatures(ctx.client(), image, {
    registryAuth: await registryAuthFor(ref.domain),
    signal: ctx.signal,
  });
  const digest = found.descriptor.digest;
  const entries: VerifiedEntry[] = [];
  if (opts.key) {
    const pub = t.parsePublicKey(await readFile(opts.key, 'utf8'), opts.key);
    for (const s of found.sigstore) {
      const payload = Buffer.from(s.payload, 'base64');
      const e: VerifiedEntry = { where: s.where, kind: 'sigstore', verified: false };
      try {
        if (!t.verifyPayload(pub, payload, s.signature)) throw new Error(`not signed by ${opts.key}`);
        const p = t.parsePayload(payload, t.COSIGN_SIGNATURE_TYPE);
        Object.assign(e, { identity: p.dockerReference, digest: p.manifestDigest, annotations: p.optional });
        if (p.manifestDigest !== digest) throw new Error(`it signs ${p.manifestDigest}, not ${digest}`);
        Object.assign(e, { verified: true, signer: opts.key });
      } catch (err) {
        e.reason = errorMessage(err);
      }
      entries.push(e);
    }
    for (const m of found.malformed) entries.push({ where: m, kind: 'sigstore', verified: false, reason: 'malformed' });
  }
  if (opts.gpgKeyFile) {
    const keyBytes = await readFile(opts.gpgKeyFile);
    for (const g of found.gpg) {
      const e: VerifiedEntry = { where: g.where, kind: 'gpg', verified: false };
      try {
        const v = await t.gpgVerify([keyBytes], Buffer.from(g.signature, 'base64'));
        const p = t.parsePayload(v.payload, t.ATOMIC_SIGNATURE_TYPE);
        Object.assign(e, {
          identity: p.dockerReference,
          digest: p.manifestDigest,
          annotations: p.optional,
          signer: v.fingerprint,
        });
        if (p.manifestDigest !== digest) throw new Error(`it signs ${p.manifestDigest}, not ${digest}`);
        e.verified = true;
      } catch (err) {
        e.reason = errorMessage(err);
      }
      entries.push(e);
    }
  }
  const ok = entries.filter((e) => e.verified).length;
  if (opts.format === 'json') {
    ctx.streams.out.write(`${JSON.stringify({ reference: found.reference, digest, signatures: entries }, null, 2)}\n`);
  } else {
    for (const e of entries) {
      if (e.verified) {
        const ann =
          e.annotations && Object.keys(e.annotations).length > 0 ? ` annotations ${JSON.stringify(e.annotations)}` : '';
        ctx.streams.out.write(`Verified: ${e.identity}@${e.digest} signed by ${e.signer} (${e.where})${ann}\n`);
      } else {
        ctx.streams.out.write(`Not verified: ${e.where}: ${e.reason}\n`);
      }
    }
  }
  if (ok === 0) throw new ExitStatusError(`no valid signature of ${found.reference} (${digest}) was found`, 1);
}

function describe(
  found: SignaturesResponse,
  parsePayload: (b: Buffer) => { dockerReference: string; manifestDigest: string; optional: unknown },
): string {
  const lines = [
    `Image:     ${found.reference}`,
    `Digest:    ${found.descriptor.digest}`,
    `Referrers: ${found.referrersApi ? 'referrers API' : 'tag schema fallback'}`,
    '',
  ];
  lines.push(`Signatures (sigstore): ${found.sigstore.length}`);
  for (const s of found.sigstore) {
    try {
      const p = parsePayload(Buffer.from(s.payload, 'base64'));
      lines.push(
        `  ${s.where}: ${p.dockerReference}@${p.manifestDigest}${p.optional ? ` ${JSON.stringify(p.optional)}` : ''}`,
      );
    } catch (err) {
      lines.push(`  ${s.where}: unreadable payload (${errorMessage(err)})`);
    }
  }
  for (const m of found.malformed) lines.push(`  malformed: ${m}`);
  lines.push(`Signatures (GPG, lookaside): ${found.gpg.length}`);
  for (const g of found.gpg) lines.push(`  ${g.where}`);
  lines.push(`Referrers: ${found.referrers.length}`);
  for (const r of found.referrers) lines.push(`  ${r.artifactType ?? r.mediaType}  ${r.digest}  ${r.size} bytes`);
  return `${lines.join('\n')}\n`;
}

export async function inspect(ctx: Context, image: string, opts: { format: string }): Promise<void> {
  const t = await trust();
  const ref = parseReference(image);
  const found = await imageSignatures(ctx.client(), image, {
    registryAuth: await registryAuthFor(ref.domain),
    signal: ctx.signal,
  });
  if (opts.format === 'json') ctx.streams.out.write(`${JSON.stringify(found, null, 2)}\n`);
  else ctx.streams.out.write(describe(found, (b) => t.parsePayload(b)));
}
