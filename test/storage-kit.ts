/**
 * The registry's scale-out peers, started by the tests on loopback and stopped by PID:
 *
 * - Ceph's radosgw (Debian's ceph 16) as the S3 server: one monitor, one OSD on memstore (in memory, 512 MiB)
 *   and radosgw, without cephx (loopback only) and without a manager, in a temp dir. radosgw needs
 *   `ms_mon_client_mode=crc` and `auth_client_required=none` on its command line, since it defaults both to
 *   cephx-only values.
 * - PostgreSQL 15 (Debian's) on its own data dir and port, run as the `postgres` user as it requires.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function stopProc(p: ChildProcess, graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => p.kill('SIGKILL'), graceMs);
    p.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** A one-OSD Ceph cluster with radosgw on 127.0.0.1; resolves once radosgw answers S3 requests with the keys. */
export async function startRadosgw(): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ceph-'));
  const procs: ChildProcess[] = [];
  let log = '';
  const stop = async () => {
    for (const p of procs.reverse()) await stopProc(p);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const conf = join(dir, 'ceph.conf');
    const fsid = randomUUID();
    await writeFile(
      conf,
      `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd objectstore = memstore
memstore device bytes = 536870912
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
osd data = ${dir}/osd/$cluster-$id
mon data = ${dir}/mon/$cluster-$id
osd crush chooseleaf type = 0
mon max pg per osd = 2000
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
public addr = 127.0.0.1
ms bind ipv6 = false
mon data avail warn = 1
mon data avail crit = 0
`,
    );
    for (const d of ['run', 'log', 'mon', 'osd/ceph-0']) await mkdir(join(dir, d), { recursive: true });
    const c = ['-c', conf];
    const daemon = (cmd: string, args: string[]) => {
      const p = spawn(cmd, [...c, ...args, '-f'], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (d) => (log += d));
      p.stderr!.on('data', (d) => (log += d));
      procs.push(p);
      return p;
    };
    await exec('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      join(dir, 'monmap'),
    ]);
    await exec('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    daemon('ceph-mon', ['-i', 'a']);
    const ceph = (args: string[]) => exec('ceph', [...c, '--connect-timeout', '20', ...args], { timeout: 60_000 });
    const { stdout: id } = await ceph(['osd', 'create']);
    if (id.trim() !== '0') throw new Error(`unexpected OSD id ${id}`);
    await exec('ceph-osd', [...c, '-i', '0', '--mkfs']);
    await ceph(['osd', 'crush', 'add-bucket', 'localhost', 'host']);
    await ceph(['osd', 'crush', 'move', 'localhost', 'root=default']);
    await ceph(['osd', 'crush', 'add', 'osd.0', '1.0', 'host=localhost']);
    daemon('ceph-osd', ['-i', '0']);
    const rgwArgs = [
      '-n',
      'client.rgw',
      '--no-mon-config',
      '--ms-mon-client-mode',
      'crc',
      '--auth-client-required',
      'none',
    ];
    daemon('radosgw', [...rgwArgs, '--rgw-frontends', `beast endpoint=127.0.0.1:${rgwPort}`]);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        if ((await fetch(endpoint)).status === 200) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`radosgw did not answer in time:\n${log.slice(-3000)}`);
      await sleep(500);
    }
    const accessKeyId = 'BERTHTEST';
    const secretAccessKey = randomUUID();
    await exec(
      'radosgw-admin',
      [
        ...c,
        ...rgwArgs,
        'user',
        'create',
        '--uid',
        'berth',
        '--display-name',
        'berth',
        '--access-key',
        accessKeyId,
        '--secret',
        secretAccessKey,
      ],
      { timeout: 60_000 },
    );
    return { endpoint, accessKeyId, secretAccessKey, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Postgres {
  url: string;
  stop(): Promise<void>;
}

/** PostgreSQL 15 on 127.0.0.1 at a free port, its data dir in a temp dir owned by `postgres`; trust auth. */
export async function startPostgres(): Promise<Postgres> {
  const bin = '/usr/lib/postgresql/15/bin';
  const dir = await mkdtemp(join(tmpdir(), 'berth-pg-'));
  const data = join(dir, 'data');
  const { stdout: uid } = await exec('id', ['-u', 'postgres']);
  const { stdout: gid } = await exec('id', ['-g', 'postgres']);
  await chown(dir, Number(uid), Number(gid));
  const port = await freePort();
  const ids = { uid: Number(uid), gid: Number(gid) };
  await exec(
    join(bin, 'initdb'),
    ['-D', data, '--auth=trust', '--username=postgres', '--locale=C.UTF-8', '--encoding=UTF8'],
    {
      ...ids,
      cwd: dir,
      timeout: 60_000,
    },
  );
  let proc: ChildProcess | undefined;
  let log = '';
  const stop = async () => {
    const p = proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => p.kill('SIGKILL'), 20_000);
        p.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        p.kill('SIGINT');
      });
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    proc = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
        '-c',
        'fsync=off',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], ...ids, cwd: dir },
    );
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (/ready to accept connections/.test(log)) break;
      if (proc.exitCode !== null) throw new Error(`postgres exited:\n${log}`);
      if (Date.now() > deadline) throw new Error(`postgres did not start:\n${log}`);
      await sleep(100);
    }
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
