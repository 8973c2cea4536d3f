/*
 * `exit-cpu`: prints the CPU time of every task (thread) that exits on the machine while it runs, from the kernel's
 * taskstats exit records (generic netlink, a listener registered for every CPU): one line per task, `pid tgid ppid
 * ns comm`, where ns is the task's time on a CPU (`cpu_run_virtual_total`: the scheduler's sum_exec_runtime, in
 * nanoseconds, as schedstat's first field), ppid its parent when it exited. It prints `ready` once registered, and
 * at SIGTERM or SIGINT deregisters, prints `lost N` (records the socket dropped, 0 when none) and exits.
 * Built by the benchmark with the system's C compiler (bench/start-burst.ts); no part of Berth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ATTR_DATA(a) ((char *)(a) + NLA_HDRLEN)
#define ATTR_LEN(a) ((a)->nla_len - NLA_HDRLEN)

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static int sock;
static char buf[1 << 16];

/** Sends one generic netlink request with one attribute. */
static int request(unsigned short family, unsigned char cmd, unsigned short type, const void *data, int len) {
  char msg[256];
  memset(msg, 0, sizeof msg);
  struct nlmsghdr *n = (struct nlmsghdr *)msg;
  struct genlmsghdr *g = NLMSG_DATA(n);
  struct nlattr *a = (struct nlattr *)((char *)g + GENL_HDRLEN);
  n->nlmsg_type = family;
  n->nlmsg_flags = NLM_F_REQUEST;
  n->nlmsg_pid = getpid();
  g->cmd = cmd;
  g->version = 1;
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy(ATTR_DATA(a), data, len);
  n->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + NLA_ALIGN(a->nla_len));
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  return sendto(sock, msg, n->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0 ? -1 : 0;
}

/** The TASKSTATS family's id, from the generic netlink controller. */
static int family_id(void) {
  if (request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, TASKSTATS_GENL_NAME,
              strlen(TASKSTATS_GENL_NAME) + 1) < 0)
    return -1;
  int len = recv(sock, buf, sizeof buf, 0);
  if (len < 0) return -1;
  struct nlmsghdr *n = (struct nlmsghdr *)buf;
  if (!NLMSG_OK(n, (unsigned)len) || n->nlmsg_type == NLMSG_ERROR) return -1;
  char *p = (char *)NLMSG_DATA(n) + GENL_HDRLEN;
  char *end = (char *)n + n->nlmsg_len;
  while (p + NLA_HDRLEN <= end) {
    struct nlattr *a = (struct nlattr *)p;
    if (a->nla_len < NLA_HDRLEN) break;
    if (a->nla_type == CTRL_ATTR_FAMILY_ID) return *(unsigned short *)ATTR_DATA(a);
    p += NLA_ALIGN(a->nla_len);
  }
  return -1;
}

/** Prints one task's record (a TASKSTATS_TYPE_AGGR_PID: the pid, then the stats). */
static void print_task(struct nlattr *aggr) {
  char *p = ATTR_DATA(aggr);
  char *end = (char *)aggr + aggr->nla_len;
  while (p + NLA_HDRLEN <= end) {
    struct nlattr *a = (struct nlattr *)p;
    if (a->nla_len < NLA_HDRLEN) break;
    if (a->nla_type == TASKSTATS_TYPE_STATS &&
        ATTR_LEN(a) >= (int)(offsetof(struct taskstats, ac_tgid) + sizeof(__u32))) {
      struct taskstats *t = (struct taskstats *)ATTR_DATA(a);
      char comm[TS_COMM_LEN + 1];
      memcpy(comm, t->ac_comm, TS_COMM_LEN);
      comm[TS_COMM_LEN] = 0;
      for (char *c = comm; *c; c++)
        if (*c == ' ' || *c == '\n') *c = '_';
      printf("%u %u %u %llu %s\n", t->ac_pid, t->ac_tgid, t->ac_ppid, (unsigned long long)t->cpu_run_virtual_total,
             comm);
    }
    p += NLA_ALIGN(a->nla_len);
  }
}

int main(void) {
  sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (sock < 0) return perror("socket"), 1;
  int size = 16 << 20;
  if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_nl me = {.nl_family = AF_NETLINK};
  if (bind(sock, (struct sockaddr *)&me, sizeof me) < 0) return perror("bind"), 1;
  int family = family_id();
  if (family < 0) return fprintf(stderr, "exit-cpu: no TASKSTATS netlink family\n"), 1;
  char cpus[32];
  snprintf(cpus, sizeof cpus, "0-%ld", sysconf(_SC_NPROCESSORS_CONF) - 1);
  if (request(family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus, strlen(cpus) + 1) < 0)
    return perror("register"), 1;
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("ready\n");
  fflush(stdout);
  long lost = 0;
  while (!stop) {
    int len = recv(sock, buf, sizeof buf, 0);
    if (len < 0) {
      if (errno == ENOBUFS) lost++;
      else if (errno != EINTR) return perror("recv"), 1;
      continue;
    }
    for (struct nlmsghdr *n = (struct nlmsghdr *)buf; NLMSG_OK(n, (unsigned)len); n = NLMSG_NEXT(n, len)) {
      if (n->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(n);
        if (e->error != 0) return fprintf(stderr, "exit-cpu: netlink error %d\n", e->error), 1;
        continue;
      }
      if (n->nlmsg_type != family) continue;
      char *p = (char *)NLMSG_DATA(n) + GENL_HDRLEN;
      char *end = (char *)n + n->nlmsg_len;
      while (p + NLA_HDRLEN <= end) {
        struct nlattr *a = (struct nlattr *)p;
        if (a->nla_len < NLA_HDRLEN) break;
        if (a->nla_type == TASKSTATS_TYPE_AGGR_PID) print_task(a);
        p += NLA_ALIGN(a->nla_len);
      }
    }
  }
  request(family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, cpus, strlen(cpus) + 1);
  printf("lost %ld\n", lost);
  return 0;
}
