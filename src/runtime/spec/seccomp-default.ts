/**
 * Berth's default seccomp profile, in Docker's profile format (converted per container by `toOciSeccomp`).
 *
 * Shape: deny by default (EPERM), then allow by family. A syscall is on the unconditional list only when it is
 * namespaced or checked by the kernel on its own, so that a container cannot reach the host through it.
 * Syscalls that act on the whole machine are allowed only when the container holds the capability the
 * kernel would demand anyway (so `--cap-add SYS_TIME` makes `date -s` work), and some never: they have no
 * namespace at all (the kernel keyring, kexec, swap, userfaultfd, io_uring, NUMA page migration).
 *
 * Decisions where Berth differs from, or chooses among, Docker's behaviours:
 * - ptrace, process_vm_readv/writev: allowed, as Docker does on kernels ≥ 4.8 (the seccomp bypass through
 *   ptrace was closed in 4.8; Berth needs a newer kernel anyway). The pid namespace limits the targets to the
 *   container. kcmp, pidfd_getfd and process_madvise still need CAP_SYS_PTRACE, as in Docker.
 * - adjtimex/clock_adjtime: need CAP_SYS_TIME here (Docker allows them; they can only read without the cap,
 *   and reading the kernel's NTP state is not something a container needs).
 * - pivot_root and the mount-listing calls (listmount, statmount) join the CAP_SYS_ADMIN family with mount.
 * - io_uring is blocked (as Docker ≥ 25): its rings bypass this filter. Node/libuv and glibc fall back.
 * - socket(AF_VSOCK) is refused: the host-guest channel of a VM is no business of a container.
 * - clone3 fails with ENOSYS without CAP_SYS_ADMIN, because its flags live in memory a filter cannot read;
 *   glibc and musl then fall back to clone, whose flags are checked.
 */
import type { SeccompProfile, SeccompProfileRule } from './seccomp.ts';

/** errno values the profile returns. */
export const EPERM = 1;
export const ENOSYS = 38;

/** The namespace flags of clone/unshare: NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 0x7E020000. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** AF_VSOCK, the address family socket() refuses. */
export const AF_VSOCK = 40;

