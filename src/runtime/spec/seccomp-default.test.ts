import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, resolveCapabilities } from './capabilities.ts';
import { toOciSeccomp } from './seccomp.ts';
import { AF_VSOCK, CLONE_NAMESPACE_FLAGS, defaultSeccompProfile, ENOSYS, NEVER_ALLOWED } from './seccomp-default.ts';
import { ALLOW, EPERM_VERDICT, evaluateSeccomp, type Verdict } from './testkit.ts';

/** The filter a container gets with the default profile and these --cap-add / --cap-drop. */
function filterFor(capAdd: string[] = [], capDrop: string[] = [], arch = 'x64') {
  const capabilities = resolveCapabilities({ capAdd, capDrop });
  return toOciSeccomp(defaultSeccompProfile(), { capabilities, arch, kernel: '6.1.0' });
}
const verdict = (syscall: string, args: number[] = [], capAdd: string[] = [], capDrop: string[] = []): Verdict =>
  evaluateSeccomp(filterFor(capAdd, capDrop), syscall, args);

/** Asserts each syscall is refused by default and allowed once any one of `caps` is added. */
function blockedUnlessCap(syscalls: string[], caps: string[]) {
  for (const s of syscalls) {
    assert.deepEqual(verdict(s), EPERM_VERDICT, `${s} must be refused with Docker's default capabilities`);
    for (const cap of caps)
      assert.deepEqual(verdict(s, [], [cap]), ALLOW, `${s} must be allowed with --cap-add ${cap}`);
  }
}
/** Asserts each syscall is refused even with every capability but --privileged. */
function alwaysBlocked(syscalls: string[]) {
  for (const s of syscalls) {
    assert.deepEqual(verdict(s), EPERM_VERDICT, `${s} must be refused`);
    assert.deepEqual(verdict(s, [], ['ALL']), EPERM_VERDICT, `${s} must be refused even with --cap-add ALL`);
  }
}

