/**
 * What a registry says about an image without pulling it (`GET /distribution/{name}/json`), and a search of
 * registries' catalogs (`GET /images/search`): Docker Hub's search index is not reachable here, so Berth answers
 * from the `/v2/_catalog` of the registry the term names (or of Docker Hub's configured mirrors).
 */
import type { DistributionInspect, SearchResult } from '../../engine-api/images.ts';
import { isIndexType } from '../../oci/mediatypes.ts';
import { parseReference, withDefaultTag } from '../../oci/reference.ts';
import { CanceledError, InvalidArgumentError, UnavailableError } from '../../util/errors.ts';
import { RemoteRepository } from './artifacts.ts';
import { openSession } from './client.ts';
import { Transport, endpointsFor } from './transport.ts';
import type { RegistryAuth, RegistryConfig } from './types.ts';

interface Opts {
  auth?: RegistryAuth | undefined;
  signal?: AbortSignal | undefined;
}

/** The manifest's descriptor and the platforms it serves: an index's entries, or one manifest's config platform. */
export async function inspectDistribution(
  registry: RegistryConfig,
  name: string,
  opts: Opts = {},
): Promise<DistributionInspect> {
  const parsed = parseReference(name);
  const ref = parsed.digest ? parsed : withDefaultTag(parsed);
  const transport = new Transport(registry);
  try {
    const session = await openSession(transport, endpointsFor(registry, ref.domain, false), opts.auth, opts.signal);
    const m = await session.manifest(ref.path, ref.digest ?? ref.tag!, opts.signal);
    const Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    const doc = JSON.parse(m.bytes.toString('utf8')) as {
      manifests?: { platform?: DistributionInspect['Platforms'][number] }[];
      config?: { digest: string };
    };
    if (isIndexType(m.mediaType))
      return { Descriptor, Platforms: (doc.manifests ?? []).flatMap((e) => (e.platform ? [e.platform] : [])) };
    if (!doc.config) return { Descriptor, Platforms: [] };
    const config = await new RemoteRepository(session, ref.path, opts.signal).blob(doc.config.digest, 4 << 20);
    const cfg = JSON.parse(config.toString('utf8')) as Record<string, unknown>;
    const p: DistributionInspect['Platforms'][number] = {
      architecture: String(cfg.architecture ?? ''),
      os: String(cfg.os ?? ''),
    };
    if (typeof cfg['os.version'] === 'string') p['os.version'] = cfg['os.version'];
    if (typeof cfg.variant === 'string') p.variant = cfg.variant;
    return { Descriptor, Platforms: [p] };
  } finally {
    transport.close();
  }
}

/** `host[:port]/rest` when the term's first component names a registry, else Docker Hub and the whole term. */
export function splitSearchTerm(term: string): { registry: string; query: string } {
  const i = term.indexOf('/');
  const first = i < 0 ? '' : term.slice(0, i);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost'))
    return { registry: first, query: term.slice(i + 1) };
  return { registry: 'docker.io', query: term };
}

/**
 * Repositories whose name contains the query, from the catalogs of the registry's mirrors and then the registry
 * itself (the first that answers), at most `limit`. Names of another registry than Docker Hub carry its host, as
 * Docker's search results do.
 */
export async function searchRegistry(
  registry: RegistryConfig,
  term: string,
  limit: number,
  opts: Opts = {},
): Promise<SearchResult[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new InvalidArgumentError(`limit ${limit} is outside the range of [1, 100]`);
  const { registry: host, query } = splitSearchTerm(term);
  const transport = new Transport(registry);
  try {
    let lastErr: unknown;
    for (const ep of endpointsFor(registry, host, true)) {
      try {
        const session = await openSession(transport, [ep], opts.auth, opts.signal);
        const res = await session.request('/v2/_catalog?n=1000', {
          scopes: ['registry:catalog:*'],
          signal: opts.signal,
        });
        if (res.status !== 200) await session.fail(res, `catalog of ${host}`);
        const body = JSON.parse(await res.text(16 << 20)) as { repositories?: string[] };
        const names = (body.repositories ?? []).filter((r) => r.includes(query.toLowerCase()));
        return names.slice(0, limit).map((r) => ({
          description: '',
          is_official: host === 'docker.io' && r.startsWith('library/'),
          is_automated: false,
          name: host === 'docker.io' ? r.replace(/^library\//, '') : `${host}/${r}`,
          star_count: 0,
        }));
      } catch (err) {
        if (opts.signal?.aborted) throw new CanceledError('search canceled', { cause: err });
        lastErr = err;
      }
    }
    throw lastErr ?? new UnavailableError(`no endpoint for ${host}`);
  } finally {
    transport.close();
  }
}