/** personality() values a container may set: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query. */
export const SAFE_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Always allowed, by family. Legacy and 32-bit variants sit beside their modern forms. */
export const ALLOWED_FAMILIES: Readonly<Record<string, readonly string[]>> = {
  processLifecycle: [
    'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'waitpid',
    'restart_syscall', 'pidfd_open', 'pidfd_send_signal', 'process_mrelease',
  ],
  processAttributes: [
    'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid', 'set_tid_address',
    'prctl', 'capget', 'capset', 'getcpu', 'seccomp', 'rseq', 'set_robust_list', 'get_robust_list', 'getrusage',
    'times', 'sysinfo', 'uname', 'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set', 'getrlimit',
    'ugetrlimit', 'setrlimit', 'prlimit64', 'umask', 'get_thread_area', 'set_thread_area', 'membarrier',
    'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'lsm_get_self_attr',
    'lsm_list_modules', 'map_shadow_stack', 'uretprobe',
  ],
  /** Tracing of the container's own processes (see the module comment). */
  tracing: ['ptrace', 'process_vm_readv', 'process_vm_writev'],
  credentials: [
    'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid',
    'getresuid32', 'getresgid', 'getresgid32', 'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid',
    'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid',
    'setresgid32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'setgroups', 'setgroups32',
  ],
  memory: [
    'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2',
    'mlockall', 'munlock', 'munlockall', 'remap_file_pages', 'memfd_create', 'memfd_secret', 'pkey_alloc',
    'pkey_free', 'pkey_mprotect', 'mseal', 'cachestat',
  ],
  fileIo: [
    'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'read', 'readv', 'pread64', 'preadv',
    'preadv2', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'lseek', '_llseek', 'dup', 'dup2', 'dup3',
    'fcntl', 'fcntl64', 'flock', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fallocate',
    'ftruncate', 'ftruncate64', 'truncate', 'truncate64', 'fadvise64', 'fadvise64_64', 'readahead', 'sendfile',
    'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'ioctl', 'pipe', 'pipe2',
  ],
  fileMetadata: [
    'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'newfstatat', 'fstatat64', 'statx', 'statfs',
    'statfs64', 'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2', 'chmod', 'fchmod', 'fchmodat',
    'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'utime', 'utimes',
    'utimensat', 'utimensat_time64', 'futimesat', 'readlink', 'readlinkat', 'file_getattr', 'file_setattr',
  ],
  directories: [
    'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link',
    'linkat', 'symlink', 'symlinkat', 'unlink', 'unlinkat', 'getdents', 'getdents64', 'mknod', 'mknodat',
  ],
  xattrs: [
    'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
    'listxattr', 'llistxattr', 'flistxattr', 'listxattrat', 'removexattr', 'lremovexattr', 'fremovexattr',
    'removexattrat',
  ],
  eventsAndPolling: [
    'poll', 'ppoll', 'ppoll_time64', 'select', '_newselect', 'pselect6', 'pselect6_time64', 'epoll_create',
    'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait',
    'epoll_pwait2', 'eventfd', 'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime',
    'timerfd_settime64', 'timerfd_gettime', 'timerfd_gettime64', 'inotify_init', 'inotify_init1',
    'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
  ],
  asyncIo: ['io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64'],
  signals: [
    'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
    'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'sigprocmask', 'sigreturn',
    'pause', 'alarm', 'kill', 'tkill', 'tgkill',
  ],
  clocksAndTimers: [
    'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'clock_nanosleep',
    'clock_nanosleep_time64', 'nanosleep', 'gettimeofday', 'time', 'getitimer', 'setitimer', 'timer_create',
    'timer_delete', 'timer_settime', 'timer_settime64', 'timer_gettime', 'timer_gettime64', 'timer_getoverrun',
  ],
  scheduling: [
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam',
    'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
    'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_getattr', 'sched_setattr',
  ],
  synchronisation: ['futex', 'futex_time64', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue'],
  randomness: ['getrandom'],
  sysvAndPosixIpc: [
    'ipc', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64',
    'semctl', 'shmget', 'shmat', 'shmdt', 'shmctl', 'mq_open', 'mq_unlink', 'mq_timedsend',
    'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr',
  ],
  /** socket() itself is allowed by a rule of its own, for every family but AF_VSOCK. */
  sockets: [
    'socketpair', 'socketcall', 'bind', 'connect', 'listen', 'accept', 'accept4', 'getsockname',
    'getpeername', 'getsockopt', 'setsockopt', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom',
    'recvmsg', 'recvmmsg', 'recvmmsg_time64', 'shutdown',
  ],
};

/** Allowed only while the container holds the capability: the kernel demands it of each of these anyway. */
export const CAPABILITY_FAMILIES: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    // mounts, old and new API
    'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount',
    'open_tree', 'open_tree_attr', 'mount_setattr', 'listmount', 'statmount',
    // namespaces (clone and clone3 are unrestricted here; without the cap see the rules below)
    'unshare', 'setns', 'clone', 'clone3', 'sethostname', 'setdomainname',
    // whole-machine observation and control
    'bpf', 'perf_event_open', 'fanotify_init', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'syslog',
    'name_to_handle_at',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'adjtimex', 'clock_adjtime', 'clock_adjtime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

/**
 * Never allowed, whatever the capabilities (listed for the record and for the tests: the profile is an
 * allow-list, so these are refused by the default action simply by being absent).
 */
export const NEVER_ALLOWED: readonly string[] = [
  'kexec_load', 'kexec_file_load', 'keyctl', 'add_key', 'request_key', 'userfaultfd', 'swapon', 'swapoff',
  'move_pages', 'migrate_pages', 'nfsservctl', 'vm86', 'vm86old', 'uselib', 'ustat', 'sysfs', '_sysctl',
  'create_module', 'get_kernel_syms', 'query_module', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'lsm_set_self_attr', 'afs_syscall', 'tuxcall', 'security', 'vserver', 'getpmsg', 'putpmsg',
];

function rule(names: readonly string[], extra: Omit<SeccompProfileRule, 'names' | 'action'> = {}): SeccompProfileRule {
  return { names: [...names], action: 'SCMP_ACT_ALLOW', ...extra };
}

/** A fresh copy of Berth's default profile (callers may not share or mutate one another's). */
export function defaultSeccompProfile(): SeccompProfile {
  const syscalls: SeccompProfileRule[] = [
    rule(Object.values(ALLOWED_FAMILIES).flat(), { comment: 'namespaced or kernel-checked: always allowed' }),
    rule(['socket'], { comment: 'every address family but AF_VSOCK', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] }),
    ...SAFE_PERSONALITIES.map((value) =>
      rule(['personality'], { comment: 'execution domains that change no security property', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] }),
    ),
    rule(['arch_prctl'], { includes: { arches: ['amd64', 'x32'] } }),
    rule(['modify_ldt'], { includes: { arches: ['amd64', 'x32', 'x86', '386'] } }),
    rule(['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], {
      includes: { arches: ['arm', 'arm64'] },
    }),
    ...Object.entries(CAPABILITY_FAMILIES).map(([cap, names]) => rule(names, { includes: { caps: [cap] } })),
    rule(['clone'], {
      comment: 'without CAP_SYS_ADMIN, clone may not create namespaces',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: ENOSYS,
      comment: 'flags of clone3 cannot be inspected: ENOSYS makes libc fall back to clone',
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
  ];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls,
  };
}