test('profile shape: deny with EPERM by default, x86_64 with its 32-bit ABIs, aarch64 with arm', () => {
  const f = filterFor();
  assert.equal(f.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(f.defaultErrnoRet, 1);
  assert.deepEqual(f.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(filterFor([], [], 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('ordinary programs (a shell, busybox, glibc, musl, Node, Python) find what they need', () => {
  const needed = [
    'read',
    'write',
    'openat',
    'open',
    'close',
    'execve',
    'exit_group',
    'mmap',
    'mprotect',
    'munmap',
    'brk',
    'rt_sigaction',
    'rt_sigprocmask',
    'rt_sigreturn',
    'ioctl',
    'pread64',
    'fstat',
    'newfstatat',
    'lseek',
    'getdents64',
    'fcntl',
    'dup2',
    'pipe2',
    'wait4',
    'fork',
    'vfork',
    'kill',
    'getpid',
    'getuid',
    'setuid',
    'setgroups',
    'chdir',
    'getcwd',
    'uname',
    'arch_prctl',
    'set_tid_address',
    'set_robust_list',
    'prlimit64',
    'futex',
    'epoll_create1',
    'epoll_ctl',
    'epoll_wait',
    'eventfd2',
    'socketpair',
    'connect',
    'bind',
    'accept4',
    'sendmsg',
    'recvmsg',
    'getrandom',
    'madvise',
    'sched_getaffinity',
    'sched_yield',
    'clock_gettime',
    'nanosleep',
    'clock_nanosleep',
    'sigaltstack',
    'mremap',
    'statfs',
    'readlink',
    'unlinkat',
    'renameat2',
    'mkdirat',
    'fchownat',
    'utimensat',
    'chroot',
    'sendfile',
    'copy_file_range',
    'memfd_create',
    'membarrier',
    'capget',
    'capset',
    'prctl',
    'getxattr',
    'setxattr',
    'flock',
    'inotify_init1',
    'timerfd_create',
    'signalfd4',
    'shmget',
    'semget',
    'msgget',
    'mq_open',
    'mknodat',
    'setsid',
    'setpgid',
    'getrusage',
    // newer ones libcs and runtimes try first
    'faccessat2',
    'close_range',
    'openat2',
    'epoll_pwait2',
    'pidfd_open',
    'pidfd_send_signal',
    'statx',
    'rseq',
    'landlock_create_ruleset',
    'landlock_add_rule',
    'landlock_restrict_self',
    'futex_waitv',
    'fchmodat2',
    'cachestat',
    'mseal',
    'map_shadow_stack',
    'futex_wake',
    'futex_wait',
    'futex_requeue',
    'process_mrelease',
    // tracing of the container's own processes (Docker's behaviour on kernels ≥ 4.8)
    'ptrace',
    'process_vm_readv',
    'process_vm_writev',
  ];
  for (const s of needed) assert.deepEqual(verdict(s), ALLOW, `${s} must be allowed`);
});

test('clone3 fails with ENOSYS so libc falls back to clone; with CAP_SYS_ADMIN it is allowed', () => {
  assert.deepEqual(verdict('clone3'), { action: 'SCMP_ACT_ERRNO', errno: ENOSYS });
  assert.deepEqual(verdict('clone3', [], ['SYS_ADMIN']), ALLOW);
});

test('clone: fork and threads are allowed, every namespace flag is refused without CAP_SYS_ADMIN', () => {
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
  const SIGCHLD = 17;
  const fork = 0x01000000 | 0x00200000 | SIGCHLD; // CHILD_SETTID | CHILD_CLEARTID | SIGCHLD (glibc's fork)
  const thread = 0x003d0f00; // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
  assert.deepEqual(verdict('clone', [fork]), ALLOW);
  assert.deepEqual(verdict('clone', [thread]), ALLOW);
  const flags = {
    NEWNS: 0x20000,
    NEWCGROUP: 0x02000000,
    NEWUTS: 0x04000000,
    NEWIPC: 0x08000000,
    NEWUSER: 0x10000000,
    NEWPID: 0x20000000,
    NEWNET: 0x40000000,
  };
  for (const [name, flag] of Object.entries(flags)) {
    assert.deepEqual(verdict('clone', [flag | SIGCHLD]), EPERM_VERDICT, `clone(CLONE_${name}) must be refused`);
    assert.deepEqual(verdict('clone', [flag | SIGCHLD], ['SYS_ADMIN']), ALLOW, `clone(CLONE_${name}) with SYS_ADMIN`);
  }
});

test('unshare and setns (new or foreign namespaces) need CAP_SYS_ADMIN', () => {
  blockedUnlessCap(['unshare', 'setns'], ['SYS_ADMIN']);
});

test('mount, umount2, pivot_root and the new mount API need CAP_SYS_ADMIN', () => {
  blockedUnlessCap(
    [
      'mount',
      'umount',
      'umount2',
      'pivot_root',
      'fsopen',
      'fsconfig',
      'fsmount',
      'fspick',
      'move_mount',
      'open_tree',
      'mount_setattr',
    ],
    ['SYS_ADMIN'],
  );
});

test('kexec is refused whatever the capabilities', () => {
  alwaysBlocked(['kexec_load', 'kexec_file_load']);
});

test('kernel modules need CAP_SYS_MODULE', () => {
  blockedUnlessCap(['init_module', 'finit_module', 'delete_module'], ['SYS_MODULE']);
});

test('the kernel keyring (not namespaced) is refused whatever the capabilities', () => {
  alwaysBlocked(['keyctl', 'add_key', 'request_key']);
});

test('bpf needs CAP_SYS_ADMIN or CAP_BPF', () => {
  blockedUnlessCap(['bpf'], ['SYS_ADMIN', 'BPF']);
});

test('perf_event_open needs CAP_SYS_ADMIN or CAP_PERFMON', () => {
  blockedUnlessCap(['perf_event_open'], ['SYS_ADMIN', 'PERFMON']);
});

test('reboot needs CAP_SYS_BOOT', () => {
  blockedUnlessCap(['reboot'], ['SYS_BOOT']);
});

test('ptrace-like inspection of other processes (kcmp, pidfd_getfd, process_madvise) needs CAP_SYS_PTRACE', () => {
  blockedUnlessCap(['kcmp', 'pidfd_getfd', 'process_madvise'], ['SYS_PTRACE']);
});

test('personality: only execution domains that change nothing of security', () => {
  for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff])
    assert.deepEqual(verdict('personality', [v]), ALLOW, `personality(${v})`);
  const ADDR_NO_RANDOMIZE = 0x0040000;
  const READ_IMPLIES_EXEC = 0x0400000;
  for (const v of [ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, 0x0040008]) {
    assert.deepEqual(verdict('personality', [v]), EPERM_VERDICT, `personality(${v}) must be refused`);
    assert.deepEqual(verdict('personality', [v], ['ALL']), EPERM_VERDICT);
  }
});

test('process accounting needs CAP_SYS_PACCT', () => {
  blockedUnlessCap(['acct'], ['SYS_PACCT']);
});

test('swap is refused whatever the capabilities', () => {
  alwaysBlocked(['swapon', 'swapoff']);
});

test('setting the clock needs CAP_SYS_TIME', () => {
  blockedUnlessCap(
    ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'adjtimex', 'clock_adjtime'],
    ['SYS_TIME'],
  );
});

test('file handles: open_by_handle_at needs CAP_DAC_READ_SEARCH, name_to_handle_at CAP_SYS_ADMIN', () => {
  blockedUnlessCap(['open_by_handle_at'], ['DAC_READ_SEARCH']);
  blockedUnlessCap(['name_to_handle_at'], ['SYS_ADMIN']);
});

test('userfaultfd and io_uring are refused whatever the capabilities', () => {
  alwaysBlocked(['userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register']);
});

test('whole-host observation (lookup_dcookie, quotactl, fanotify_init) needs CAP_SYS_ADMIN', () => {
  blockedUnlessCap(['lookup_dcookie', 'quotactl', 'quotactl_fd', 'fanotify_init'], ['SYS_ADMIN']);
});

test('the kernel log needs CAP_SYSLOG or CAP_SYS_ADMIN', () => {
  blockedUnlessCap(['syslog'], ['SYSLOG', 'SYS_ADMIN']);
});

test('NUMA policy needs CAP_SYS_NICE; page migration is refused whatever the capabilities', () => {
  blockedUnlessCap(['mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node'], ['SYS_NICE']);
  alwaysBlocked(['move_pages', 'migrate_pages']);
});

test('raw port IO needs CAP_SYS_RAWIO; vhangup needs CAP_SYS_TTY_CONFIG', () => {
  blockedUnlessCap(['iopl', 'ioperm'], ['SYS_RAWIO']);
  blockedUnlessCap(['vhangup'], ['SYS_TTY_CONFIG']);
});

test('hostname changes need CAP_SYS_ADMIN', () => {
  blockedUnlessCap(['sethostname', 'setdomainname'], ['SYS_ADMIN']);
});

test('obsolete and dangerous legacy calls are refused whatever the capabilities', () => {
  alwaysBlocked([
    'nfsservctl',
    'vm86',
    'vm86old',
    'uselib',
    'ustat',
    'sysfs',
    '_sysctl',
    'create_module',
    'get_kernel_syms',
    'query_module',
    'lsm_set_self_attr',
  ]);
  for (const s of NEVER_ALLOWED) assert.deepEqual(verdict(s, [], ['ALL']), EPERM_VERDICT, s);
});

test('socket: every family but AF_VSOCK', () => {
  for (const family of [1, 2, 10, 16, 17]) assert.deepEqual(verdict('socket', [family]), ALLOW, `socket(${family})`);
  assert.deepEqual(verdict('socket', [AF_VSOCK]), EPERM_VERDICT);
});

test('chroot follows CAP_SYS_CHROOT, which is in the default set and can be dropped', () => {
  assert.ok(DEFAULT_CAPABILITIES.includes('CAP_SYS_CHROOT'));
  assert.deepEqual(verdict('chroot'), ALLOW);
  assert.deepEqual(verdict('chroot', [], [], ['SYS_CHROOT']), EPERM_VERDICT);
});

test('arch-specific calls appear only on their architecture', () => {
  assert.deepEqual(evaluateSeccomp(filterFor(), 'arch_prctl'), ALLOW);
  assert.deepEqual(evaluateSeccomp(filterFor(), 'modify_ldt'), ALLOW);
  assert.deepEqual(evaluateSeccomp(filterFor(), 'set_tls'), EPERM_VERDICT);
  assert.deepEqual(evaluateSeccomp(filterFor([], [], 'arm64'), 'set_tls'), ALLOW);
  assert.deepEqual(evaluateSeccomp(filterFor([], [], 'arm64'), 'arch_prctl'), EPERM_VERDICT);
});

test('with --cap-add ALL the filter is still unambiguous for every named syscall', () => {
  const f = toOciSeccomp(defaultSeccompProfile(), { capabilities: [...ALL_CAPABILITIES], arch: 'x64' });
  for (const name of new Set(f.syscalls!.flatMap((r) => r.names))) evaluateSeccomp(f, name, [0]);
});

test('every x86_64 syscall of the installed kernel headers is either allowed or deliberately refused', (t) => {
  let header: string;
  try {
    header = readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  } catch {
    t.skip('kernel headers are not installed');
    return;
  }
  const named = new Set([...defaultSeccompProfile().syscalls!.flatMap((r) => r.names ?? []), ...NEVER_ALLOWED]);
  const missing = [...header.matchAll(/#define __NR_(\w+)/g)].map((m) => m[1]!).filter((n) => !named.has(n));
  assert.deepEqual(missing, [], `syscalls the profile neither allows nor lists as refused: ${missing.join(' ')}`);
});

test('each call returns a fresh profile', () => {
  const a = defaultSeccompProfile();
  a.syscalls!.length = 0;
  assert.ok(defaultSeccompProfile().syscalls!.length > 10);
});
