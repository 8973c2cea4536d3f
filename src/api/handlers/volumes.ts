import type { VolumeCreateRequest, VolumeListResponse } from '../../engine-api/volumes.ts';
import { VOLUME_LIST_FILTERS, VOLUME_PRUNE_FILTERS, type VolumeService } from '../../volumes/index.ts';
import { boolParam, filtersParam, readJSONBody, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';
import { versionAtLeast } from '../version.ts';

export function volumeRoutes(router: Router, volumes: VolumeService): void {
  router
    .add('GET', '/volumes', (req, res) => {
      const body: VolumeListResponse = {
        Volumes: volumes.list(filtersParam(req.query, VOLUME_LIST_FILTERS)),
        Warnings: null,
      };
      sendJSON(res, 200, body);
    })
    .add('POST', '/volumes/create', async (req, res) =>
      sendJSON(res, 201, await volumes.create((await readJSONBody<VolumeCreateRequest>(req.raw)) ?? {})),
    )
    .add('POST', '/volumes/prune', async (req, res) => {
      const f = filtersParam(req.query, VOLUME_PRUNE_FILTERS);
      // Before API 1.42 prune removed every unused volume, named ones too; from 1.42 only anonymous ones unless all.
      if (!versionAtLeast(req.version, '1.42')) f.set('all', ['true']);
      sendJSON(res, 200, await volumes.prune(f));
    })
    .add('GET', '/volumes/{name}', (req, res) => sendJSON(res, 200, volumes.inspect(req.params.name!)))
    .add('DELETE', '/volumes/{name}', async (req, res) => {
      await volumes.remove(req.params.name!, { force: boolParam(req.query, 'force') });
      res.writeHead(204);
      res.end();
    });
}
