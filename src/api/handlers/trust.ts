/**
 * Berth additions for trust: an image's signatures and referrers in its registry, storing a signature the client
 * made, attaching an artifact, the image's SBOM and vulnerability scan, and the vulnerability database. The trust
 * service is loaded on its first request: its modules are no part of berthd's start.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AddSignatureRequest, AttachRequest } from '../../engine-api/trust.ts';
import type { SbomFormat, Severity, TrustService } from '../../trust/index.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { readJSONBody, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';
import { registryAuthHeader } from './images.ts';

/** The trust service, loaded (and its module with it) on first use. */
export type LoadTrust = () => Promise<TrustService>;

async function severityParams(q: URLSearchParams): Promise<Severity[]> {
  const { SEVERITIES } = await import('../../trust/index.ts');
  const raw = q.getAll('severity').flatMap((s) => s.split(','));
  const out: Severity[] = [];
  for (const s of raw.map((x) => x.trim().toUpperCase()).filter(Boolean)) {
    if (!(SEVERITIES as readonly string[]).includes(s)) {
      throw new InvalidArgumentError(`invalid severity "${s}" (one of ${SEVERITIES.join(', ')})`);
    }
    out.push(s as Severity);
  }
  return out;
}

export function trustRoutes(router: Router, load: LoadTrust): void {
  router
    .add('GET', '/images/{name*}/signatures', async (req, res) =>
      sendJSON(
        res,
        200,
        await (await load()).signatures(req.params.name!, {
          auth: registryAuthHeader(req.raw.headers['x-registry-auth']),
          signal: req.signal,
        }),
      ),
    )
    .add('POST', '/images/{name*}/signatures', async (req, res) => {
      const body = await readJSONBody<AddSignatureRequest>(req.raw, 1 << 20);
      if (
        !body ||
        (body.kind !== 'sigstore' && body.kind !== 'gpg') ||
        typeof body.digest !== 'string' ||
        typeof body.signature !== 'string'
      ) {
        throw new InvalidArgumentError('a signature needs kind ("sigstore" or "gpg"), digest and signature');
      }
      const stored = await (await load()).addSignature(req.params.name!, body, {
        auth: registryAuthHeader(req.raw.headers['x-registry-auth']),
        signal: req.signal,
      });
      sendJSON(res, 201, { stored });
    })
    .add('POST', '/images/{name*}/referrers', async (req, res) => {
      const body = await readJSONBody<AttachRequest>(req.raw, 64 << 20);
      if (
        !body ||
        typeof body.artifactType !== 'string' ||
        typeof body.mediaType !== 'string' ||
        typeof body.data !== 'string'
      ) {
        throw new InvalidArgumentError('an artifact needs artifactType, mediaType and data');
      }
      sendJSON(
        res,
        201,
        await (await load()).attach(req.params.name!, body, {
          auth: registryAuthHeader(req.raw.headers['x-registry-auth']),
          signal: req.signal,
        }),
      );
    })
    .add('GET', '/images/{name*}/sbom', async (req, res) => {
      const format = (req.query.get('format') ?? 'spdx-json') as SbomFormat;
      const { SBOM_FORMATS } = await import('../../trust/index.ts');
      if (!SBOM_FORMATS.includes(format))
        throw new InvalidArgumentError(`invalid SBOM format "${format}" (spdx-json or cyclonedx-json)`);
      sendJSON(res, 200, await (await load()).sbomDocument(req.params.name!, format));
    })
    .add('GET', '/images/{name*}/scan', async (req, res) => {
      const severities = await severityParams(req.query);
      sendJSON(res, 200, await (await load()).scan(req.params.name!, { severities }));
    })
    .add('GET', '/scan/db', async (_req, res) => sendJSON(res, 200, (await load()).dbInfo()))
    .add('POST', '/scan/db', async (req, res) => {
      const trust = await load();
      const type = String(req.raw.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim();
      if (type === 'application/zip') {
        const dir = await mkdtemp(join(tmpdir(), 'berth-osv-'));
        try {
          await pipeline(req.raw, createWriteStream(join(dir, 'db.zip')), { signal: req.signal });
          sendJSON(res, 200, await trust.importDb({ zip: join(dir, 'db.zip') }, req.signal));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      } else if (type === 'application/x-tar') {
        sendJSON(res, 200, await trust.importDb({ tar: req.raw }, req.signal));
      } else {
        throw new InvalidArgumentError(
          `the database must be sent as application/zip or application/x-tar, not "${type}"`,
        );
      }
    });
}
