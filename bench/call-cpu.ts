/**
 * berthd's own CPU (every thread, schedstat) per Engine API call of a `docker run -d`, each call made `--calls`
 * times one after another (no CPU contention between them) by the benchmark's HTTP client, in `--rounds` rounds:
 * `HEAD /_ping` on its own connection, `POST /containers/create` (a minimal config), the held `POST
 * /containers/{id}/wait?condition=next-exit` (headers read, then the connection closed, as the CLI does when it
 * exits), `POST /containers/{id}/start`; and the whole `docker run -d` one by one, for what the CLI's requests add.
 * `node bench/call-cpu.ts [--calls N] [--rounds N]`
 */
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { call } from './lib/api.ts';
import { DOCKER, dockerEnv, startBerthd, waitForBusybox } from './lib/engines.ts';
import { run, schedstat, sleep } from './lib/proc.ts';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' } },
});
const n = Number(values.calls);
const e = await startBerthd({ seed: true });
const env = dockerEnv(e);
const cpu = () => schedstat(e.pid).onCpu / 1e6;
const heldWait = (id: string) =>
  new Promise<void>((resolve) => {
    const req = request(
      { socketPath: e.socket, method: 'POST', path: `/v1.47/containers/${id}/wait?condition=next-exit` },
      (res) =>
        setTimeout(() => {
          res.destroy();
          req.destroy();
          resolve();
        }, 5),
    );
    req.on('error', () => resolve());
    req.end();
  });
const out = new Map<string, number[]>();
const measure = async (name: string, fn: (i: number) => Promise<unknown>) => {
  await sleep(300);
  const c0 = cpu();
  for (let i = 0; i < n; i++) await fn(i);
  await sleep(200);
  out.set(name, [...(out.get(name) ?? []), (cpu() - c0) / n]);
};
const clean = async () => {
  const ids = (await run(DOCKER, ['ps', '-aq'], { env })).stdout.split('\n').filter(Boolean);
  if (ids.length) await run(DOCKER, ['rm', '-f', ...ids], { env, timeoutMs: 120_000 });
};
try {
  await waitForBusybox(env);
  for (let round = 0; round < Number(values.rounds); round++) {
    await measure('the loop at rest, per 10 ms', () => sleep(10));
    await measure('HEAD /_ping (own connection)', () => call(e.socket, 'HEAD', '/_ping'));
    const ids: string[] = [];
    const config = { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } };
    await measure('POST /containers/create', async () => {
      ids.push(((await call(e.socket, 'POST', '/v1.47/containers/create', config)).json as { Id: string }).Id);
    });
    await measure('POST /containers/{id}/wait (held, then closed)', (i) => heldWait(ids[i]!));
    await measure('POST /containers/{id}/start', (i) => call(e.socket, 'POST', `/v1.47/containers/${ids[i]}/start`));
    await clean();
    await measure('`docker run -d`, one by one (ping, create, wait, start)', () =>
      run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env }),
    );
    await clean();
  }
} finally {
  await e.stop();
}
console.log(
  `| berthd's CPU per call, ms (${n} calls one by one; rounds) | ${[...out.values()][0]!.map((_, i) => i + 1).join(' | ')} |`,
);
console.log(`|---|${[...out.values()][0]!.map(() => '---').join('|')}|`);
for (const [k, v] of out) console.log(`| ${k} | ${v.map((x) => x.toFixed(2)).join(' | ')} |`);
