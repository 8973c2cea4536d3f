/**
 * `/containers/{id}/archive`: HEAD (the stat header), GET and PUT, with every kind of path inside the container
 * (symlinks to directories, dangling, absolute and relative links, `..`), and `docker cp`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir, file, tarOf } from '../../fixtures.ts';
import { framing, type Ctx } from '../clients.ts';
import type { Scenario } from '../runner.ts';
import { create, remove, running } from './util.ts';

const SETUP = [
  'mkdir -p /d/sub /www',
  'echo hello > /d/f',
  'ln -s /d /abs-link',
  'ln -s d /rel-link',
  'ln -s /no/such/dir /dangling',
  'ln -s ../../../d /escape-link',
  'ln -s /d/f /file-link',
  'sleep 60',
].join(' && ');

function stat(h: string | string[] | undefined): unknown {
  if (typeof h !== 'string') return '(none)';
  const s = JSON.parse(Buffer.from(h, 'base64').toString()) as Record<string, unknown>;
  return { name: s.name, mode: s.mode, linkTarget: s.linkTarget, keys: Object.keys(s).sort() };
}

function entries(tar: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar
      .subarray(off, off + 100)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = Number.parseInt(
      tar
        .subarray(off + 124, off + 136)
        .toString('latin1')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    const type = String.fromCharCode(tar[off + 156] ?? 48);
    if (type !== 'x' && type !== 'g') out.push(`${type === '5' ? 'dir' : type === '2' ? 'link' : 'file'} ${name}`);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out.sort();
}

async function ls(c: Ctx, id: string, path: string): Promise<string> {
  const e = await c.http('POST', `/containers/${id}/exec`, {
    Cmd: ['sh', '-c', `ls -la ${path} 2>&1 | awk '{print $1, $NF}'`],
    AttachStdout: true,
  });
  const eid = (JSON.parse(e.body) as { Id: string }).Id;
  const r = await c.hijack(`/exec/${eid}/start`, { Detach: false });
  return framing(r.data).stdout;
}

export const archive: Scenario[] = [
  {
    name: 'archive/get and head',
    async run(c) {
      const id = await running(c, 'df-arch-get', ['sh', '-c', SETUP]);
      await new Promise((r) => setTimeout(r, 500));
      for (const path of [
        '/d/f',
        '/d',
        '/d/',
        '/abs-link',
        '/abs-link/',
        '/rel-link/f',
        '/dangling',
        '/escape-link/f',
        '/file-link',
        '/no/such',
        '/d/f/',
        '/',
      ]) {
        const h = await c.http('HEAD', `/containers/${id}/archive?path=${encodeURIComponent(path)}`);
        c.rec.http(`HEAD ${path}`, h, { noBody: true });
        c.rec.add(`HEAD ${path}`, { stat: stat(h.headers['x-docker-container-path-stat']) });
        if (path === '/') continue;
        const g = await c.http('GET', `/containers/${id}/archive?path=${encodeURIComponent(path)}`);
        c.rec.http(`GET ${path}`, g, { noBody: g.status < 300 });
        if (g.status === 200) c.rec.add(`GET ${path}`, { entries: entries(g.raw) });
      }
      c.rec.http('GET without path', await c.http('GET', `/containers/${id}/archive`));
      c.rec.http('GET missing container', await c.http('GET', '/containers/df-nosuch/archive?path=/'));
      const fresh = await create(c, 'df-arch-fresh', ['true']);
      for (const p of ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname']) {
        const r = await c.http('GET', `/containers/${fresh}/archive?path=${p}`);
        c.rec.http(`GET ${p} of a created container`, r, { noBody: r.status < 300 });
      }
      const out = await c.cli(['cp', 'df-arch-get:/d/f', '-']);
      c.rec.cli('docker cp to stdout', { ...out, stdout: entries(Buffer.from(out.stdout, 'latin1')).join(',') });
      await remove(c, id, fresh);
    },
  },
  {
    name: 'archive/put',
    async run(c) {
      const id = await running(c, 'df-arch-put', ['sh', '-c', SETUP]);
      await new Promise((r) => setTimeout(r, 500));
      const tar = await tarOf([file('put.txt', 'put\n')]);
      const put = async (label: string, path: string, body: Buffer = tar, extra = '') => {
        const r = await c.http('PUT', `/containers/${id}/archive?path=${encodeURIComponent(path)}${extra}`, body, {
          headers: { 'Content-Type': 'application/x-tar' },
        });
        c.rec.http(`PUT ${label}`, r);
      };
      await put('into a dir', '/d');
      await put('through an absolute link', '/abs-link');
      await put('through a relative link', '/rel-link/sub');
      await put('through a dangling link', '/dangling');
      await put('through a link escaping with ..', '/escape-link');
      await put('with .. in the path', '/d/sub/../../www');
      await put('onto a file', '/d/f');
      await put('onto a missing dir', '/no/such');
      await put('not a tar', '/d', Buffer.from('this is not a tar archive at all, sorry'));
      await put('dir over a file, noOverwriteDirNonDir', '/d', await tarOf([dir('f')]), '&noOverwriteDirNonDir=true');
      c.rec.add('what landed', { '/d': await ls(c, id, '/d /d/sub /www /no 2>/dev/null') });
      const host = join(c.engine.dir, 'cp-src.txt');
      await writeFile(host, 'from host\n');
      // The CLI's own messages race with its tar writer here (dockerd: sometimes "closed pipe" noise): exit codes only.
      const cp = async (label: string, dest: string) =>
        c.rec.cli(label, await c.cli(['cp', host, `df-arch-put:${dest}`]), { stdout: 'none', stderr: false });
      await cp('docker cp FILE c:/dangling/', '/dangling/');
      await cp('docker cp FILE c:/abs-link/', '/abs-link/');
      await cp('docker cp FILE c:/no/such/dir/', '/no/such/dir/');
      c.rec.cli(
        'docker cp - (tar on stdin)',
        await c.cli(['cp', '-', 'df-arch-put:/www'], await tarOf([file('stdin.txt', 'x')])),
      );
      c.rec.add('what landed after cp', { ls: await ls(c, id, '/d /www') });
      await remove(c, id);
    },
  },
];
