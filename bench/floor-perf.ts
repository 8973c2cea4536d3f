/**
 * Where the kernel's share of the tight runc floor goes (bench/lib/tight-floors.ts): machine-wide `perf record -a -g`
 * through `--bursts` bursts of 20 `runc create` + `start` from a sealed copy, each followed by its teardown (20 `runc
 * delete` and 1 s for the deferred work), and each sample counted once under every kernel function of interest on its
 * stack (inclusive), by party: the namespaces' creation (net, mount, the others), mounts and pivot_root, cgroup
 * creation, attach and removal, exec, fork, exit, seccomp, page faults, and the deferred teardown in kernel threads.
 * `node bench/floor-perf.ts [--bursts N]`; prints ms per container (one sample ≈ 1/997 s of one CPU).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run, sleep } from './lib/proc.ts';
import { runcBed } from './lib/runc.ts';
import { runcTight, tightBed } from './lib/tight-floors.ts';

const { values } = parseArgs({ options: { bursts: { type: 'string', default: '2' } } });
const bursts = Number(values.bursts);
const N = 20;
const FREQ = 997;

/** Kernel functions whose inclusive samples are counted, by what they stand for. */
const FUNCTIONS: [string, string[]][] = [
  ['network namespace: creation (copy_net_ns)', ['copy_net_ns']],
  ['network namespace: teardown (cleanup_net)', ['cleanup_net']],
  ['mount namespace: copy (copy_mnt_ns)', ['copy_mnt_ns']],
  ['mount namespace: teardown (put_mnt_ns / umount_tree)', ['put_mnt_ns', 'free_mnt_ns']],
  ['all namespaces: creation (create_new_namespaces)', ['create_new_namespaces']],
  ['namespaces: release at exit (exit_task_namespaces / free_nsproxy)', ['free_nsproxy']],
  [
    'mount / umount / pivot_root',
    [
      '__x64_sys_mount',
      '__x64_sys_umount',
      '__x64_sys_pivot_root',
      '__x64_sys_move_mount',
      '__x64_sys_open_tree',
      '__x64_sys_fsmount',
      '__x64_sys_mount_setattr',
    ],
  ],
  ['cgroup: mkdir', ['cgroup_mkdir']],
  ['cgroup: rmdir and release', ['cgroup_rmdir', 'css_release_work_fn', 'css_free_rwork_fn', 'css_killed_work_fn']],
  ['cgroup: attach (cgroup.procs writes)', ['cgroup_attach_task', '__cgroup1_procs_write', '__cgroup_procs_write']],
  ['exec (bprm_execve)', ['bprm_execve']],
  ['fork / clone (copy_process)', ['copy_process']],
  ['exit (do_exit)', ['do_exit']],
  ['seccomp filters: load', ['__x64_sys_seccomp', 'do_seccomp']],
  ['page faults', ['asm_exc_page_fault']],
];

interface Count {
  samples: number;
  kernel: number;
  byFn: Map<string, number>;
}

function party(comm: string): string {
  if (comm.startsWith('kworker') || comm.startsWith('ksoftirqd') || comm.startsWith('rcu')) return 'kernel threads';
  if (comm === 'runc' || comm.startsWith('runc:') || comm === 'memfd:runc' || /^\d+$/.test(comm)) return 'runc';
  if (comm === 'sleep') return 'containers';
  if (comm === 'burst-spawn') return 'spawner';
  return 'other';
}

const dir = await mkdtemp('/tmp/berth-bench-floor-perf-');
const bed = await runcBed(join(dir, 'bed'));
const tight = await tightBed(bed, dir);
const counts = new Map<string, Count>();
try {
  await runcTight(bed, tight, N); // warm-up
  for (let b = 0; b < bursts; b++) {
    await sleep(1000);
    const data = join(dir, `floor${b}.data`);
    const perf = spawn('perf', ['record', '-a', '-g', '-F', String(FREQ), '-o', data], { stdio: 'ignore' });
    const exited = new Promise((r) => perf.once('exit', r));
    await sleep(200);
    await runcTight(bed, tight, N);
    perf.kill('SIGINT');
    await exited;
    const script = await run('perf', ['script', '-i', data, '-F', 'comm,ip,sym'], { timeoutMs: 300_000 });
    for (const block of script.stdout.split('\n\n')) {
      const lines = block.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 0) continue;
      const comm = lines[0]!.trim();
      const syms = new Set(lines.slice(1).map((l) => l.trim().split(/\s+/)[1] ?? ''));
      const p = party(comm);
      const c = counts.get(p) ?? { samples: 0, kernel: 0, byFn: new Map() };
      counts.set(p, c);
      c.samples++;
      const top = lines[1]?.trim().split(/\s+/)[0] ?? '';
      if (top.startsWith('ffffffff')) c.kernel++;
      for (const [what, fns] of FUNCTIONS)
        if (fns.some((f) => syms.has(f))) c.byFn.set(what, (c.byFn.get(what) ?? 0) + 1);
    }
    await rm(data, { force: true });
  }
} finally {
  tight.close();
  await bed.cleanup();
  await rm(dir, { recursive: true, force: true });
}
const ms = (samples: number) => ((samples * 1000) / FREQ / bursts / N).toFixed(2);
const parties = ['runc', 'containers', 'kernel threads', 'spawner', 'other'];
const out = [
  `### The kernel in the tight runc floor: perf record -a -g at ${FREQ} Hz through ${bursts} bursts of ${N} (create + start, then the teardown), ms of CPU per container (inclusive)`,
  '',
  `| | ${parties.join(' | ')} |`,
  `|---|${parties.map(() => '---|').join('')}`,
  `| all samples | ${parties.map((p) => ms(counts.get(p)?.samples ?? 0)).join(' | ')} |`,
  `| in the kernel | ${parties.map((p) => ms(counts.get(p)?.kernel ?? 0)).join(' | ')} |`,
  ...FUNCTIONS.map(
    ([what]) => `| ${what} | ${parties.map((p) => ms(counts.get(p)?.byFn.get(what) ?? 0)).join(' | ')} |`,
  ),
  '',
  '"runc" is every runc process: create, start, delete and each container\'s runc init until its exec; "containers" the `sleep`s; "other" everything else on the machine during the recording (other load included). perf\'s own sampling with call graphs inflates every figure.',
];
console.log(out.join('\n'));
