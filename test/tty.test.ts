/**
 * `docker run -it` and `docker attach` on a real terminal: each CLI runs in a tmux pane (tmux on its own socket in
 * the test's temp dir), the test types into it with `send-keys` and reads the screen with `capture-pane`.
 * Covers typed commands and their output, the pty size and its change on a window resize, the exit code, and
 * detaching with ctrl-p ctrl-q (the container keeps running). The same for the berth CLI.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, BERTH, docker, run, startDaemon, waitFor, type Daemon } from './harness.ts';

describe('interactive terminals (tmux)', () => {
  let d: Daemon;
  let dir: string;
  let tmuxSocket: string;
  let tmuxConf: string;
  let n = 0;

  const tmux = async (...args: string[]) => {
    // A pane stays on the screen after its command ends (remain-on-exit), so its last words can be read.
    const r = await run('tmux', ['-S', tmuxSocket, '-f', tmuxConf, ...args], {}, undefined, { timeoutMs: 10_000 });
    assert.equal(r.code, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const screen = (target: string) => tmux('capture-pane', '-p', '-t', target);
  /** Waits until the pane shows `re`; the screen is in the message when it does not. */
  const see = async (target: string, re: RegExp) => {
    let last = '';
    await waitFor(
      `${re} on the screen`,
      async () => re.test((last = await screen(target).catch(() => last))),
      15_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the screen:\n${last}`);
    });
  };
  /** Starts `cmd` (shell words) in a new tmux session of 100x30; its exit code goes to the returned file. */
  const session = async (cmd: string): Promise<{ target: string; exitFile: string }> => {
    const name = `s${++n}`;
    const exitFile = join(dir, `${name}.exit`);
    const script = join(dir, `${name}.sh`);
    await writeFile(
      script,
      `export DOCKER_HOST='${d.host}' BERTH_HOST='${d.host}' DOCKER_CONFIG='${join(d.dir, 'docker-config')}'\n${cmd}\necho $? > '${exitFile}'\n`,
    );
    await tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', 'sh', script);
    return { target: name, exitFile };
  };
  const exitCode = async (file: string) => {
    await waitFor(`the exit code in ${file}`, () => existsSync(file));
    return Number((await readFile(file, 'utf8')).trim());
  };

  before(async () => {
    d = await startDaemon({ seed: true });
    dir = await mkdtemp(join(tmpdir(), 'berth-tty-'));
    tmuxSocket = join(dir, 'tmux.sock');
    tmuxConf = join(dir, 'tmux.conf');
    await writeFile(tmuxConf, 'set -g remain-on-exit on\n');
  });

  after(async () => {
    // Our own tmux server only (its socket is in our temp dir).
    if (tmuxSocket && existsSync(tmuxSocket)) await run('tmux', ['-S', tmuxSocket, 'kill-server']);
    if (d) {
      const list = await api(d.socket, 'GET', '/containers/json?all=1').catch(() => undefined);
      for (const c of list && list.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : [])
        await api(d.socket, 'DELETE', `/containers/${c.Id}?force=1`);
      await d.cleanup();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const cli of ['docker', BERTH]) {
    const label = cli === 'docker' ? 'docker' : 'berth';

    it(`${label} run -it --rm busybox sh: typed commands, stty size follows a resize, exit 3 is the exit code`, async () => {
      const s = await session(`${cli} run -it --rm --network none busybox sh`);
      await see(s.target, /^\/ #/m);
      await tmux('send-keys', '-t', s.target, 'echo hello-$((6*7))', 'Enter');
      await see(s.target, /^hello-42$/m);
      await tmux('send-keys', '-t', s.target, 'stty size', 'Enter');
      await see(s.target, /^30 100$/m);
      await tmux('resize-window', '-t', s.target, '-x', '120', '-y', '40');
      // The new size travels CLI (SIGWINCH) → API resize → conmon → pty: ask again until it has arrived.
      await waitFor(
        'stty size to show the new size',
        async () => {
          await tmux('send-keys', '-t', s.target, 'clear; stty size', 'Enter');
          await new Promise((r) => setTimeout(r, 200));
          return /^40 120$/m.test(await screen(s.target));
        },
        10_000,
      );
      await tmux('send-keys', '-t', s.target, 'exit 3', 'Enter');
      assert.equal(await exitCode(s.exitFile), 3);
      const left = JSON.parse((await api(d.socket, 'GET', '/containers/json?all=1')).body) as unknown[];
      assert.deepEqual(left, [], '--rm removed the container');
    });

    it(`${label} attach to a run -it -d container; ctrl-p ctrl-q detaches and the container keeps running`, async () => {
      const name = `tty-${label}`;
      const r = await docker(d, ['run', '-it', '-d', '--name', name, '--network', 'none', 'busybox', 'sh']);
      assert.equal(r.code, 0, r.stderr);
      const s = await session(`${cli} attach ${name}`);
      await tmux('send-keys', '-t', s.target, `echo attached-$((40+2))`, 'Enter');
      await see(s.target, /^attached-42$/m);
      await tmux('send-keys', '-t', s.target, 'C-p', 'C-q');
      // As the docker CLI: the escape sequence ends attach with "read escape sequence" and status 1.
      await see(s.target, /read escape sequence/);
      assert.equal(await exitCode(s.exitFile), 1);
      const st = JSON.parse((await api(d.socket, 'GET', `/containers/${name}/json`)).body) as {
        State: { Status: string };
      };
      assert.equal(st.State.Status, 'running', 'the container still runs after the detach');
      // The shell is still there: a second attach reaches it.
      const again = await session(`${cli} attach ${name}`);
      await tmux('send-keys', '-t', again.target, 'exit 5', 'Enter');
      assert.equal(await exitCode(again.exitFile), 5, 'attach ends with the container, with its exit code');
      await api(d.socket, 'DELETE', `/containers/${name}?force=1`);
    });
  }
});
