/*
 * The cheapest spawner for a floor burst: `burst-spawn N STEP1... [-- STEP2...]` starts N jobs at once, each STEP1
 * and, once it exited 0, STEP2 ("{}" in an argument becomes the job's number), with posix_spawn (glibc: clone with
 * CLONE_VM | CLONE_VFORK, no copy of this process's memory) and stdio on /dev/null, and reaps them with wait4, which
 * gives each child's CPU (its own and its reaped descendants', microseconds). Prints one line of JSON: the wall time,
 * this process's own CPU, the CPU of every STEP1 and every STEP2 (each with what it reaped), of the orphans it reaped
 * as a subreaper, the failures, and each job's end (its last step's exit code, -SIGNAL when killed, -1000 when it
 * could not be spawned).
 * `burst-spawn -o DIR N ...` writes each job's stdout and stderr to DIR/J.out and DIR/J.err instead of /dev/null
 * (both steps appending), so that a caller can check what every job printed.
 * Built by the benchmark with the system's C compiler (bench/lib/cpu-kinds.ts); no part of Berth.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

static double us(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

static char **argv_for(char **tmpl, int n, int job) {
  char **out = calloc(n + 1, sizeof *out);
  char num[16];
  snprintf(num, sizeof num, "%d", job);
  for (int i = 0; i < n; i++) {
    const char *a = tmpl[i];
    const char *at = strstr(a, "{}");
    if (!at) {
      out[i] = (char *)a;
      continue;
    }
    size_t len = strlen(a) - 2 + strlen(num) + 1;
    out[i] = malloc(len);
    snprintf(out[i], len, "%.*s%s%s", (int)(at - a), a, num, at + 2);
  }
  return out;
}

/* Spawns one job's step: stdio on /dev/null, or with `out`, stdout and stderr to out/J.out and out/J.err. */
static int spawn_job(pid_t *pid, char **a, const posix_spawn_file_actions_t *null_fa, const char *out, int job) {
  if (!out) return posix_spawn(pid, a[0], null_fa, NULL, a, environ);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  char path[4096];
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  snprintf(path, sizeof path, "%s/%d.out", out, job);
  posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  snprintf(path, sizeof path, "%s/%d.err", out, job);
  posix_spawn_file_actions_addopen(&fa, 2, path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  int r = posix_spawn(pid, a[0], &fa, NULL, a, environ);
  posix_spawn_file_actions_destroy(&fa);
  return r;
}

int main(int argc, char **argv) {
  const char *out = NULL;
  if (argc > 2 && strcmp(argv[1], "-o") == 0) {
    out = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 3) return 2;
  int jobs = atoi(argv[1]);
  char **s1 = argv + 2;
  int n1 = 0, n2 = 0;
  while (s1[n1] && strcmp(s1[n1], "--") != 0) n1++;
  char **s2 = s1[n1] ? s1 + n1 + 1 : NULL;
  if (s2) while (s2[n2]) n2++;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  // A subreaper, as conmon is: what a child leaves behind when it exits (runc init's intermediate process, which
  // makes the namespaces) comes here to be reaped and counted, instead of going to PID 1 uncounted.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t *pids = calloc(jobs, sizeof *pids);
  int *stage = calloc(jobs, sizeof *stage);
  int *code = calloc(jobs, sizeof *code);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int running = 0, failed = 0;
  for (int j = 0; j < jobs; j++) {
    char **a = argv_for(s1, n1, j);
    if (spawn_job(&pids[j], a, &fa, out, j) == 0) running++;
    else failed++, code[j] = -1000, pids[j] = 0;
  }
  double cpu1 = 0, cpu2 = 0, sys1 = 0, sys2 = 0, orphans = 0;
  while (running > 0) {
    int status;
    struct rusage ru;
    pid_t p = wait4(-1, &status, 0, &ru);
    if (p < 0) break;
    int j = 0;
    while (j < jobs && pids[j] != p) j++;
    if (j == jobs) {
      orphans += us(ru.ru_utime) + us(ru.ru_stime);
      continue;
    }
    running--;
    double c = us(ru.ru_utime) + us(ru.ru_stime);
    if (stage[j] == 0) cpu1 += c, sys1 += us(ru.ru_stime);
    else cpu2 += c, sys2 += us(ru.ru_stime);
    code[j] = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
      failed++;
      continue;
    }
    if (stage[j] == 0 && s2) {
      stage[j] = 1;
      char **a = argv_for(s2, n2, j);
      if (spawn_job(&pids[j], a, &fa, out, j) == 0) running++;
      else failed++, code[j] = -1000, pids[j] = 0;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  // Orphans that exited by now (the containers' own processes live on, and are left to PID 1 at this one's exit).
  for (;;) {
    int status;
    struct rusage ru;
    if (wait4(-1, &status, WNOHANG, &ru) <= 0) break;
    orphans += us(ru.ru_utime) + us(ru.ru_stime);
  }
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  printf("{\"wallMs\":%.3f,\"selfMs\":%.3f,\"step1Ms\":%.3f,\"step1SysMs\":%.3f,\"step2Ms\":%.3f,"
         "\"step2SysMs\":%.3f,\"orphansMs\":%.3f,\"failed\":%d,\"codes\":[",
         (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, (us(self.ru_utime) + us(self.ru_stime)) / 1e3,
         cpu1 / 1e3, sys1 / 1e3, cpu2 / 1e3, sys2 / 1e3, orphans / 1e3, failed);
  for (int j = 0; j < jobs; j++) printf("%s%d", j ? "," : "", code[j]);
  printf("]}\n");
  return failed ? 1 : 0;
}
