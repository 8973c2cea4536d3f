/**
 * What runc costs for berthd's spec against dockerd's (issue 9): starts berthd (this tree) and Debian's dockerd, runs
 * the same `docker run -d --network none busybox sleep 60` in each, takes the two `config.json` files runc got, and
 * then, with runc alone on a plain busybox root (no engine, no monitor), measures `runc create` + `runc start` and
 * the container's own process (runc init until its exec) for each spec and for berthd's spec with each of its
 * differences from dockerd's replaced by dockerd's, in interleaved rounds: `--serial` containers one after another
 * (CPU per container) and bursts of `--burst` at once (wall and CPU per burst). runc's CPU comes from this
 * process's reaped children (ticks: one batch's total divided by its size), the containers' from their schedstat
 * (ns) before the delete. The variants marked "changes behaviour" are shown for their cost only.
 * Each other part of berthd's spec is also left out or changed one at a time (masked and read-only paths, each mount,
 * device rules, resources, namespaces, capabilities, seccomp's argument rules …), and every batch gives the whole
 * machine's CPU (/proc/stat) through the creates and starts and through the deletes and 300 ms after ("down": the
 * kernel's deferred teardown of the namespaces and mounts).
 * `node bench/runc-spec.ts [--rounds 3] [--serial 10] [--burst 20] [--specs DIR] [--only REGEXP]` (DIR: keep the
 * two specs there; REGEXP: only the variants whose names match, beside berthd's)
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxRootfs, RUNC } from '../src/runtime/testkit.ts';
import { DOCKER, dockerEnv, startBerthd, startDockerd, waitForBusybox } from './lib/engines.ts';
import { cpuMs, machineBusy, run } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    serial: { type: 'string', default: '10' },
    burst: { type: 'string', default: '20' },
    specs: { type: 'string' },
    only: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const nSerial = Number(values.serial);
const nBurst = Number(values.burst);

type Spec = {
  root: { path: string; readonly?: boolean };
  process: { args: string[]; terminal?: boolean; rlimits?: unknown; capabilities?: unknown };
  mounts: { destination: string; type: string; source: string }[];
  hooks?: unknown;
  annotations?: unknown;
  linux: Record<string, unknown> & { cgroupsPath: string; seccomp?: { architectures: string[] } };
};

/** The config.json runc got for one `run -d` in each engine. */
async function engineSpecs(): Promise<{ berthd: Spec; dockerd: Spec }> {
  const b = await startBerthd({ seed: true });
  const d = await startDockerd();
  try {
    await waitForBusybox(dockerEnv(b));
    const archive = join(b.dir, 'busybox.tar');
    await run(DOCKER, ['save', '-o', archive, 'busybox'], { env: dockerEnv(b) });
    await run(DOCKER, ['load', '-i', archive], { env: dockerEnv(d) });
    const argv = ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'];
    const bid = (await run(DOCKER, argv, { env: dockerEnv(b) })).stdout.trim();
    const did = (await run(DOCKER, argv, { env: dockerEnv(d) })).stdout.trim();
    const berthd = JSON.parse(
      await readFile(join(b.dir, 'data', 'containers', bid, 'bundle', 'config.json'), 'utf8'),
    ) as Spec;
    const task = join(d.dir, 'dx', 'containerd', 'daemon', 'io.containerd.runtime.v2.task', 'moby', did);
    const dockerd = JSON.parse(await readFile(join(task, 'config.json'), 'utf8')) as Spec;
    for (const [e, id] of [
      [b, bid],
      [d, did],
    ] as const)
      await run(DOCKER, ['rm', '-f', id], { env: dockerEnv(e), allowFail: true });
    return { berthd, dockerd };
  } finally {
    await b.stop();
    await d.stop();
  }
}

