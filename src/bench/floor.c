// The floor for the scrape benchmark: the netlink dumps that read every
// interface with its counters and the bridge FDB (RTM_GETLINK, RTM_GETNEIGH
// over AF_BRIDGE) in every namespace given, one socket per namespace opened
// after setns and closed after, the replies read into a buffer and nothing
// decoded. Threads share the namespaces as the exporter's --scrape.concurrency
// does. FLOOR_DUMPS=stats makes RTM_GETSTATS (64-bit counters only) the one
// dump instead: what the exporter asks of a namespace whose links and FDB did
// not change.
//   cc -O2 -pthread -o floor floor.c && ./floor THREADS ROUNDS /run/netns/a ...
// prints one wall time in ms per round.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char **paths;
static int npaths;
static atomic_int next_ns;
static unsigned char buf[64][1 << 16];
static int stats_only;

static void dump(int fd, int type, int family, size_t hdrlen, int tid) {
  struct { struct nlmsghdr h; unsigned char body[16]; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(hdrlen);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.body[0] = family;
  if (type == RTM_GETSTATS) ((struct if_stats_msg *)req.body)->filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64);
  if (send(fd, &req, req.h.nlmsg_len, 0) < 0) { perror("send"); exit(1); }
  for (;;) {
    ssize_t n = recv(fd, buf[tid], sizeof buf[tid], 0);
    if (n <= 0) { perror("recv"); exit(1); }
    struct nlmsghdr *h = (struct nlmsghdr *)buf[tid];
    size_t len = (size_t)n;
    for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return;
  }
}

static void *worker(void *arg) {
  int tid = (int)(long)arg;
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  for (int i; (i = atomic_fetch_add(&next_ns, 1)) < npaths;) {
    int ns = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) { perror(paths[i]); exit(1); }
    close(ns);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setns(home, CLONE_NEWNET) < 0) { perror("setns home"); exit(1); }
    if (stats_only) {
      dump(fd, RTM_GETSTATS, AF_UNSPEC, sizeof(struct if_stats_msg), tid);
    } else {
      dump(fd, RTM_GETLINK, AF_UNSPEC, sizeof(struct ifinfomsg), tid);
      dump(fd, RTM_GETNEIGH, AF_BRIDGE, sizeof(struct ndmsg), tid);
    }
    close(fd);
  }
  close(home);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: floor THREADS ROUNDS NS...\n"); return 2; }
  int threads = atoi(argv[1]), rounds = atoi(argv[2]);
  const char *dumps = getenv("FLOOR_DUMPS");
  stats_only = dumps && strcmp(dumps, "stats") == 0;
  if (threads < 1 || threads > 64) threads = 1;
  paths = argv + 3;
  npaths = argc - 3;
  for (int r = 0; r < rounds; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_store(&next_ns, 0);
    pthread_t th[64];
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, worker, (void *)(long)t);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  }
  return 0;
}
