import type {
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkDisconnectRequest,
} from '../../engine-api/networks.ts';
import type { NetworkService } from '../../network/index.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { boolParam, filtersParam, readJSONBody, sendEmpty, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';
import { versionAtLeast } from '../version.ts';

/** The filters `GET /networks` takes (moby `daemon/network/filter.go`). */
const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;
/** The filters `POST /networks/prune` takes. */
const PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

/** A network as the asked API version defines it: `EnableIPv4` came in 1.47. */
function forVersion<T extends { EnableIPv4?: boolean }>(n: T, version: string): T {
  if (versionAtLeast(version, '1.47')) return n;
  const { EnableIPv4: _, ...rest } = n;
  return rest as T;
}

/** The `/networks` endpoints: list, create, inspect, remove, prune, connect, disconnect — Docker's JSON. */
export function networkRoutes(router: Router, networks: NetworkService): void {
  router
    .add('GET', '/networks', (req, res) =>
      sendJSON(
        res,
        200,
        networks.list(filtersParam(req.query, LIST_FILTERS)).map((n) => forVersion(n, req.version)),
      ),
    )
    .add('POST', '/networks/create', async (req, res) => {
      const body = await readJSONBody<NetworkCreateRequest>(req.raw);
      if (body === undefined || typeof body !== 'object' || body === null)
        throw new InvalidArgumentError('invalid JSON: request body is empty');
      sendJSON(res, 201, await networks.create(body));
    })
    .add('POST', '/networks/prune', async (req, res) =>
      sendJSON(res, 200, await networks.prune(filtersParam(req.query, PRUNE_FILTERS))),
    )
    .add('GET', '/networks/{id}', (req, res) => {
      // `verbose` and `scope` only matter for swarm networks; they are checked and otherwise ignored.
      boolParam(req.query, 'verbose');
      sendJSON(res, 200, forVersion(networks.inspect(req.params.id!), req.version));
    })
    .add('DELETE', '/networks/{id}', async (req, res) => {
      await networks.remove(req.params.id!);
      sendEmpty(res, 204);
    })
    .add('POST', '/networks/{id}/connect', async (req, res) => {
      const body = await readJSONBody<NetworkConnectRequest>(req.raw);
      if (body === undefined || typeof body.Container !== 'string' || body.Container === '')
        throw new InvalidArgumentError('no container specified');
      await networks.connect(req.params.id!, body.Container, body.EndpointConfig ?? {}, { signal: req.signal });
      sendEmpty(res, 200);
    })
    .add('POST', '/networks/{id}/disconnect', async (req, res) => {
      const body = await readJSONBody<Partial<NetworkDisconnectRequest>>(req.raw);
      if (body === undefined || typeof body.Container !== 'string' || body.Container === '')
        throw new InvalidArgumentError('no container specified');
      await networks.disconnect(req.params.id!, body.Container, body.Force === true, { signal: req.signal });
      sendEmpty(res, 200);
    });
}
