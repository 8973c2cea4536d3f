import type { VolumeService, CreateVolumeOptions } from '../../volumes/index.ts';
import { boolParam, filtersParam, readJSONBody, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';

export function volumeRoutes(router: Router, volumes: VolumeService): void {
  router
    .add('GET', '/volumes', (req, res) =>
      sendJSON(res, 200, {
        Volumes: volumes.list(filtersParam(req.query, ['dangling', 'driver', 'label', 'name'])),
        Warnings: [],
      }),
    )
    .add('POST', '/volumes/create', async (req, res) =>
      sendJSON(res, 201, await volumes.create((await readJSONBody<CreateVolumeOptions>(req.raw)) ?? {})),
    )
    .add('POST', '/volumes/prune', async (req, res) => {
      const f = filtersParam(req.query, ['label', 'label!', 'all']);
      const labels = [...(f.get('label') ?? []), ...(f.get('label!') ?? []).map((l) => `!${l}`)];
      const all = (f.get('all') ?? []).some((v) => v === 'true' || v === '1');
      sendJSON(res, 200, await volumes.prune({ all, ...(labels.length ? { labels } : {}) }));
    })
    .add('GET', '/volumes/{name}', (req, res) => sendJSON(res, 200, volumes.inspect(req.params.name!)))
    .add('DELETE', '/volumes/{name}', async (req, res) => {
      await volumes.remove(req.params.name!, { force: boolParam(req.query, 'force') });
      res.writeHead(204);
      res.end();
    });
}
