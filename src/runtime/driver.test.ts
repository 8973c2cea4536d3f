import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { ConmonRuntime } from './driver.ts';
import { ProcessStartError } from './runtimecli.ts';
import { readLog, type LogEntry } from './logs.ts';
import { pidRunning } from './process.ts';
import { openCopies } from './sealed.ts';
import { CRUN_NS, ensureNsHelper, OutputCollector, RUNC, RuntimeTestbed } from './testkit.ts';

/** Whether `pid` still runs after up to `ms` of waiting for it to go (polled every 20 ms). */
async function stillRunningAfter(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; pidRunning(pid) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  return pidRunning(pid);
}

/**
 * These run real containers: conmon 2.1 + runc, and crun as berthd runs it on a hybrid cgroup host (through
 * runtime-ns: probe.ts), as root, each cleaned up after.
 */
const HYBRID = existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
if (HYBRID) ensureNsHelper();
for (const rt of [RUNC, HYBRID ? CRUN_NS : { name: 'crun', path: '/usr/bin/crun' }])
  describe(`ConmonRuntime with ${rt.name}`, () => {
    let bed: RuntimeTestbed;
    before(async () => {
      bed = await RuntimeTestbed.create(rt);
    });
    after(async () => {
      await bed.cleanup();
    });

    test('runs to completion: exit code, stdout and stderr kept apart in the k8s-file log', async () => {
      const d = bed.driver;
      const { id, bundle, logPath } = await bed.bundle({
        args: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; exit 3'],
      });
      const { pid, conmonPid } = await d.create(id, { bundle, logPath });
      assert.ok(pid > 0 && conmonPid > 0);
      assert.equal((await d.state(id)).status, 'created');
      // The runtime ran from the driver's sealed copy (sys/memfd.ts), so its init did not copy itself: it waits in it.
      assert.ok((await readlink(`/proc/${pid}/exe`)).startsWith(`/memfd:${rt.name}`));
      await d.start(id);
      const exit = await d.waitExit(id);
      assert.equal(exit.exitCode, 3);
      assert.equal(exit.oomKilled, false);
      assert.ok(Date.now() - exit.exitedAt.getTime() < 10_000);
      assert.equal((await d.state(id)).status, 'stopped');
      const entries: LogEntry[] = [];
      for await (const e of readLog(logPath)) entries.push(e);
      const text = (s: string): string[] => entries.filter((e) => e.stream === s).map((e) => e.message.toString());
      assert.deepEqual(text('stdout'), ['out1', 'out2']);
      assert.deepEqual(text('stderr'), ['err1']);
      assert.ok(entries.every((e) => !e.partial));
      await d.delete(id);
      await assert.rejects(d.state(id), NotFoundError);
      assert.deepEqual(await d.list(), []);
      await assert.rejects(stat(join(bundle, 'attach')), /ENOENT/);
    });

    test('a detached container survives a "daemon restart": a new driver finds it, kills it, reads its exit code', async () => {
      const { id, bundle, logPath } = await bed.bundle({
        args: ['sh', '-c', 'trap "exit 7" TERM; while true; do echo tick; sleep 0.1; done'],
      });
      const first = bed.driver;
      const { conmonPid } = await first.create(id, { bundle, logPath });
      await first.start(id);
      // The first tick says the shell has set its trap (a TERM before that would be ignored by the container's init).
      const ticked = async (): Promise<boolean> => {
        for await (const e of readLog(logPath)) if (e.message.toString() === 'tick') return true;
        return false;
      };
      for (let i = 0; i < 200 && !(await ticked()); i++) await new Promise((r) => setTimeout(r, 10));
      // berthd goes away: nothing of the first driver is used from here on.
      const second = bed.newDriver();
      assert.deepEqual(await second.list(), [id]);
      const mon = await second.monitor(id);
      assert.equal(mon.conmonAlive, true);
      assert.equal(mon.conmonPid, conmonPid);
      assert.equal((await second.state(id)).status, 'running');
      await second.kill(id, 'TERM');
      const exit = await second.waitExit(id);
      assert.equal(exit.exitCode, 7);
      let ticks = 0;
      for await (const e of readLog(logPath)) if (e.message.toString() === 'tick') ticks++;
      assert.ok(ticks >= 1, `expected ticks in the log, got ${ticks}`);
      await second.delete(id);
      // conmon writes the exit file (what delete waits for) just before it exits: give it a moment under load
      assert.equal(await stillRunningAfter(conmonPid, 5000), false);
    });

    test('an exit that happens while no driver exists is found afterwards, with its code', async () => {
      const { id, bundle } = await bed.bundle({ args: ['sh', '-c', 'sleep 0.2; exit 5'] });
      const first = bed.newDriver();
      await first.create(id, { bundle });
      await first.start(id);
      const mon = await first.monitor(id);
      // "daemon down": wait for conmon to finish on its own, with no driver watching.
      assert.equal(await stillRunningAfter(mon.conmonPid, 5000), false);
      const second = bed.newDriver();
      const status = await second.exitStatus(id);
      assert.equal(status?.exitCode, 5);
      assert.equal((await second.waitExit(id)).exitCode, 5);
      assert.equal((await second.monitor(id)).conmonAlive, false);
      await second.delete(id);
    });

    test('the start through the exec fifo: a second start is refused, and so is one whose init died first', {
      timeout: 60_000,
    }, async () => {
      const d = bed.driver;
      const a = await bed.bundle({ args: ['sleep', '30'] });
      await d.create(a.id, { bundle: a.bundle, logPath: a.logPath });
      await d.start(a.id);
      assert.equal((await d.state(a.id)).status, 'running');
      await assert.rejects(d.start(a.id));
      await d.delete(a.id, { force: true });
      const b = await bed.bundle({ args: ['true'] });
      const { pid } = await d.create(b.id, { bundle: b.bundle, logPath: b.logPath });
      process.kill(pid, 'SIGKILL');
      assert.equal(await stillRunningAfter(pid, 5000), false);
      await assert.rejects(d.start(b.id), (e: unknown) => e instanceof ConflictError && /already dead/.test(e.message));
      await d.delete(b.id, { force: true });
    });

    test('stdin: cat echoes what is written, and half-closing delivers end-of-file', async () => {
      const d = bed.driver;
      const { id, bundle, logPath } = await bed.bundle({ args: ['cat'] });
      await d.create(id, { bundle, logPath, stdin: true });
      const session = await d.attach(id);
      const out = new OutputCollector(session.output);
      await d.start(id);
      session.stdin.write('hello\n');
      await out.waitFor(/hello\n/);
      session.stdin.end('world\n'); // what `echo hi | docker run -i busybox cat` needs: EOF reaches cat
      const exit = await d.waitExit(id);
      await out.ended;
      assert.equal(exit.exitCode, 0);
      assert.equal(out.stdout, 'hello\nworld\n');
      assert.equal(out.stderr, '');
      const logged = [];
      for await (const e of readLog(logPath)) logged.push(e.message.toString());
      assert.deepEqual(logged, ['hello', 'world']);
      await d.delete(id);
    });

    test('stdin written before start and closed at once still reaches the process', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['sh', '-c', 'wc -c'] });
      await d.create(id, { bundle, stdin: true });
      const session = await d.attach(id);
      const out = new OutputCollector(session.output);
      const big = `${'x'.repeat(100_000)}\n`; // more than one 32 KiB attach message
      session.stdin.end(big);
      await d.start(id);
      assert.equal((await d.waitExit(id)).exitCode, 0);
      await out.ended;
      assert.equal(out.stdout.trim(), String(big.length));
      await d.delete(id);
    });

    test('TTY: output through the attach socket, resize seen by the process, exit code', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['sh'], terminal: true });
      await d.create(id, { bundle, terminal: true, stdin: true });
      const session = await d.attach(id);
      const out = new OutputCollector(session.output);
      await d.start(id);
      await d.resize(id, { height: 41, width: 101 });
      session.stdin.write('stty size; tty\n');
      await out.waitFor(/41 101\r?\n/);
      await out.waitFor(/\/dev\/pts\/\d+/);
      await d.resize(id, { height: 20, width: 60 });
      session.stdin.write('stty size; exit 3\n');
      await out.waitFor(/20 60\r?\n/);
      assert.equal((await d.waitExit(id)).exitCode, 3);
      assert.equal(out.stderr, '', 'a TTY has only one stream');
      await assert.rejects(d.resize(id, { height: 1, width: 1 }), ConflictError);
      await d.delete(id);
    });

    test('exec in a running container: output, stdin, exit codes, a missing command', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['sleep', '60'] });
      await d.create(id, { bundle });
      await d.start(id);

      const e1 = await d.exec(
        id,
        `${id}-x1`,
        { args: ['sh', '-c', 'echo in-exec; echo oops >&2; exit 4'], env: ['PATH=/bin'], cwd: '/' },
        { attach: true },
      );
      assert.ok(e1.pid > 0);
      const out1 = new OutputCollector(e1.attach!.output);
      const x1 = await e1.exit;
      await out1.ended;
      assert.equal(x1.exitCode, 4);
      assert.equal(out1.stdout, 'in-exec\n');
      assert.equal(out1.stderr, 'oops\n');
      await d.removeExec(`${id}-x1`);

      const e2 = await d.exec(
        id,
        `${id}-x2`,
        { args: ['cat'], env: ['PATH=/bin'], cwd: '/' },
        { attach: true, stdin: true },
      );
      const out2 = new OutputCollector(e2.attach!.output);
      e2.attach!.stdin.end('piped\n');
      assert.equal((await e2.exit).exitCode, 0);
      await out2.ended;
      assert.equal(out2.stdout, 'piped\n');
      await d.removeExec(`${id}-x2`);

      const e3 = await d.exec(id, `${id}-x3`, { args: ['sh', '-c', 'exit 9'], env: ['PATH=/bin'], cwd: '/' });
      assert.equal((await e3.exit).exitCode, 9);
      await d.removeExec(`${id}-x3`);

      const e4 = await d.exec(
        id,
        `${id}-x4`,
        { args: ['tty'], env: ['PATH=/bin'], cwd: '/', terminal: true },
        { attach: true },
      );
      const out4 = new OutputCollector(e4.attach!.output);
      assert.equal((await e4.exit).exitCode, 0);
      await out4.ended;
      assert.match(out4.stdout, /\/dev\/pts\/\d+/);
      await d.removeExec(`${id}-x4`);

      await assert.rejects(
        d.exec(id, `${id}-x5`, { args: ['nosuchcmd'], env: ['PATH=/bin'], cwd: '/' }),
        (e: unknown) =>
          e instanceof ProcessStartError &&
          e.exitCode === 127 &&
          /executable file not found|no such file/i.test((e as Error).message),
      );
      await assert.rejects(stat(join(bed.execRoot, 'exec', `${id}-x5`)), /ENOENT/);
      // A program that cannot be run (a directory): the runtime says so, and that is 126.
      await assert.rejects(
        d.exec(id, `${id}-x6`, { args: ['/bin'], env: ['PATH=/bin'], cwd: '/' }),
        (e: unknown) => e instanceof ProcessStartError && e.exitCode === 126,
      );
      assert.equal((await d.state(id)).status, 'running', 'exec leaves the container running');
      await d.delete(id, { force: true });
    });

    test('pause and resume, ps, update, kill with a signal, and kill of a stopped container', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['sh', '-c', 'sleep 60 & wait'] });
      const { pid } = await d.create(id, { bundle });
      await d.start(id);
      await d.pause(id);
      assert.equal((await d.state(id)).status, 'paused');
      await assert.rejects(d.pause(id), ConflictError);
      await d.resume(id);
      assert.equal((await d.state(id)).status, 'running');
      const pids = await d.ps(id);
      assert.ok(pids.includes(pid), `${pids} should include ${pid}`);
      assert.ok(pids.length >= 2, 'sh and its sleep');
      // On a hybrid host the container is in its cgroup of the unified hierarchy too: runc puts it there, and crun
      // (which runtime-ns keeps from seeing it) is put there by runtime-ns; an exec'd process joins it as well.
      if (HYBRID) {
        assert.match(await readFile(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^0::/${id}$`, 'm'));
        const ex = await d.exec(
          id,
          `${id}-cg`,
          { args: ['cat', '/proc/self/cgroup'], env: ['PATH=/bin'], cwd: '/' },
          { attach: true },
        );
        const out = new OutputCollector(ex.attach!.output);
        assert.equal((await ex.exit).exitCode, 0);
        await out.ended;
        assert.match(out.stdout, new RegExp(`^0::/${id}$`, 'm'));
        await d.removeExec(`${id}-cg`);
      }
      await d.update(id, { pids: { limit: 42 } });
      assert.equal((await readFile(`/sys/fs/cgroup/pids/${id}/pids.max`, 'utf8')).trim(), '42');
      await assert.rejects(d.delete(id), ConflictError);
      await d.kill(id, 'SIGKILL');
      const exit = await d.waitExit(id);
      assert.equal(exit.exitCode, 137);
      await assert.rejects(d.kill(id, 'TERM'), ConflictError);
      await d.delete(id);
      await assert.rejects(stat(`/sys/fs/cgroup/pids/${id}`), /ENOENT/);
      await assert.rejects(stat(`/sys/fs/cgroup/unified/${id}`), /ENOENT/);
    });

    test('bad input and faults: unknown id, duplicate, terminal mismatch, missing command leaves nothing', async () => {
      const d = bed.driver;
      await assert.rejects(d.state('nope'), NotFoundError);
      await assert.rejects(d.kill('nope'), NotFoundError);
      await assert.rejects(d.state('../etc'), InvalidArgumentError);
      await assert.rejects(
        d.kill('x', 'SIGNOPE'),
        (e: unknown) => e instanceof NotFoundError || e instanceof InvalidArgumentError,
      );

      const a = await bed.bundle({ args: ['true'] });
      await assert.rejects(d.create(a.id, { bundle: a.bundle, terminal: true }), InvalidArgumentError);
      // The spec the caller wrote, when given, is checked instead of the file.
      await assert.rejects(
        d.create(a.id, { bundle: a.bundle, spec: { process: { terminal: true } } }),
        /process.terminal is true but the container is created with terminal=false/,
      );
      await d.create(a.id, {
        bundle: a.bundle,
        spec: JSON.parse(await readFile(join(a.bundle, 'config.json'), 'utf8')),
      });
      await assert.rejects(d.create(a.id, { bundle: a.bundle }), AlreadyExistsError);
      await d.delete(a.id, { force: true });

      const b = await bed.bundle({ args: ['nosuchcmd'] });
      await assert.rejects(
        d.create(b.id, { bundle: b.bundle }),
        (e: unknown) => e instanceof ProcessStartError && e.exitCode === 127 && /nosuchcmd/.test((e as Error).message),
      );
      assert.deepEqual(await d.list(), []);
      await assert.rejects(stat(join(bed.execRoot, 'conmon', b.id)), /ENOENT/);
      await assert.rejects(d.attach(b.id), NotFoundError);
    });

    test('attach to a container that has exited is a conflict; waitExit can be aborted', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['true'] });
      await d.create(id, { bundle });
      await d.start(id);
      await d.waitExit(id);
      await assert.rejects(d.attach(id), ConflictError);
      await d.delete(id);

      const long = await bed.bundle({ args: ['sleep', '60'] });
      await d.create(long.id, { bundle: long.bundle });
      await d.start(long.id);
      await assert.rejects(d.waitExit(long.id, { signal: AbortSignal.timeout(100) }), { name: 'CanceledError' });
      await d.delete(long.id, { force: true });
    });

    test('a process past its memory limit is OOM-killed and the exit status says so', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({
        args: ['sh', '-c', 'tail /dev/zero'],
        resources: { memory: { limit: 16 * 1024 * 1024 } },
      });
      await d.create(id, { bundle });
      await d.start(id);
      const exit = await d.waitExit(id, { signal: AbortSignal.timeout(20_000) });
      assert.equal(exit.oomKilled, true);
      assert.equal(exit.exitCode, 137);
      await d.delete(id);
    });

    test('a conmon killed outright is reported as a lost monitor (with the default look every second)', async () => {
      // berthd's own settings: conmon's liveness looked at every second (its pidfd, polled), not every 10 s.
      const d = new ConmonRuntime({ execRoot: bed.execRoot, runtime: rt });
      const { id, bundle } = await bed.bundle({ args: ['sleep', '60'] });
      const { conmonPid } = await d.create(id, { bundle });
      await d.start(id);
      const waiting = d.waitExit(id, { signal: AbortSignal.timeout(5000) });
      await new Promise((r) => setTimeout(r, 100));
      process.kill(conmonPid, 'SIGKILL');
      const exit = await waiting;
      assert.equal(exit.monitorLost, true);
      assert.equal(exit.exitCode, 255);
      await d.delete(id, { force: true });
    });

    test('without a pidfd (a restored conmon before any start; the probe), a conmon killed outright is noticed within a second', async () => {
      // forkConmon: the driver that opens no pidfd, so conmon is followed through a descriptor on its /proc/PID/stat
      const d = new ConmonRuntime({ execRoot: bed.execRoot, runtime: rt, forkConmon: true });
      const { id, bundle } = await bed.bundle({ args: ['sleep', '60'] });
      const { conmonPid } = await d.create(id, { bundle });
      await d.start(id);
      const waiting = d.waitExit(id, { signal: AbortSignal.timeout(5000) });
      await new Promise((r) => setTimeout(r, 1100));
      const t0 = Date.now();
      process.kill(conmonPid, 'SIGKILL');
      const exit = await waiting;
      const ms = Date.now() - t0;
      assert.equal(exit.monitorLost, true);
      assert.ok(ms <= 1500, `noticed after ${ms} ms`);
      await d.delete(id, { force: true });
    });

    test('a forced delete after the init exited kills what it left behind in the host PID namespace', async () => {
      const d = bed.driver;
      const { id, bundle } = await bed.bundle({ args: ['sh', '-c', 'sleep 300 & exit 0'] });
      // Share the host's PID namespace (as --pid=host): the child outlives the init, in the container's cgroup.
      const specPath = join(bundle, 'config.json');
      const spec = JSON.parse(await readFile(specPath, 'utf8')) as { linux: { namespaces: { type: string }[] } };
      spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'pid');
      await writeFile(specPath, JSON.stringify(spec));
      await d.create(id, { bundle });
      await d.start(id);
      assert.equal((await d.waitExit(id, { signal: AbortSignal.timeout(10_000) })).exitCode, 0);
      const procs = (await readFile(join('/sys/fs/cgroup/pids', id, 'cgroup.procs'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map(Number);
      assert.equal(procs.length, 1, `the background sleep should be left in the cgroup: ${procs.join(' ')}`);
      await d.delete(id, { force: true });
      assert.equal(await stillRunningAfter(procs[0]!, 2000), false, `process ${procs[0]} outlived the forced delete`);
    });

    test('drivers of one process share one sealed copy of the runtime, closed with the last driver', async () => {
      const a = bed.newDriver();
      const b = bed.newDriver();
      const one = await bed.bundle({ args: ['true'] });
      const two = await bed.bundle({ args: ['true'] });
      const p1 = (await a.create(one.id, { bundle: one.bundle })).pid;
      const p2 = (await b.create(two.id, { bundle: two.bundle })).pid;
      // Both inits wait in the same copy (one memfd inode), and the process holds one copy of it, not one a driver.
      const [s1, s2] = await Promise.all([stat(`/proc/${p1}/exe`), stat(`/proc/${p2}/exe`)]);
      assert.equal(s1.ino, s2.ino);
      const runcCopies = (await openCopies()).filter((c) => c.binary === rt.path);
      assert.equal(runcCopies.length, 1);
      const users = runcCopies[0]!.users;
      assert.ok(users >= 2);
      a.close();
      assert.equal((await openCopies()).find((c) => c.binary === rt.path)?.users ?? 0, users - 1);
      // A closed driver still deletes what it made; a create after close takes a hold again.
      await a.delete(one.id, { force: true });
      b.close();
      assert.equal((await openCopies()).find((c) => c.binary === rt.path)?.users ?? 0, users - 2);
      await b.delete(two.id, { force: true });
    });
  });

describe('ConmonRuntime with a runtime Berth does not know (runc by another name): the plain command line', () => {
  let bed: RuntimeTestbed;
  before(async () => {
    bed = await RuntimeTestbed.create({ name: 'runc-plain', path: RUNC.path });
  });
  after(async () => {
    await bed.cleanup();
  });

  test('create, start, pause, update and delete through the CLI, from the installed binary', async () => {
    const d = bed.driver;
    assert.equal(d.cli.traits.startVia, 'cli');
    const { id, bundle } = await bed.bundle({ args: ['sh', '-c', 'sleep 60 & wait'] });
    const { pid } = await d.create(id, { bundle });
    assert.ok(!(await readlink(`/proc/${pid}/exe`)).startsWith('/memfd:runc-plain'), 'no sealed copy');
    await d.start(id);
    assert.equal((await d.state(id)).status, 'running');
    await assert.rejects(d.start(id), ConflictError);
    await d.pause(id);
    await assert.rejects(d.pause(id), ConflictError);
    await d.resume(id);
    await d.update(id, { pids: { limit: 43 } });
    assert.equal((await readFile(`/sys/fs/cgroup/pids/${id}/pids.max`, 'utf8')).trim(), '43');
    assert.deepEqual(
      (await readdir(d.cli.root)).filter((f) => f.startsWith('.update-')),
      [],
      'the resources file is removed',
    );
    await d.kill(id, 'SIGKILL');
    assert.equal((await d.waitExit(id)).exitCode, 137);
    await d.delete(id);
    await assert.rejects(d.state(id), NotFoundError);
  });
});