/** berthd's spec with one of its parts made dockerd's (`undefined`: the part left out). */
function variants(b: Spec, d: Spec): Map<string, Spec> {
  const out = new Map<string, Spec>([
    ['berthd', b],
    ['dockerd (its hook left out)', d],
  ]);
  const withLinux = (name: string, key: string): void => {
    const s = structuredClone(b);
    if (d.linux[key] === undefined) delete s.linux[key];
    else s.linux[key] = structuredClone(d.linux[key]);
    out.set(name, s);
  };
  withLinux("berthd, dockerd's seccomp profile", 'seccomp');
  withLinux("berthd, dockerd's linux.devices", 'devices');
  withLinux("berthd, dockerd's resources (devices rules)", 'resources');
  withLinux("berthd, dockerd's masked paths", 'maskedPaths');
  withLinux("berthd, dockerd's sysctls", 'sysctl');
  withLinux("berthd, dockerd's namespaces' order", 'namespaces');
  const noRlimits = structuredClone(b);
  delete noRlimits.process.rlimits;
  out.set("berthd, dockerd's rlimits (none)", noRlimits);
  const caps = structuredClone(b);
  caps.process.capabilities = structuredClone(d.process.capabilities);
  out.set("berthd, dockerd's capabilities' order", caps);
  // berthd gives each rule's names from the highest x86_64 number down (spec/seccomp.ts); Docker alphabetically.
  const order = (name: string, f: (names: string[]) => string[]): void => {
    const s = structuredClone(b);
    const sc = s.linux.seccomp as { syscalls: { names: string[] }[] } | undefined;
    for (const r of sc?.syscalls ?? []) r.names = f(r.names);
    out.set(name, s);
  };
  order("berthd, each rule's names reversed (lowest number first)", (n) => [...n].reverse());
  order("berthd, each rule's names alphabetical (Docker's order)", (n) => [...n].sort());
  const arch = (name: string, arches: string[] | undefined): void => {
    const s = structuredClone(b);
    if (arches === undefined) delete s.linux.seccomp;
    else s.linux.seccomp!.architectures = arches;
    out.set(`${name} (changes behaviour)`, s);
  };
  arch('berthd, seccomp for x86_64 + x86 only', ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  arch('berthd, seccomp for x86_64 only', ['SCMP_ARCH_X86_64']);
  arch('berthd, no seccomp', undefined);
  // each remaining part of berthd's spec left out or changed, one at a time, for what it costs runc and the kernel
  const drop = (name: string, f: (s: Spec) => void, same = false): void => {
    const s = structuredClone(b);
    f(s);
    out.set(same ? name : `${name} (changes behaviour)`, s);
  };
  const lx = (s: Spec): Record<string, unknown> => s.linux;
  drop('berthd, no masked paths', (s) => delete lx(s).maskedPaths);
  drop('berthd, no read-only paths', (s) => delete lx(s).readonlyPaths);
  drop('berthd, neither masked nor read-only paths', (s) => {
    delete lx(s).maskedPaths;
    delete lx(s).readonlyPaths;
  });
  const noMount = (dest: string): void =>
    drop(`berthd, no ${dest} mount`, (s) => {
      s.mounts = s.mounts.filter((m) => m.destination !== dest);
    });
  for (const m of ['/sys/fs/cgroup', '/sys', '/dev/mqueue', '/dev/shm', '/dev/pts']) noMount(m);
  drop('berthd, no /etc bind mounts', (s) => {
    s.mounts = s.mounts.filter((m) => !m.destination.startsWith('/etc/'));
  });
  drop('berthd, no linux.devices (runc adds its defaults)', (s) => delete lx(s).devices, true);
  drop('berthd, no device cgroup rules', (s) => {
    const r = lx(s).resources as Record<string, unknown> | undefined;
    if (r) delete r.devices;
  });
  drop('berthd, no resources', (s) => delete lx(s).resources);
  drop('berthd, no cgroupsPath (runc names one)', (s) => delete lx(s).cgroupsPath, true);
  drop('berthd, oomScoreAdj 0 (as dockerd)', (s) => ((s.process as Record<string, unknown>).oomScoreAdj = 0), true);
  drop('berthd, no capabilities', (s) => delete s.process.capabilities);
  drop('berthd, no annotations', (s) => delete s.annotations, true);
  for (const ns of ['network', 'pid', 'ipc', 'uts'])
    drop(`berthd, no new ${ns} namespace`, (s) => {
      lx(s).namespaces = (lx(s).namespaces as { type: string }[]).filter((n) => n.type !== ns);
    });
  drop('berthd, seccomp without its argument rules', (s) => {
    const sc = s.linux.seccomp as unknown as { syscalls: { args?: unknown[] }[] };
    sc.syscalls = sc.syscalls.filter((r) => !r.args?.length);
  });
  drop(
    "berthd, seccomp's plain allow rules merged into one",
    (s) => {
      const sc = s.linux.seccomp as unknown as { syscalls: { names: string[]; action: string; args?: unknown[] }[] };
      const plain = sc.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args?.length);
      const first = plain[0]!;
      for (const r of plain.slice(1)) first.names.push(...r.names);
      sc.syscalls = sc.syscalls.filter((r) => r === first || !plain.includes(r));
    },
    true,
  );
  if (values.only) {
    const re = new RegExp(values.only);
    for (const k of [...out.keys()]) if (k !== 'berthd' && !re.test(k)) out.delete(k);
  }
  return out;
}

function runcStep(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (x: Buffer) => (err += x.toString()));
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')}: ${code} ${err}`))));
  });
}

const schedMs = async (pid: number): Promise<number> =>
  Number((await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => '0')).split(' ')[0]) / 1e6;

interface Figures {
  wall: number;
  runc: number;
  container: number;
  machine: number;
  /** The machine's CPU through the `runc delete`s and 300 ms after (the namespaces' deferred teardown). */
  teardown: number;
}

