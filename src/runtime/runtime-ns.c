/*
 * runtime-ns: runs an OCI runtime (crun) in a fresh mount namespace of its own without the cgroup v2 mount of a hybrid
 * host, so that it sees the pure cgroup v1 host it supports. The host is not changed: the namespace is this
 * process's own, its mounts made slaves of the host's before anything is unmounted (nothing done in it propagates
 * back; the host's mount events still reach it, as a bind with rslave propagation expects), and gone when the
 * runtime exits.
 *
 *   runtime-ns [--join-unified=CGROUP] RUNTIME ARGS...
 *
 * --join-unified: first join CGROUP of the unified (v2) hierarchy, made when missing, as runc does for its
 * containers on such a host; the runtime's children (the container's init, an exec'd process) inherit it.
 * Built by scripts/setup.sh (static where libc.a is there: one exec and no dynamic linking per runtime call).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIFIED "/sys/fs/cgroup/unified"

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "runtime-ns: %s %s: %s\n", what, arg, strerror(errno));
  return 125;
}

/* Whether a step of the join failed only because the cgroup (or a parent) was removed in between: open or mkdir
 * ENOENT, and ENODEV from a write to the cgroup.procs of a cgroup removed after its open. */
static int removed_meanwhile(void) { return errno == ENOENT || errno == ENODEV; }

/* mkdir -p of UNIFIED/<cgroup>, then this process into it. Tried again (up to 20 times) when the cgroup is removed in
 * between: a daemon's start-up sweep removes empty ones that are not fresh (they are shared by every daemon of the
 * host), and one that existed empty before this join is not fresh. */
static int join_unified(const char *cgroup) {
  char path[4096], procs[4096 + 16];
  if (snprintf(path, sizeof path, "%s/%s", UNIFIED, cgroup) >= (int)sizeof path || strstr(cgroup, "..")) {
    errno = EINVAL;
    return fail("cannot join unified cgroup", cgroup);
  }
  snprintf(procs, sizeof procs, "%s/cgroup.procs", path);
  for (int attempt = 0;; attempt++) {
    int made = 1;
    for (char *p = path + sizeof UNIFIED; *p && made; p++) {
      if (*p != '/') continue;
      *p = 0;
      made = !mkdir(path, 0755) || errno == EEXIST;
      *p = '/';
    }
    if (made && (!mkdir(path, 0755) || errno == EEXIST)) {
      int fd = open(procs, O_WRONLY | O_CLOEXEC);
      if (fd >= 0 && write(fd, "0", 1) == 1) return close(fd), 0;
      if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
      }
    }
    if (!removed_meanwhile() || attempt == 19) return fail("cannot join", procs);
  }
}

int main(int argc, char **argv) {
  int i = 1;
  if (i < argc && strncmp(argv[i], "--join-unified=", 15) == 0) {
    if (join_unified(argv[i] + 15)) return 125;
    i++;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: runtime-ns [--join-unified=CGROUP] RUNTIME ARGS...\n");
    return 125;
  }
  if (unshare(CLONE_NEWNS)) return fail("unshare", "(CLONE_NEWNS)");
  /* Slave first (recursively), so that nothing done here propagates back to the host's mounts, while the host's
   * mount events still reach the copies (a bind with rslave propagation, as under runc: not private). */
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) return fail("cannot make slave", "/");
  if (umount2(UNIFIED, MNT_DETACH) && errno != EINVAL && errno != ENOENT) return fail("cannot unmount", UNIFIED);
  execv(argv[i], argv + i);
  return fail("cannot run", argv[i]);
}
