/** Images: list with filters, inspect, history, tag, delete, prune, load (current and pre-1.10 layouts), save, import, get. */
import { dir, file, image, layer, legacyArchive, tarOf } from '../../fixtures.ts';
import type { Scenario } from '../runner.ts';
import { q, remove, running } from './util.ts';

/** The pre-1.10 `docker save` layout: `repositories` and one folder per layer with `json`, `VERSION`, `layer.tar`. */
async function preV110Archive(): Promise<Buffer> {
  const id = 'a'.repeat(64);
  const lt = await tarOf([dir('old'), file('old/file', 'old layout\n')]);
  return tarOf([
    file('repositories', JSON.stringify({ 'df-old': { v1: id } })),
    dir(id),
    file(`${id}/VERSION`, '1.0'),
    file(
      `${id}/json`,
      JSON.stringify({
        id,
        created: '2015-01-01T00:00:00Z',
        os: 'linux',
        architecture: 'amd64',
        config: { Cmd: ['sh'] },
      }),
    ),
    file(`${id}/layer.tar`, lt),
  ]);
}

export const images: Scenario[] = [
  {
    name: 'images/inspect history tag delete',
    async run(c) {
      c.rec.http('inspect', await c.http('GET', '/images/busybox/json'), {
        values: ['RepoTags', 'Os', 'Architecture', 'Config.Cmd', 'RootFS.Type'],
      });
      c.rec.http('inspect missing', await c.http('GET', '/images/df-nosuch/json'));
      c.rec.http('inspect bad reference', await c.http('GET', '/images/BAD:REF:x/json'));
      c.rec.http('history', await c.http('GET', '/images/busybox/history'), { values: ['[].CreatedBy', '[].Tags'] });
      c.rec.http('tag', await c.http('POST', '/images/busybox/tag?repo=df-img/tagged&tag=v1'));
      c.rec.http('tag bad repo', await c.http('POST', '/images/busybox/tag?repo=BAD&tag=v1'));
      c.rec.http('tag missing image', await c.http('POST', '/images/df-nosuch/tag?repo=x&tag=v1'));
      c.rec.http('list by reference', await c.http('GET', `/images/json?filters=${q({ reference: ['df-img/*'] })}`), {
        values: ['[].RepoTags', '[].RepoDigests'],
      });
      // Running, so that the answer does not hang on whether another scenario's container runs at that moment.
      const used = await running(c, 'df-img-user', ['sleep', '60'], { Image: 'df-img/tagged:v1' });
      await c.http('POST', '/images/busybox/tag?repo=df-img/second&tag=v1');
      c.rec.http('delete a tag (image has others)', await c.http('DELETE', '/images/df-img/second:v1'), {
        values: ['[].Untagged'],
      });
      c.rec.http(
        'delete by ID, used by a container',
        await c.http(
          'DELETE',
          `/images/${(JSON.parse((await c.http('GET', '/images/busybox/json')).body) as { Id: string }).Id}`,
        ),
      );
      c.rec.http('delete missing', await c.http('DELETE', '/images/df-nosuch:1'));
      await remove(c, used);
      c.rec.http('delete last tag of a shared image', await c.http('DELETE', '/images/df-img/tagged:v1'), {
        values: ['[].Untagged'],
      });
      c.rec.cli(
        'docker image inspect --format',
        await c.cli(['image', 'inspect', '--format', '{{.Os}} {{json .RepoTags}}', 'busybox']),
      );
      c.rec.cli('docker history', await c.cli(['history', '--format', '{{.CreatedBy}}', 'busybox']));
      c.rec.cli('docker rmi missing', await c.cli(['rmi', 'df-nosuch:1']));
    },
  },
  {
    name: 'images/load save import',
    async run(c) {
      const l = await layer([dir('etc'), file('etc/df-load', 'x\n')]);
      const img = image([l], { created: '2024-03-03T00:00:00Z' });
      const arch = await tarOf(legacyArchive([{ image: img, tags: ['df-load:v1'] }]));
      c.rec.http(
        'load',
        await c.http('POST', '/images/load', arch, { headers: { 'Content-Type': 'application/x-tar' } }),
        { lines: true, values: ['[].stream'] },
      );
      c.rec.http(
        'load quiet',
        await c.http('POST', '/images/load?quiet=1', arch, { headers: { 'Content-Type': 'application/x-tar' } }),
        { lines: true, values: ['[].stream'] },
      );
      c.rec.http(
        'load not a tar',
        await c.http('POST', '/images/load', Buffer.from('not an archive'), {
          headers: { 'Content-Type': 'application/x-tar' },
        }),
        { lines: true },
      );
      c.rec.http(
        'load empty tar',
        await c.http('POST', '/images/load', await tarOf([]), { headers: { 'Content-Type': 'application/x-tar' } }),
        { lines: true },
      );
      c.rec.http(
        'load pre-1.10 layout',
        await c.http('POST', '/images/load', await preV110Archive(), {
          headers: { 'Content-Type': 'application/x-tar' },
        }),
        { lines: true, values: ['[].stream'] },
      );
      c.rec.http('inspect pre-1.10 image', await c.http('GET', '/images/df-old:v1/json'), { noBody: true });
      const save = await c.http('GET', '/images/df-load:v1/get');
      c.rec.http('save one', save, { noBody: true });
      const saveMany = await c.http('GET', '/images/get?names=df-load:v1&names=busybox');
      c.rec.http('save many', saveMany, { noBody: true });
      c.rec.http('save missing', await c.http('GET', '/images/get?names=df-nosuch:1'), { noBody: true });
      const rootfs = await tarOf([dir('bin'), file('hello', 'imported\n')]);
      c.rec.http(
        'import',
        await c.http(
          'POST',
          `/images/create?fromSrc=-&repo=df-import&tag=v1&changes=${encodeURIComponent('CMD ["/hello"]')}`,
          rootfs,
          { headers: { 'Content-Type': 'application/x-tar' } },
        ),
        { lines: true },
      );
      c.rec.http('inspect imported', await c.http('GET', '/images/df-import:v1/json'), {
        values: ['Config.Cmd', 'RepoTags', 'Comment'],
      });
      c.rec.http(
        'pull from an unreachable registry',
        await c.http('POST', '/images/create?fromImage=127.0.0.1:9/x&tag=1'),
        { lines: true },
      );
      c.rec.http('create without fromImage or fromSrc', await c.http('POST', '/images/create'));
      for (const t of ['df-load:v1', 'df-old:v1', 'df-import:v1']) await c.http('DELETE', `/images/${t}?force=1`);
      c.rec.cli('docker load not a tar', await c.cli(['load'], 'not a tar'));
    },
  },
  {
    name: 'images/list and prune',
    serial: true,
    async run(c) {
      const l = await layer([file('df-dangling', 'y\n')]);
      const img = image([l], { created: '2024-04-04T00:00:00Z', config: { Labels: { 'df.img': 'x' } } });
      await c.http('POST', '/images/load', await tarOf(legacyArchive([{ image: img, tags: ['df-prune:v1'] }])));
      c.rec.http('list', await c.http('GET', '/images/json'), {
        values: ['[].RepoTags', '[].RepoDigests', '[].Containers', '[].ParentId'],
      });
      c.rec.http('list all', await c.http('GET', '/images/json?all=1'), { values: ['[].RepoTags'] });
      c.rec.http('list digests=1', await c.http('GET', '/images/json?digests=1'), { values: ['[].RepoDigests'] });
      c.rec.http('list label', await c.http('GET', `/images/json?filters=${q({ label: ['df.img'] })}`), {
        values: ['[].RepoTags'],
      });
      c.rec.http(
        'list reference exact',
        await c.http('GET', `/images/json?filters=${q({ reference: ['busybox:latest'] })}`),
        { values: ['[].RepoTags'] },
      );
      c.rec.http('list reference repo', await c.http('GET', `/images/json?filters=${q({ reference: ['busybox'] })}`), {
        values: ['[].RepoTags'],
      });
      c.rec.http('list filter=', await c.http('GET', '/images/json?filter=busybox'), { values: ['[].RepoTags'] });
      c.rec.http('list before', await c.http('GET', `/images/json?filters=${q({ before: ['df-prune:v1'] })}`), {
        values: ['[].RepoTags'],
      });
      c.rec.http('list since', await c.http('GET', `/images/json?filters=${q({ since: ['busybox'] })}`), {
        values: ['[].RepoTags'],
      });
      c.rec.http('list dangling', await c.http('GET', `/images/json?filters=${q({ dangling: ['true'] })}`), {
        values: ['[].RepoTags'],
      });
      c.rec.http('list bad filter', await c.http('GET', `/images/json?filters=${q({ nosuch: ['x'] })}`));
      await c.http('POST', '/images/busybox/tag?repo=df-prune&tag=v1');
      c.rec.http(
        'list dangling after retag',
        await c.http('GET', `/images/json?filters=${q({ dangling: ['true'] })}`),
        { values: ['[].RepoTags', '[].RepoDigests'] },
      );
      c.rec.http('prune dangling', await c.http('POST', `/images/prune?filters=${q({ dangling: ['true'] })}`), {
        values: ['ImagesDeleted[].Deleted'],
      });
      c.rec.http('prune again', await c.http('POST', '/images/prune'), { values: ['ImagesDeleted', 'SpaceReclaimed'] });
      c.rec.http('prune bad filter', await c.http('POST', `/images/prune?filters=${q({ nosuch: ['x'] })}`));
      await c.http('DELETE', '/images/df-prune:v1');
      c.rec.cli('docker images', await c.cli(['images', '--format', '{{.Repository}}:{{.Tag}}']));
      c.rec.cli('docker image prune -f', await c.cli(['image', 'prune', '-f']));
    },
  },
];