/** `ids` created and started (all at once when `together`), then deleted: the batch's wall and CPU. */
async function batch(dir: string, rootfs: string, spec: Spec, ids: string[], together: boolean): Promise<Figures> {
  const root = join(dir, 'state');
  for (const id of ids) {
    const s = structuredClone(spec);
    s.root = { path: rootfs, readonly: false };
    s.process.args = ['sleep', '1000'];
    s.process.terminal = false;
    delete s.hooks;
    for (const m of s.mounts)
      if (m.type === 'bind' && m.destination.startsWith('/etc/')) m.source = join(dir, m.destination.slice(5));
    s.linux.cgroupsPath = `/berth-bench-spec/${id}`;
    await mkdir(join(dir, id), { recursive: true });
    await writeFile(join(dir, id, 'config.json'), JSON.stringify(s));
  }
  const one = async (id: string): Promise<void> => {
    await runcStep([
      RUNC.path,
      '--root',
      root,
      'create',
      '--bundle',
      join(dir, id),
      '--pid-file',
      join(dir, id, 'pid'),
      id,
    ]);
    await runcStep([RUNC.path, '--root', root, 'start', id]);
  };
  const reaped0 = cpuMs('self').reaped;
  const machine0 = machineBusy();
  const t0 = performance.now();
  try {
    if (together) await Promise.all(ids.map(one));
    else for (const id of ids) await one(id);
  } catch (err) {
    for (const id of ids) await runcStep([RUNC.path, '--root', root, 'delete', '--force', id]).catch(() => {});
    for (const id of ids) await rm(join(dir, id), { recursive: true, force: true });
    throw err;
  }
  const wall = performance.now() - t0;
  const machine = machineBusy() - machine0;
  const runc = cpuMs('self').reaped - reaped0;
  let container = 0;
  for (const id of ids) container += await schedMs(Number(await readFile(join(dir, id, 'pid'), 'utf8')));
  const down0 = machineBusy();
  for (const id of ids) await runcStep([RUNC.path, '--root', root, 'delete', '--force', id]).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  const teardown = machineBusy() - down0;
  for (const id of ids) await rm(join(dir, id), { recursive: true, force: true });
  return { wall, runc, container, machine, teardown };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const load = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

const dir = await mkdtemp('/tmp/berth-runc-spec-');
try {
  const t = new Date().toISOString();
  const load0 = await load();
  const specs = await engineSpecs();
  if (values.specs) {
    await mkdir(values.specs, { recursive: true });
    await writeFile(join(values.specs, 'berthd.json'), JSON.stringify(specs.berthd, null, 2));
    await writeFile(join(values.specs, 'dockerd.json'), JSON.stringify(specs.dockerd, null, 2));
  }
  const rootfs = await busyboxRootfs(dir);
  for (const f of ['hosts', 'hostname', 'resolv.conf']) await writeFile(join(dir, f), '');
  const vs = variants(specs.berthd, specs.dockerd);
  const serial = new Map<string, Figures[]>();
  const burst = new Map<string, Figures[]>();
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [name, spec] of vs) {
      const ids = (k: number): string[] => Array.from({ length: k }, () => `spec${n++}`);
      try {
        const one = await batch(dir, rootfs, spec, ids(nSerial), false);
        const all = await batch(dir, rootfs, spec, ids(nBurst), true);
        (serial.get(name) ?? serial.set(name, []).get(name)!).push(one);
        (burst.get(name) ?? burst.set(name, []).get(name)!).push(all);
      } catch (err) {
        // a variant runc refuses is left out of the rest of the run, and said so
        console.log(`${name}: runc failed, left out: ${(err as Error).message.split('\n')[0]!.slice(-200)}`);
        vs.delete(name);
      }
    }
  }
  console.log(`runc-spec: ${t}, ${rounds} rounds, load average ${load0} → ${await load()}; medians, ms`);
  console.log(
    `${'spec'.padEnd(58)} | one at a time, per container:  runc  init   sum   wall machine  down | ${nBurst} at once:   runc   init    sum   wall machine   down`,
  );
  for (const name of vs.keys()) {
    const s = serial.get(name);
    const b = burst.get(name);
    if (!s || !b) continue; // --rounds 0: only the specs
    const per = (k: keyof Figures): number => median(s.map((x) => x[k] / nSerial));
    const all = (k: keyof Figures): number => median(b.map((x) => x[k]));
    const f = (x: number): string => x.toFixed(1).padStart(7);
    console.log(
      `${name.padEnd(58)} | ${' '.repeat(26)}${f(per('runc'))}${f(per('container'))}${f(per('runc') + per('container'))}${f(per('wall'))}${f(per('machine'))}${f(per('teardown'))} | ${' '.repeat(9)}${f(all('runc'))}${f(all('container'))}${f(all('runc') + all('container'))}${f(all('wall'))}${f(all('machine'))}${f(all('teardown'))}`,
    );
  }
} finally {
  for (const ctrl of await readdir('/sys/fs/cgroup').catch(() => [] as string[]))
    await rmdir(join('/sys/fs/cgroup', ctrl, 'berth-bench-spec')).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
