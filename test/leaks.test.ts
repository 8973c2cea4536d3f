/**
 * Files berthd opens for a response are closed when the client goes away mid-stream: a handler that waited for a
 * 'drain' that never comes kept them open until the garbage collector closed them ("Closing file descriptor N on
 * garbage collection"). Counted in /proc/<berthd>/fd.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { api, startDaemon, waitFor, type Daemon } from './harness.ts';

let d: Daemon;
before(async () => {
  d = await startDaemon({ seed: true });
});
after(() => d.cleanup());

/** Paths of berthd's open files under `under`. */
async function openFiles(under: string): Promise<string[]> {
  const dir = `/proc/${d.proc.pid}/fd`;
  const out: string[] = [];
  for (const fd of await readdir(dir)) {
    const target = await readlink(`${dir}/${fd}`).catch(() => '');
    if (target.startsWith(under)) out.push(target);
  }
  return out;
}

/** Starts a GET, reads nothing, and drops the connection once berthd has `under` open. */
async function abandon(path: string, under: string): Promise<void> {
  const req = request({ socketPath: d.socket, path });
  req.on('error', () => {});
  req.on('response', (r) => r.pause());
  req.end();
  await waitFor(`berthd to open ${under}`, async () => (await openFiles(under)).length > 0, 20_000);
  // Let berthd fill the socket's buffers and wait for the client to read.
  await new Promise((r) => setTimeout(r, 300));
  req.destroy();
}

describe('no file left open when the client goes away', () => {
  it('image save (the blobs it streams)', async () => {
    await abandon('/images/get?names=busybox', `${d.dataRoot}/blobs`);
    await waitFor('the blobs to be closed', async () => (await openFiles(`${d.dataRoot}/blobs`)).length === 0, 10_000);
  });

  it('container logs (the log file)', async () => {
    const r = await api(
      d.socket,
      'POST',
      '/containers/create',
      JSON.stringify({
        Image: 'busybox',
        Cmd: ['sh', '-c', 'i=0; while [ $i -lt 60000 ]; do echo "line $i of a log long enough"; i=$((i+1)); done'],
        HostConfig: { NetworkMode: 'none' },
      }),
      { 'Content-Type': 'application/json' },
    );
    const id = (JSON.parse(r.body) as { Id: string }).Id;
    await api(d.socket, 'POST', `/containers/${id}/start`);
    await api(d.socket, 'POST', `/containers/${id}/wait`);
    const dir = `${d.dataRoot}/containers/${id}`;
    await abandon(`/containers/${id}/logs?stdout=1&stderr=1`, dir);
    await waitFor('the log to be closed', async () => (await openFiles(dir)).length === 0, 10_000);
    assert.equal((await api(d.socket, 'DELETE', `/containers/${id}`)).status, 204);
  });
});
