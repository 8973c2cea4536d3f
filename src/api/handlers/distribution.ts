import type { RegistryAuth } from '../../distribution/index.ts';
import type { DistributionInspect, SearchResult } from '../../engine-api/images.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { filtersParam, intParam, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';
import { registryAuthHeader } from './images.ts';

/** The registry look-ups that need no image store: a manifest's descriptor and platforms, a catalog search. */
export interface RegistryLookups {
  distribution(
    name: string,
    opts: { auth?: RegistryAuth | undefined; signal: AbortSignal },
  ): Promise<DistributionInspect>;
  search(
    term: string,
    limit: number,
    opts: { auth?: RegistryAuth | undefined; signal: AbortSignal },
  ): Promise<SearchResult[]>;
}

/** Search filters (moby `registry/search.go`): a minimum star count, official and automated images. */
const SEARCH_FILTERS = ['stars', 'is-official', 'is-automated'];

/** `GET /distribution/{name}/json` and `GET /images/search`. */
export function distributionRoutes(router: Router, d: RegistryLookups): void {
  router
    .add('GET', '/distribution/{name*}/json', async (req, res) => {
      const auth = registryAuthHeader(req.raw.headers['x-registry-auth']);
      sendJSON(res, 200, await d.distribution(req.params.name!, { auth, signal: req.signal }));
    })
    .add('GET', '/images/search', async (req, res) => {
      const term = req.query.get('term') ?? '';
      if (term === '') throw new InvalidArgumentError('a search term is required');
      const limit = intParam(req.query, 'limit') ?? 25;
      const f = filtersParam(req.query, SEARCH_FILTERS);
      const auth = registryAuthHeader(req.raw.headers['x-registry-auth']);
      let found = await d.search(term, limit, { auth, signal: req.signal });
      const stars = f.get('stars')?.map(Number);
      if (stars?.some((n) => !Number.isInteger(n)))
        throw new InvalidArgumentError(`invalid filter 'stars=${f.get('stars')?.join(',')}'`);
      if (stars?.length) found = found.filter((r) => r.star_count >= Math.max(...stars));
      for (const [key, field] of [
        ['is-official', 'is_official'],
        ['is-automated', 'is_automated'],
      ] as const) {
        const v = f.get(key)?.[0];
        if (v === undefined) continue;
        if (v !== 'true' && v !== 'false') throw new InvalidArgumentError(`invalid filter '${key}=${v}'`);
        found = found.filter((r) => r[field] === (v === 'true'));
      }
      sendJSON(res, 200, found);
    });
}
