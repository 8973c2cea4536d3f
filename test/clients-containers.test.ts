/** Real Engine API clients running containers: dockerode (npm) and docker-py (Debian's python3-docker). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { run, startDaemon, type Daemon } from './harness.ts';

let d: Daemon;
before(async () => {
  d = await startDaemon({ seed: true });
});
after(() => d.cleanup());

describe('container clients', () => {
  it('dockerode: create, start, wait, logs (framed), exec, attach with stdin, remove', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const c = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'],
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    assert.deepEqual(await c.wait(), { StatusCode: 4, Error: null });
    const logs = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    assert.equal(logs.toString('latin1'), '\x01\0\0\0\0\0\0\x04out\n\x02\0\0\0\0\0\0\x04err\n');
    await c.remove();

    const s = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sleep', '30'],
      HostConfig: { NetworkMode: 'none' },
    });
    await s.start();
    const ex = await s.exec({ Cmd: ['sh', '-c', 'echo via-exec; exit 5'], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    let out = '';
    stream.on('data', (b: Buffer) => (out += b.toString('latin1')));
    await new Promise((r) => stream.on('end', r));
    assert.equal(out, '\x01\0\0\0\0\0\0\x09via-exec\n');
    assert.equal((await ex.inspect()).ExitCode, 5);
    await s.remove({ force: true });

    const a = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['cat'],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      HostConfig: { NetworkMode: 'none' },
    });
    const as = await a.attach({ stream: true, stdin: true, stdout: true, hijack: true });
    let aout = '';
    as.on('data', (b: Buffer) => (aout += b.toString('latin1')));
    await a.start();
    as.end('hello-attach\n');
    assert.deepEqual(await a.wait(), { StatusCode: 0, Error: null });
    assert.equal(aout, '\x01\0\0\0\0\0\0\x0dhello-attach\n');
    await a.remove();
  });

  it('docker-py: run returns the output, exec_run gives the exit code, logs and remove', async () => {
    const script = join(d.dir, 'client.py');
    await writeFile(
      script,
      [
        'import docker, sys',
        `c = docker.DockerClient(base_url='unix://${d.socket}')`,
        "print(c.version()['ApiVersion'])",
        "print(repr(c.containers.run('busybox', ['sh', '-c', 'echo hello-py'], network_mode='none', remove=True)))",
        "ct = c.containers.run('busybox', ['sh', '-c', 'echo started; sleep 30'], network_mode='none', detach=True)",
        "r = ct.exec_run(['sh', '-c', 'echo ex; exit 3'])",
        'print(r.exit_code, repr(r.output))',
        'import time',
        'for _ in range(50):',
        '    if ct.logs(): break',
        '    time.sleep(0.1)',
        'print(repr(ct.logs()))',
        'ct.remove(force=True)',
        'print(len(c.containers.list(all=True)))',
      ].join('\n'),
    );
    const r = await run('/usr/bin/python3', [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "1.47\nb'hello-py\\n'\n3 b'ex\\n'\nb'started\\n'\n0\n");
  });
});
