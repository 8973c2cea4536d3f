import type { ServerResponse } from 'node:http';
import type {
  DiskUsage,
  DiskUsageBuildCache,
  DiskUsageContainer,
  DiskUsageVolume,
  SystemInfo,
  SystemVersion,
} from '../../engine-api/system.ts';
import type { ImageService } from '../../images/index.ts';
import type { EngineEvent, EventLog } from '../../util/events.ts';
import { EVENT_FILTERS, eventMatches } from '../events.ts';
import { InvalidArgumentError } from '../../util/errors.ts';
import { filtersParam, sendJSON, type Request } from '../http.ts';
import type { Router } from '../router.ts';
import { imageSummary } from './images.ts';
import { parseTimestamp } from '../../util/timestamp.ts';
import { versionAtLeast } from '../version.ts';

export interface SystemDeps {
  images: ImageService;
  events: EventLog;
  info(): Promise<SystemInfo>;
  version(): SystemVersion;
  /** Every container with its sizes (the list's items), for `system df`. */
  containers?: (version: string) => Promise<DiskUsageContainer[]>;
  /** Every volume with its size and reference count, for `system df`. */
  volumes?: () => Promise<DiskUsageVolume[]>;
  /** The build cache's records, for `system df`. */
  buildCache?: () => Promise<DiskUsageBuildCache[]>;
  /** Aborted when the daemon stops: long-lived streams (`/events`) end then, so the server can close. */
  shutdown?: AbortSignal;
}

/** The longest delay setTimeout takes (about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function ping(req: Request, res: ServerResponse): void {
  const headers = {
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Content-Type': 'text/plain; charset=utf-8',
  };
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'Content-Length': '0' });
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': '2' });
  res.end('OK');
}

async function events(d: SystemDeps, req: Request, res: ServerResponse): Promise<void> {
  const filters = filtersParam(req.query, EVENT_FILTERS);
  const now = Date.now() / 1000;
  const sinceRaw = req.query.get('since');
  const untilRaw = req.query.get('until');
  const since = sinceRaw ? parseTimestamp(sinceRaw) : undefined;
  const until = untilRaw ? parseTimestamp(untilRaw) : undefined;
  if (since !== undefined && until !== undefined && until < since)
    throw new InvalidArgumentError(`\`since\` time (${sinceRaw}) cannot be after \`until\` time (${untilRaw})`);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const write = (e: EngineEvent) => {
    if (until !== undefined && e.timeNano / 1e9 > until) return;
    if (eventMatches(e, filters)) res.write(`${JSON.stringify(e)}\n`);
  };
  const buffered: EngineEvent[] = [];
  let live = false;
  const unsubscribe = d.events.subscribe((e) => (live ? write(e) : buffered.push(e)));
  if (since !== undefined) for (const e of d.events.since(Math.floor(since * 1e9))) write(e);
  live = true;
  for (const e of buffered) write(e);
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    // `until` may be far ahead: wait in steps setTimeout can take.
    const arm = (ms: number) => {
      timer = setTimeout(
        () => (ms > MAX_TIMER_MS ? arm(ms - MAX_TIMER_MS) : done()),
        Math.min(Math.max(0, ms), MAX_TIMER_MS),
      );
    };
    if (until !== undefined) arm((until - now) * 1000);
    req.signal.addEventListener('abort', done, { once: true });
    if (d.shutdown?.aborted) done();
    else d.shutdown?.addEventListener('abort', done, { once: true });
  });
  unsubscribe();
  if (!res.writableEnded) res.end();
}

async function df(d: SystemDeps, req: Request, res: ServerResponse): Promise<void> {
  // `type` came in API 1.42: older clients get everything, as dockerd 20.10 gives it.
  const types = versionAtLeast(req.version, '1.42') ? req.query.getAll('type') : [];
  const want = (t: string) => types.length === 0 || types.includes(t);
  const body: DiskUsage = {};
  // The images count the containers made from them (dockerd's ACTIVE).
  const containers = want('image') || want('container') ? ((await d.containers?.(req.version)) ?? []) : [];
  if (want('image')) {
    const usage = await d.images.diskUsage();
    body.LayersSize = usage.layersSize;
    body.Images = usage.images.map(({ image, sharedSize }) => {
      const summary = imageSummary(d.images, image, req.version);
      return {
        ...summary,
        SharedSize: sharedSize,
        Containers: containers.filter((c) => c.ImageID === summary.Id).length,
      };
    });
  }
  if (want('container')) body.Containers = containers;
  if (want('volume')) body.Volumes = (await d.volumes?.()) ?? [];
  if (want('build-cache')) body.BuildCache = (await d.buildCache?.()) ?? [];
  // Deprecated in API 1.42; older clients read it.
  if (!versionAtLeast(req.version, '1.42')) body.BuilderSize = 0;
  sendJSON(res, 200, body);
}

export function systemRoutes(router: Router, d: SystemDeps): void {
  router
    .add('GET', '/_ping', (req, res) => ping(req, res))
    .add('HEAD', '/_ping', (req, res) => ping(req, res))
    .add('GET', '/version', (_req, res) => sendJSON(res, 200, d.version()))
    .add('GET', '/info', async (_req, res) => sendJSON(res, 200, await d.info()))
    .add('GET', '/events', (req, res) => events(d, req, res))
    .add('GET', '/system/df', (req, res) => df(d, req, res))
    // No plugin system: an empty list, as Podman gives, so `docker plugin ls` works.
    .add('GET', '/plugins', (_req, res) => sendJSON(res, 200, []));
}
