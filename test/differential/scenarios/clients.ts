/**
 * What client libraries and everyday docker CLI use do, as each documents it: docker-py (the cases of the issue's
 * "found so far" list), dockerode, and `docker run` flags.
 */
import type { Scenario } from '../runner.ts';
import { remove } from './util.ts';

export const clients: Scenario[] = [
  {
    name: 'docker-py/containers and exec',
    async run(c) {
      const out = await c.py(`
ct = d.containers.run('busybox', ['sleep', '60'], detach=True, name='df-py', network_mode='none')
rec('exec_run', lambda: list(ct.exec_run(['sh', '-c', 'echo out; sleep 0.2; echo err >&2; exit 3'])))
rec('exec_run tty', lambda: list(ct.exec_run(['sh', '-c', 'echo hello out'], tty=True)))
rec('exec_run missing', lambda: ct.exec_run(['/no/such'])[0])
rec('exec_run not executable', lambda: ct.exec_run(['/etc/passwd'])[0])
e = c.exec_create(ct.id, ['sh', '-c', 'exit 0'])
rec('exec_start detach', lambda: c.exec_start(e['Id'], detach=True))
e2 = c.exec_create(ct.id, ['echo', 'sock'])
def first_frame():
    s = c.exec_start(e2['Id'], socket=True)
    sock = getattr(s, '_sock', s)
    data = b''
    while len(data) < 8:
        chunk = sock.recv(64)
        if not chunk: break
        data += chunk
    return list(data[:8])
rec('exec_start socket first frame', first_frame)
rec('stats stream=False keys', lambda: sorted(ct.stats(stream=False).keys()))
rec('stats networks', lambda: sorted((ct.stats(stream=False).get('networks') or {}).keys()))
rec('commit running', lambda: type(ct.commit('df-py-commit', 'v1')).__name__)
rec('commit pause=False', lambda: type(ct.commit('df-py-commit', 'v2', pause=False)).__name__)
rec('remove running', lambda: ct.remove())
rec('kill then Running', lambda: (ct.kill(), c.inspect_container(ct.id)['State']['Running'])[1])
ct.remove(force=True)
c2 = d.containers.run('busybox', ['sh', '-c', 'echo logged'], detach=True, name='df-py-2', network_mode='none')
c2.wait()
rec('attach logs stream=0', lambda: c.attach(c2.id, stdout=True, stderr=True, stream=False, logs=True))
rec('containers.run output', lambda: d.containers.run('busybox', ['echo', 'hi'], remove=True, network_mode='none'))
rec('containers.run exit 3', lambda: d.containers.run('busybox', ['sh', '-c', 'exit 3'], remove=True, network_mode='none'))
rec('list sparse', lambda: sorted(c.containers(all=True, filters={'name': 'df-py-2'})[0].keys()))
rec('get by name', lambda: d.containers.get('df-py-2').name)
rec('get missing', lambda: d.containers.get('df-nosuch'))
c2.remove()
rec('containers prune', lambda: d.containers.prune(filters={'label': 'df.none'}))
rec('images list RepoTags', lambda: [i.tags for i in d.images.list(name='busybox')])
rec('images get missing', lambda: d.images.get('df-nosuch:1'))
rec('remove image in use', lambda: None)
for t in ['df-py-commit:v1', 'df-py-commit:v2']:
    try: d.images.remove(t, force=True)
    except Exception: pass
rec('volumes create', lambda: d.volumes.create('df-py-vol').name)
rec('volumes prune', lambda: sorted(d.volumes.prune(filters={'label': 'df.none'}).keys()))
rec('info keys', lambda: 'OSType' in d.info())
rec('version ApiVersion', lambda: d.version()['ApiVersion'] != '')
d.volumes.get('df-py-vol').remove()
`);
      c.rec.json('docker-py results', out);
      c.rec.json('docker-py values', out, [
        'exec_run.ok',
        'exec_run tty.ok',
        'exec_run missing.ok',
        'exec_run not executable.ok',
        'exec_start detach',
        'exec_start socket first frame',
        'stats networks.ok',
        'commit running',
        'commit pause=False',
        'remove running',
        'kill then Running',
        'attach logs stream=0',
        'containers.run output',
        'containers.run exit 3',
        'get missing',
        'images get missing',
        'images list RepoTags',
      ]);
      await remove(c, 'df-py', 'df-py-2');
    },
  },
  {
    name: 'dockerode',
    async run(c) {
      const docker = c.dockerode();
      const ct = await docker.createContainer({
        Image: 'busybox',
        Cmd: ['sh', '-c', 'echo out; sleep 0.2; echo err >&2; exit 4'],
        name: 'df-node',
        HostConfig: { NetworkMode: 'none' },
      });
      await ct.start();
      c.rec.json('wait', await ct.wait(), ['StatusCode']);
      const logs = (await ct.logs({ stdout: true, stderr: true })) as Buffer;
      c.rec.add('logs', { bytes: logs.toString('latin1') });
      c.rec.json('listContainers', await docker.listContainers({ all: true, filters: { name: ['df-node'] } }));
      c.rec.json('inspect', await ct.inspect(), ['State.Status', 'State.ExitCode']);
      const err = await docker
        .getContainer('df-nosuch')
        .inspect()
        .catch((e: { statusCode: number; json: unknown; message: string }) => e);
      c.rec.add('inspect missing', { statusCode: err.statusCode, json: err.json, message: err.message });
      const info = await docker.getImage('busybox').inspect();
      c.rec.json('image inspect', info, ['RepoTags']);
      await ct.remove();
    },
  },
  {
    name: 'docker CLI/run flags',
    async run(c) {
      const r = (label: string, args: string[]) =>
        c.cli(['run', '--rm', '--network', 'none', ...args]).then((x) => c.rec.cli(label, x));
      await r('--ipc host', ['--ipc', 'host', 'busybox', 'true']);
      await r('--uts host', [
        '--uts',
        'host',
        'busybox',
        'sh',
        '-c',
        'test "$(hostname)" = "$(cat /proc/sys/kernel/hostname)" && echo same',
      ]);
      // In the host's PID namespace the shell is not PID 1 (in its own it is): the exit code says which.
      await r('--pid host', ['--pid', 'host', 'busybox', 'sh', '-c', 'test $$ != 1']);
      await r('--pid private', ['busybox', 'sh', '-c', 'test $$ != 1']);
      await r('--userns host', ['--userns', 'host', 'busybox', 'true']);
      await r('--isolation default', ['--isolation', 'default', 'busybox', 'true']);
      await r('--cgroupns private', ['--cgroupns', 'private', 'busybox', 'true']);
      await r('--oom-kill-disable', ['--oom-kill-disable', '-m', '64m', 'busybox', 'true']);
      await r('--memory-reservation', ['--memory-reservation', '32m', 'busybox', 'true']);
      await r('--cpu-period/--cpu-quota', ['--cpu-period', '100000', '--cpu-quota', '50000', 'busybox', 'true']);
      await r('--blkio-weight', ['--blkio-weight', '300', 'busybox', 'true']);
      await r('--log-driver none', ['--log-driver', 'none', 'busybox', 'echo', 'x']);
      await r('--log-driver local', ['--log-driver', 'local', 'busybox', 'echo', 'x']);
      await r('--device-cgroup-rule', [
        '--device-cgroup-rule',
        'c 7:128 rwm',
        'busybox',
        'sh',
        '-c',
        'grep -c "c 7:128 rwm" /sys/fs/cgroup/devices/devices.list || true',
      ]);
      await r('--cidfile', ['--cidfile', `${c.engine.dir}/cid-${Date.now()}`, 'busybox', 'true']);
      await r('-w -e -u', ['-w', '/tmp', '-e', 'X=1', '-u', '1:1', 'busybox', 'sh', '-c', 'echo $PWD $X $(id -u)']);
      await r('unknown image', ['df-nosuch-image:1', 'true']);
      await r('--link to a missing container', ['--link', 'df-nosuch:alias', 'busybox', 'true']);
      c.rec.cli('docker search', await c.cli(['search', '127.0.0.1:9/busybox']));
    },
  },
];
