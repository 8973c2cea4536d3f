/**
 * Live restore's monitor: a berthd restarted with running containers follows their conmons without the FFI library
 * (no pidfds: their /proc entries and start times), and still notices a conmon killed outright within about a
 * second, while the others keep running.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, docker, startDaemon, waitFor, type Daemon } from './harness.ts';

describe('live restore: following restored conmons', () => {
  let d: Daemon;

  before(async () => {
    d = await startDaemon({ seed: true });
  });
  after(async () => {
    await d?.cleanup();
  });

  const state = async (id: string) =>
    (JSON.parse((await api(d.socket, 'GET', `/containers/${id}/json`)).body) as { State: { Status: string } }).State;

  it('a restarted berthd loads no FFI for them, and notices a conmon killed outright within about a second', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await docker(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
    await d.stop();
    await d.restart();
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => (await state(id)).Status)),
      ['running', 'running'],
      'both restored',
    );
    const maps = readFileSync(`/proc/${d.proc.pid}/maps`, 'utf8');
    assert.equal(maps.includes('koffi'), false, 'koffi loaded by a restart that started nothing');
    // nor do the runtime's calls for them (crun's: the installed binary until a create makes the sealed copy)
    for (const verb of ['top', 'pause', 'unpause']) {
      const r = await docker(d, [verb, ids[1]!]);
      assert.equal(r.code, 0, `${verb}: ${r.stderr}`);
    }
    assert.equal(
      readFileSync(`/proc/${d.proc.pid}/maps`, 'utf8').includes('koffi'),
      false,
      "koffi loaded by the runtime's calls for restored containers",
    );

    const conmon = Number(readFileSync(join(d.execRoot, 'conmon', ids[0]!, 'conmon.pid'), 'utf8'));
    assert.ok(readFileSync(`/proc/${conmon}/cmdline`, 'latin1').includes(ids[0]!));
    // after at least one of the monitor's looks, so that the kill falls anywhere in its second
    await new Promise((r) => setTimeout(r, 1300));
    const t0 = Date.now();
    process.kill(conmon, 'SIGKILL');
    await waitFor('the killed conmon noticed', async () => (await state(ids[0]!)).Status === 'exited', 5000);
    const ms = Date.now() - t0;
    t.diagnostic(`noticed after ${ms} ms`);
    assert.ok(ms <= 2000, `noticed after ${ms} ms`);
    assert.equal((await state(ids[1]!)).Status, 'running', 'the other one is still followed');
    const rm = await docker(d, ['rm', '-f', ...ids]);
    assert.equal(rm.code, 0, rm.stderr);
  });
});
