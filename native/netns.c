// The syscall boundary of swarmnet-exporter, and nothing else: enter a network
// namespace on a worker thread, open netlink sockets there, leave, then
// exchange raw netlink bytes over those sockets as many rounds as the caller
// needs, and close them. All encoding and decoding lives in TypeScript.
//
//   open(nsPath | null, protocols[], timeoutMs[, procNetFiles?[][, [[protocol, Uint8Array], ...]]])
//     -> Promise<{ handle, ports[], files[], replies? } | { errno, syscall, message, namespace: true }>
//                            files: the bytes of each /proc/thread-self/net/<name>
//                            (e.g. "snmp"), read while the thread is in the namespace
//                            (that file shows the calling thread's namespace), or
//                            { errno, syscall, message };
//                            with requests: sent on the same pool thread once the sockets
//                            are open, replies as exchange() gives them (one trip, not two)
//                            every result also has ino: the namespace's inode number
//                            (its identity: a file replaced by another namespace has another);
//                            watch = true adds watch: a socket made in the namespace and
//                            subscribed to its link and FDB changes, kept by the caller
//   openMany([[nsPath, protocols, timeoutMs, procNetFiles?, requests?, watch?], ...][, budgetMs])
//     -> Promise<(open()'s result)[]>: the opens run one after another on one pool
//                            thread (one hand-off for the batch), up to maxBatch of them;
//                            once budgetMs has passed, the ones not started are not entered
//                            ({ errno: ETIMEDOUT, syscall: "deadline", namespace: true })
//   exchange(handle, [[protocol, Uint8Array], ...], timeoutMs)
//     -> Promise<(Buffer | { errno, syscall, message })[]>
//   close(handle)            closes the sockets (after an exchange in flight ends)
//   watchChanges([watch, ...]) -> bits of each: 1 a link changed, 2 an FDB entry changed
//                            (both when its queue overflowed) since the watch was made
//                            or last asked; reads what is queued
//   closeWatch(watch)        closes it: a socket held in a namespace keeps that namespace
//                            alive, so the caller closes it as soon as the namespace goes
//   counters()               -> { nsEntries, watches }: setns() calls into a namespace so far,
//                            watches open now
//   enterNetnsOnThisThread(nsPath) -> null | { errno, syscall, message }
//                            setns() on the calling thread itself, for good (CLI only)
//   probe(nsPath | null, destinations[], packets[], timeoutMs)
//                            ICMP echo from inside a namespace (native/probe.c)
//   maxRequests, maxProtocols, maxBatch
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>
#include "common.h"

// the one place the per-exchange request limit is set; TypeScript reads it as maxRequests
#define MAX_REQUESTS 8
#define MAX_PROTOCOLS 4
// the most namespaces one openMany() takes
#define MAX_BATCH 256
#define RECV_BUF (64 * 1024)
#define MAX_REPLY (256u * 1024u * 1024u)
// /proc/thread-self/net files one open() may read, and the most bytes of each
#define MAX_FILES 2
#define MAX_FILE_NAME 32
#define MAX_FILE_BYTES (1024u * 1024u)

static atomic_ulong ns_entries;
static atomic_long watches_open;

// JavaScript holds sessions and watches as externals: the tags tell them apart
static const napi_type_tag SESSION_TAG = { 0x7377726d6e657431ULL, 0x73657373696f6e31ULL };
static const napi_type_tag WATCH_TAG = { 0x7377726d6e657431ULL, 0x7761746368303031ULL };

// ---- sessions: the sockets of one namespace --------------------------------

typedef struct {
  size_t n;
  int proto[MAX_PROTOCOLS];
  int fd[MAX_PROTOCOLS];
  unsigned port[MAX_PROTOCOLS];
  // a socket whose dump broke off holds its leftovers: never read it again
  int broken[MAX_PROTOCOLS];
  bool busy;           // an exchange is running on a pool thread
  bool close_pending;  // close() came while busy
  bool closed;
} session_t;

static void session_close_fds(session_t *s) {
  if (s->closed) return;
  for (size_t i = 0; i < s->n; i++) if (s->fd[i] >= 0) close(s->fd[i]);
  s->closed = true;
}

static void session_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  session_t *s = data;
  session_close_fds(s);
  free(s);
}

static int open_socket(int proto, unsigned *port) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) return -1;
  int one = 1, rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  socklen_t len = sizeof sa;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
    int e = errno; close(fd); errno = e; return -1;
  }
  *port = sa.nl_pid;
  return fd;
}

struct exchange_s;

typedef struct {
  char name[MAX_FILE_NAME];
  unsigned char *data;
  size_t len;
  int err;
  const char *syscall;
} proc_file_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *ns_path;  // NULL: the exporter's own namespace
  session_t *s;
  size_t nfiles;
  proc_file_t files[MAX_FILES];
  int err;
  const char *syscall;
  struct exchange_s *first;  // requests run on the same pool thread once the sockets are open (optional)
  bool want_watch;
  int watch_fd;              // -1: none (not asked for, or it could not be made: the session stands without it)
  unsigned long long ino;    // the namespace's inode number, 0 if unknown
} open_t;

// ---- watches: has anything about a namespace's links or FDB changed? ------
//
// A netlink socket in the namespace, subscribed to its link and neighbour
// notifications. The kernel queues a message on it for every link added,
// removed or changed (name, state, MTU, master...) and every bridge or VXLAN
// FDB entry added, removed or changed; never for counters, nor when a learned
// entry is merely refreshed by traffic. A socket filter keeps ARP and ND out
// (they change all the time and say nothing about either table). The receive
// buffer is small: only whether anything came matters, and an overflow
// (ENOBUFS) says "everything may have changed".

#define WATCH_LINKS 1
#define WATCH_FDB 2

typedef struct {
  int fd;
} watch_t;

// RTM_NEWLINK/DELLINK, and RTM_NEWNEIGH/DELNEIGH of family AF_BRIDGE; nothing else
static void attach_watch_filter(int fd) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const unsigned type_low = 4;  // the low byte of nlmsg_type (every type here is < 256)
#else
  const unsigned type_low = 5;
#endif
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, type_low),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_NEWLINK, 6, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_DELLINK, 5, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_NEWNEIGH, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_DELNEIGH, 0, 2),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NLMSG_HDRLEN),  // ndm_family
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_BRIDGE, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
  };
  struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
  // without it the socket hears ARP and ND too: watch_changes() tells them apart all the same
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int open_watch(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return -1;
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  attach_watch_filter(fd);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_NEIGH };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
  atomic_fetch_add(&watches_open, 1);
  return fd;
}

static void watch_close_fd(watch_t *w) {
  if (w->fd < 0) return;
  close(w->fd);
  w->fd = -1;
  atomic_fetch_sub(&watches_open, 1);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  watch_close_fd(data);
  free(data);
}

static watch_t *get_watch(napi_env env, napi_value v) {
  napi_valuetype t;
  bool tagged = false;
  void *p;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_check_object_type_tag(env, v, &WATCH_TAG, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

// What the messages of one datagram say changed
static int changes_in(const unsigned char *buf, size_t len) {
  int changed = 0;
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) changed |= WATCH_LINKS;
    else if (h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) {
      const struct ndmsg *nd = NLMSG_DATA(h);
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof *nd) || nd->ndm_family == AF_BRIDGE) changed |= WATCH_FDB;
    }
  }
  return changed;
}

// What one watch has queued, read without blocking (a few messages at most: the buffer is small).
static int drain_watch(int fd) {
  int changed = 0;
  unsigned char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) { changed |= changes_in(buf, (size_t)n); continue; }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    // ENOBUFS: more changes than the buffer held; anything else: cannot tell. Either way, say everything.
    changed = WATCH_LINKS | WATCH_FDB;
    if (errno != ENOBUFS) break;
  }
  return changed;
}

// All of a scrape's watches at once: one poll() tells which have anything
// queued, and only those are read (hundreds of namespaces, mostly quiet).
static napi_value js_watch_changes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  uint32_t n = 0;
  if (argc >= 1) napi_is_array(env, argv[0], &is_array);
  if (!is_array) return throw_type(env, "watchChanges([watch, ...])");
  napi_get_array_length(env, argv[0], &n);
  struct pollfd *fds = calloc(n ? n : 1, sizeof *fds);
  if (!fds) return throw_type(env, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[0], i, &v);
    watch_t *w = get_watch(env, v);
    if (!w || w->fd < 0) { free(fds); return throw_type(env, "watchChanges: every watch must come from open() and be open"); }
    fds[i].fd = w->fd;
    fds[i].events = POLLIN;
  }
  int ready = n ? poll(fds, n, 0) : 0;
  napi_value out, v;
  napi_create_array_with_length(env, n, &out);
  for (uint32_t i = 0; i < n; i++) {
    // poll failing says nothing about any of them: read each
    int changed = ready < 0 || fds[i].revents ? drain_watch(fds[i].fd) : 0;
    napi_create_uint32(env, (uint32_t)changed, &v);
    napi_set_element(env, out, i, v);
  }
  free(fds);
  return out;
}

static napi_value js_close_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  watch_t *w = argc ? get_watch(env, argv[0]) : NULL;
  if (!w) return throw_type(env, "closeWatch(watch)");
  watch_close_fd(w);
  return NULL;
}

// The calling thread's /proc/thread-self/net/<name>, whole: it shows the
// namespace the thread is in at the time of the read.
static void read_proc_net(proc_file_t *f) {
  char path[64 + MAX_FILE_NAME];
  snprintf(path, sizeof path, "/proc/thread-self/net/%s", f->name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { f->err = errno; f->syscall = "open(proc)"; return; }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) { close(fd); f->err = ENOMEM; f->syscall = "malloc"; return; }
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_FILE_BYTES) { f->err = EFBIG; f->syscall = "read(proc)"; break; }
      unsigned char *grown = realloc(buf, cap * 2);
      if (!grown) { f->err = ENOMEM; f->syscall = "realloc"; break; }
      buf = grown; cap *= 2;
    }
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0) {
      if (errno == EINTR) continue;
      f->err = errno; f->syscall = "read(proc)"; break;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  close(fd);
  if (f->err) { free(buf); return; }
  f->data = buf;
  f->len = len;
}

// Enter the namespace at path on this thread; *home is the thread's own, to
// return to with leave_netns. false (with err and syscall set): still home.
bool enter_netns(const char *path, int *home, int *err, const char **syscall) {
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) { *err = errno; *syscall = "open"; return false; }
  struct statfs st;
  if (fstatfs(target, &st) < 0) { *err = errno; *syscall = "fstatfs"; close(target); return false; }
  // A removed container's file lingers as a plain file for a while.
  if ((unsigned long)st.f_type != (unsigned long)NSFS_MAGIC) {
    close(target); *err = EINVAL; *syscall = "nsfs"; return false;
  }
  *home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*home < 0) { *err = errno; *syscall = "open(self)"; close(target); return false; }
  if (setns(target, CLONE_NEWNET) < 0) { *err = errno; *syscall = "setns"; close(target); close(*home); *home = -1; return false; }
  close(target);
  atomic_fetch_add(&ns_entries, 1);
  return true;
}

void leave_netns(int home) {
  if (setns(home, CLONE_NEWNET) < 0) {
    // A pool thread stuck in a foreign namespace would corrupt unrelated work.
    fprintf(stderr, "swarmnet_netns: cannot return to own network namespace: %s\n", strerror(errno));
    abort();
  }
  close(home);
}

static void run_requests(struct exchange_s *x);
static napi_value take_bytes(napi_env env, unsigned char **data, size_t len);
static napi_value replies_of(napi_env env, struct exchange_s *x);
static void exchange_free(napi_env env, struct exchange_s *x);
static struct exchange_s *parse_requests(napi_env env, session_t *s, napi_value arr, uint32_t n, int timeout, const char **bad);

static void open_execute(napi_env env, void *data) {
  (void)env;
  open_t *o = data;
  session_t *s = o->s;
  int home = -1;
  if (o->ns_path && !enter_netns(o->ns_path, &home, &o->err, &o->syscall)) return;
  // Sockets stay bound to the namespace they were made in: make them all,
  // then leave at once so this pool thread never runs anything else there.
  for (size_t i = 0; i < s->n; i++) {
    s->fd[i] = open_socket(s->proto[i], &s->port[i]);
    if (s->fd[i] < 0 && !o->err) { o->err = errno; o->syscall = "socket"; }
  }
  if (!o->err) for (size_t i = 0; i < o->nfiles; i++) read_proc_net(&o->files[i]);
  if (!o->err) {
    struct stat st;
    if (stat("/proc/thread-self/ns/net", &st) == 0) o->ino = (unsigned long long)st.st_ino;
    if (o->want_watch) o->watch_fd = open_watch();
  }
  if (home >= 0) leave_netns(home);
  if (o->err) session_close_fds(s);
  // back home: the first round goes out over the new sockets without another trip through the pool
  else if (o->first) run_requests(o->first);
}

void free_bytes(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

napi_value make_error(napi_env env, int err, const char *syscall) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "errno", v);
  napi_create_string_utf8(env, syscall ? syscall : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "syscall", v);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "message", v);
  return obj;
}

// What open() resolves to for a finished open_t: the session, or why the
// namespace could not be entered. The session and the replies move to JavaScript.
static napi_value open_result(napi_env env, open_t *o) {
  if (o->err) {
    napi_value err = make_namespace_error(env, o->err, o->syscall);
    free(o->s);
    o->s = NULL;
    return err;
  }
  napi_value result, handle, ports, v;
  session_t *s = o->s;
  o->s = NULL;  // JavaScript's now: closed by close() or when collected
  napi_create_object(env, &result);
  napi_create_external(env, s, session_finalize, NULL, &handle);
  napi_type_tag_object(env, handle, &SESSION_TAG);
  napi_set_named_property(env, result, "handle", handle);
  napi_create_double(env, (double)o->ino, &v);
  napi_set_named_property(env, result, "ino", v);
  if (o->watch_fd >= 0) {
    watch_t *w = malloc(sizeof *w);
    if (w) {
      w->fd = o->watch_fd;
      napi_value watch;
      napi_create_external(env, w, watch_finalize, NULL, &watch);
      napi_type_tag_object(env, watch, &WATCH_TAG);
      napi_set_named_property(env, result, "watch", watch);
    } else {
      close(o->watch_fd);
      atomic_fetch_sub(&watches_open, 1);
    }
    o->watch_fd = -1;
  }
  napi_create_array_with_length(env, s->n, &ports);
  for (size_t i = 0; i < s->n; i++) {
    napi_create_uint32(env, s->port[i], &v);
    napi_set_element(env, ports, (uint32_t)i, v);
  }
  napi_set_named_property(env, result, "ports", ports);
  napi_value files;
  napi_create_array_with_length(env, o->nfiles, &files);
  for (size_t i = 0; i < o->nfiles; i++) {
    proc_file_t *f = &o->files[i];
    v = f->err ? make_error(env, f->err, f->syscall) : take_bytes(env, &f->data, f->len);
    napi_set_element(env, files, (uint32_t)i, v);
  }
  napi_set_named_property(env, result, "files", files);
  if (o->first) napi_set_named_property(env, result, "replies", replies_of(env, o->first));
  return result;
}

// an open_t that never reached JavaScript (cancelled, or its batch failed to parse): close what it opened
static void open_discard(open_t *o) {
  if (o->watch_fd >= 0) { close(o->watch_fd); o->watch_fd = -1; atomic_fetch_sub(&watches_open, 1); }
  if (!o->s) return;
  session_close_fds(o->s);
  free(o->s);
  o->s = NULL;
}

// whatever open_result did not hand over, and the open_t itself
static void open_free(napi_env env, open_t *o) {
  if (o->watch_fd >= 0) { close(o->watch_fd); atomic_fetch_sub(&watches_open, 1); }
  for (size_t i = 0; i < o->nfiles; i++) free(o->files[i].data);
  if (o->first) exchange_free(env, o->first);
  free(o->s);
  free(o->ns_path);
  free(o);
}

static void open_complete(napi_env env, napi_status status, void *data) {
  open_t *o = data;
  if (status != napi_ok) {
    reject_cancelled(env, o->deferred, "open cancelled");
    open_discard(o);
  } else {
    napi_resolve_deferred(env, o->deferred, open_result(env, o));
  }
  napi_delete_async_work(env, o->work);
  open_free(env, o);
}

// make_error() for a namespace that could not be entered or its sockets opened ({ ..., namespace: true })
napi_value make_namespace_error(napi_env env, int err, const char *syscall) {
  napi_value e = make_error(env, err, syscall), flag;
  napi_get_boolean(env, true, &flag);
  napi_set_named_property(env, e, "namespace", flag);
  return e;
}

// Bytes read on a pool thread, for JavaScript: a copy V8 allocates and accounts
// for (its collector sees them and frees them with the Buffer); ours are freed at once.
static napi_value take_bytes(napi_env env, unsigned char **data, size_t len) {
  napi_value v;
  napi_create_buffer_copy(env, len, *data, NULL, &v);
  free(*data);
  *data = NULL;
  return v;
}

// the promise of async work that never ran (status napi_cancelled: the environment is going away)
void reject_cancelled(napi_env env, napi_deferred deferred, const char *what) {
  napi_value msg, err;
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_reject_deferred(env, deferred, err);
}

napi_value throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

bool get_timeout(napi_env env, napi_value v, int *out) {
  int32_t t;
  if (napi_get_value_int32(env, v, &t) != napi_ok || t <= 0) return false;
  *out = t;
  return true;
}

// open()'s arguments (argc of them, at least 3) into an open_t; NULL and *bad when they are not right
static open_t *open_parse(napi_env env, size_t argc, napi_value *argv, const char **bad) {
  int timeout;
  if (!get_timeout(env, argv[2], &timeout)) { *bad = "timeoutMs must be a positive integer"; return NULL; }
  bool is_array;
  uint32_t n;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) { *bad = "protocols must be an array"; return NULL; }
  napi_get_array_length(env, argv[1], &n);
  if (n == 0 || n > MAX_PROTOCOLS) { *bad = "1 to 4 protocols"; return NULL; }
  session_t *s = calloc(1, sizeof *s);
  open_t *o = calloc(1, sizeof *o);
  if (!s || !o) { free(s); free(o); *bad = "out of memory"; return NULL; }
  o->s = s;
  o->watch_fd = -1;
  s->n = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int32_t p;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_int32(env, v, &p) != napi_ok || p < 0) { *bad = "protocols are netlink protocol numbers"; goto fail; }
    for (uint32_t j = 0; j < i; j++) if (s->proto[j] == p) { *bad = "protocols must be distinct"; goto fail; }
    s->proto[i] = p;
    s->fd[i] = -1;
  }
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    o->ns_path = malloc(len + 1);
    if (!o->ns_path) { *bad = "out of memory"; goto fail; }
    napi_get_value_string_utf8(env, argv[0], o->ns_path, len + 1, &len);
  } else if (t != napi_null) {
    *bad = "nsPath must be a string or null"; goto fail;
  }
  if (argc >= 4) {
    napi_valuetype ft;
    napi_typeof(env, argv[3], &ft);
    uint32_t nf = 0;
    bool files_ok = ft == napi_undefined || ft == napi_null;
    if (!files_ok && napi_is_array(env, argv[3], &is_array) == napi_ok && is_array) {
      napi_get_array_length(env, argv[3], &nf);
      files_ok = nf <= MAX_FILES;
      for (uint32_t i = 0; files_ok && i < nf; i++) {
        napi_value v;
        size_t len = 0;
        napi_get_element(env, argv[3], i, &v);
        char *name = o->files[i].name;
        files_ok = napi_get_value_string_utf8(env, v, name, MAX_FILE_NAME, &len) == napi_ok && len > 0 && len < MAX_FILE_NAME - 1;
        // a plain file name of /proc/net: no path, no dot
        for (size_t k = 0; files_ok && k < len; k++) {
          char c = name[k];
          files_ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        }
      }
      if (files_ok) o->nfiles = nf;
    }
    if (!files_ok) { *bad = "procNetFiles: at most 2 names of /proc/net files ([a-z0-9_])"; goto fail; }
  }
  // optional first round: [[protocol, Uint8Array], ...] sent as soon as the sockets are open (replies in "replies")
  napi_valuetype rt = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &rt);
  if (rt != napi_undefined && rt != napi_null) {
    uint32_t nr = 0;
    napi_is_array(env, argv[4], &is_array);
    if (is_array) napi_get_array_length(env, argv[4], &nr);
    *bad = "first requests: 1 to maxRequests [protocol, Uint8Array]";
    if (is_array && nr > 0 && nr <= MAX_REQUESTS) o->first = parse_requests(env, s, argv[4], nr, timeout, bad);
    if (!o->first) goto fail;
  }
  if (argc >= 6) {
    napi_valuetype wt;
    napi_typeof(env, argv[5], &wt);
    if (wt == napi_boolean) napi_get_value_bool(env, argv[5], &o->want_watch);
    else if (wt != napi_undefined && wt != napi_null) { *bad = "watch must be a boolean"; goto fail; }
  }
  return o;
fail:
  open_free(env, o);
  return NULL;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "open(nsPath, protocols, timeoutMs[, procNetFiles[, requests[, watch]]])");
  const char *bad = "open: bad arguments";
  open_t *o = open_parse(env, argc, argv, &bad);
  if (!o) return throw_type(env, bad);
  napi_value promise, name;
  napi_create_promise(env, &o->deferred, &promise);
  napi_create_string_utf8(env, "swarmnet.open", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, open_execute, open_complete, o, &o->work);
  napi_queue_async_work(env, o->work);
  return promise;
}

// ---- many opens in one trip to the pool ------------------------------------
//
// On a machine with few cores, every hand-off to the libuv pool wakes a pool
// thread that preempts the main thread. openMany() runs a whole batch of
// open()s one after another on one pool thread, and resolves once with all
// their results: one hand-off per batch instead of one per namespace.

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int budget_ms;  // 0: none
  uint32_t n;
  open_t *items[];
} batch_t;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// One namespace that stalls (each of its requests may wait its whole timeout)
// must not hold this pool thread for the rest of the batch as well: once the
// budget is spent, the namespaces not started are answered at once.
static void batch_execute(napi_env env, void *data) {
  batch_t *b = data;
  long long until = b->budget_ms > 0 ? now_ms() + b->budget_ms : 0;
  for (uint32_t i = 0; i < b->n; i++) {
    open_t *o = b->items[i];
    if (until && now_ms() >= until) {
      o->err = ETIMEDOUT; o->syscall = "deadline";
      continue;
    }
    open_execute(env, o);
  }
}

static void batch_complete(napi_env env, napi_status status, void *data) {
  batch_t *b = data;
  if (status != napi_ok) {
    reject_cancelled(env, b->deferred, "openMany cancelled");
    for (uint32_t i = 0; i < b->n; i++) open_discard(b->items[i]);
  } else {
    napi_value result;
    napi_create_array_with_length(env, b->n, &result);
    for (uint32_t i = 0; i < b->n; i++) napi_set_element(env, result, i, open_result(env, b->items[i]));
    napi_resolve_deferred(env, b->deferred, result);
  }
  for (uint32_t i = 0; i < b->n; i++) open_free(env, b->items[i]);
  napi_delete_async_work(env, b->work);
  free(b);
}

static napi_value js_open_many(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int budget = 0;
  napi_valuetype bt = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &bt);
  if (bt != napi_undefined && !get_timeout(env, argv[1], &budget)) return throw_type(env, "openMany: budgetMs must be a positive integer");
  bool is_array = false;
  uint32_t n = 0;
  if (argc >= 1) napi_is_array(env, argv[0], &is_array);
  if (is_array) napi_get_array_length(env, argv[0], &n);
  if (!is_array || n == 0 || n > MAX_BATCH) {
    return throw_type(env, "openMany([[nsPath, protocols, timeoutMs, procNetFiles, requests, watch], ...]): 1 to maxBatch entries");
  }
  batch_t *b = calloc(1, sizeof *b + n * sizeof b->items[0]);
  if (!b) return throw_type(env, "out of memory");
  b->budget_ms = budget;
  for (uint32_t i = 0; i < n; i++) {
    napi_value entry, args[6];
    bool entry_is_array = false;
    uint32_t len = 0;
    napi_get_element(env, argv[0], i, &entry);
    napi_is_array(env, entry, &entry_is_array);
    if (entry_is_array) napi_get_array_length(env, entry, &len);
    const char *bad = "each entry is [nsPath, protocols, timeoutMs, procNetFiles?, requests?, watch?]";
    open_t *o = NULL;
    if (entry_is_array && len >= 3 && len <= 6) {
      for (uint32_t k = 0; k < len; k++) napi_get_element(env, entry, k, &args[k]);
      o = open_parse(env, len, args, &bad);
    }
    if (!o) {
      for (uint32_t j = 0; j < i; j++) open_free(env, b->items[j]);
      free(b);
      return throw_type(env, bad);
    }
    b->items[i] = o;
    b->n = i + 1;
  }
  napi_value promise, name;
  napi_create_promise(env, &b->deferred, &promise);
  napi_create_string_utf8(env, "swarmnet.openMany", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, batch_execute, batch_complete, b, &b->work);
  napi_queue_async_work(env, b->work);
  return promise;
}

// ---- exchanges over an open session ----------------------------------------

typedef struct {
  int slot;  // index into the session's sockets, -1: no socket for the protocol
  void *msg;
  size_t msg_len;
  unsigned char *reply;
  size_t reply_len;
  int err;
  const char *syscall;
} request_t;

typedef struct exchange_s {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle_ref;  // keeps the session alive while a pool thread uses it (NULL for open's first round)
  session_t *s;
  int timeout_ms;
  size_t n;
  request_t req[MAX_REQUESTS];
  napi_ref msg_refs[MAX_REQUESTS];
} exchange_t;

// A datagram ends the exchange when it holds DONE, ERROR, or a message that
// is not part of a multipart dump.
static int datagram_ends(const unsigned char *buf, size_t len) {
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return 1;
    if (!(h->nlmsg_flags & NLM_F_MULTI)) return 1;
  }
  return 0;
}

// Each pool thread reads dumps into its own scratch buffer, kept between
// requests; a reply leaves it as one allocation of exactly its size, which the
// main thread copies into a JavaScript Buffer and frees at once. (A reply per
// namespace kept in a 256 KB allocation until V8 collected its Buffer held
// tens of MB in the pool threads' malloc arenas.)
static __thread unsigned char *scratch;
static __thread size_t scratch_cap;
// a scratch buffer grown past this by one large dump is given back after it
#define SCRATCH_KEEP (1024u * 1024u)

static void run_request(request_t *r, int fd) {
  if (send(fd, r->msg, r->msg_len, 0) < 0) {
    r->err = errno; r->syscall = "send"; return;
  }
  size_t len = 0;
  for (;;) {
    // room for a whole datagram: a netlink datagram never exceeds RECV_BUF
    if (scratch_cap - len < RECV_BUF) {
      size_t cap = scratch_cap ? scratch_cap : RECV_BUF * 4;
      while (cap - len < RECV_BUF) cap *= 2;
      if (cap > MAX_REPLY) { r->err = EMSGSIZE; r->syscall = "recv"; break; }
      unsigned char *grown = realloc(scratch, cap);
      if (!grown) { r->err = ENOMEM; r->syscall = "realloc"; break; }
      scratch = grown; scratch_cap = cap;
    }
    ssize_t got = recv(fd, scratch + len, RECV_BUF, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      r->err = errno == EAGAIN ? ETIMEDOUT : errno; r->syscall = "recv";
      break;
    }
    if (got == 0) break;
    size_t at = len;
    len += (size_t)got;
    if (datagram_ends(scratch + at, (size_t)got)) break;
  }
  if (!r->err) {
    r->reply = malloc(len ? len : 1);
    if (r->reply) { memcpy(r->reply, scratch, len); r->reply_len = len; }
    else { r->err = ENOMEM; r->syscall = "malloc"; }
  }
  if (scratch_cap > SCRATCH_KEEP) { free(scratch); scratch = NULL; scratch_cap = 0; }
}

static void exchange_execute(napi_env env, void *data) {
  (void)env;
  run_requests(data);
}

static void run_requests(exchange_t *x) {
  session_t *s = x->s;
  struct timeval tv = { x->timeout_ms / 1000, (x->timeout_ms % 1000) * 1000 };
  for (size_t i = 0; i < s->n; i++) setsockopt(s->fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // requests of one protocol share a socket and run one after another
  for (size_t i = 0; i < x->n; i++) {
    request_t *r = &x->req[i];
    if (r->slot < 0) { r->err = EPROTONOSUPPORT; r->syscall = "socket"; continue; }
    if (s->broken[r->slot]) { r->err = s->broken[r->slot]; r->syscall = "recv"; continue; }
    run_request(r, s->fd[r->slot]);
    // what is left of a broken dump would be read as the next reply
    if (r->err) s->broken[r->slot] = r->err;
  }
}

static napi_value replies_of(napi_env env, exchange_t *x) {
  napi_value result;
  napi_create_array_with_length(env, x->n, &result);
  for (size_t i = 0; i < x->n; i++) {
    request_t *r = &x->req[i];
    napi_value item = r->err ? make_error(env, r->err, r->syscall) : take_bytes(env, &r->reply, r->reply_len);
    napi_set_element(env, result, (uint32_t)i, item);
  }
  return result;
}

// replies not handed to JavaScript, the request bytes' references, the exchange itself
static void exchange_free(napi_env env, exchange_t *x) {
  for (size_t i = 0; i < x->n; i++) {
    free(x->req[i].reply);
    napi_delete_reference(env, x->msg_refs[i]);
  }
  if (x->handle_ref) napi_delete_reference(env, x->handle_ref);
  free(x);
}

static void exchange_complete(napi_env env, napi_status status, void *data) {
  exchange_t *x = data;
  if (status != napi_ok) {
    reject_cancelled(env, x->deferred, "exchange cancelled");
  } else {
    napi_resolve_deferred(env, x->deferred, replies_of(env, x));
  }
  x->s->busy = false;
  if (x->s->close_pending) session_close_fds(x->s);
  napi_delete_async_work(env, x->work);
  exchange_free(env, x);
}

static session_t *get_session(napi_env env, napi_value v) {
  napi_valuetype t;
  bool tagged = false;
  napi_typeof(env, v, &t);
  if (t != napi_external) return NULL;
  if (napi_check_object_type_tag(env, v, &SESSION_TAG, &tagged) != napi_ok || !tagged) return NULL;
  void *p;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

// [[protocol, Uint8Array], ...] (n of them, already checked to be 1..MAX_REQUESTS) for session s; NULL and *bad on error
static exchange_t *parse_requests(napi_env env, session_t *s, napi_value arr, uint32_t n, int timeout, const char **bad) {
  exchange_t *x = calloc(1, sizeof *x);
  if (!x) { *bad = "out of memory"; return NULL; }
  x->s = s;
  x->timeout_ms = timeout;
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, proto, msg;
    int32_t p;
    bool is_ta;
    napi_get_element(env, arr, i, &pair);
    napi_get_element(env, pair, 0, &proto);
    napi_get_element(env, pair, 1, &msg);
    napi_is_typedarray(env, msg, &is_ta);
    if (napi_get_value_int32(env, proto, &p) != napi_ok || !is_ta) {
      for (uint32_t j = 0; j < i; j++) napi_delete_reference(env, x->msg_refs[j]);
      free(x);
      *bad = "each request is [protocol, Uint8Array]";
      return NULL;
    }
    napi_typedarray_type tt;
    size_t len;
    void *bytes;
    napi_get_typedarray_info(env, msg, &tt, &len, &bytes, NULL, NULL);
    x->req[i].slot = -1;
    for (size_t k = 0; k < s->n; k++) if (s->proto[k] == p) x->req[i].slot = (int)k;
    x->req[i].msg = bytes;
    x->req[i].msg_len = len;
    // keep the request bytes alive while the worker reads them
    napi_create_reference(env, msg, 1, &x->msg_refs[i]);
    x->n = i + 1;
  }
  return x;
}

static napi_value js_exchange(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "exchange(handle, requests, timeoutMs)");
  session_t *s = get_session(env, argv[0]);
  if (!s) return throw_type(env, "handle must come from open()");
  if (s->closed || s->close_pending) return throw_type(env, "session is closed");
  if (s->busy) return throw_type(env, "session has an exchange in flight");
  int timeout;
  if (!get_timeout(env, argv[2], &timeout)) return throw_type(env, "timeoutMs must be a positive integer");
  bool is_array;
  uint32_t n;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return throw_type(env, "requests must be an array");
  napi_get_array_length(env, argv[1], &n);
  if (n == 0 || n > MAX_REQUESTS) return throw_type(env, "1 to maxRequests requests");
  const char *bad = NULL;
  exchange_t *x = parse_requests(env, s, argv[1], n, timeout, &bad);
  if (!x) return throw_type(env, bad);
  napi_create_reference(env, argv[0], 1, &x->handle_ref);
  s->busy = true;
  napi_value promise, name;
  napi_create_promise(env, &x->deferred, &promise);
  napi_create_string_utf8(env, "swarmnet.exchange", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, exchange_execute, exchange_complete, x, &x->work);
  napi_queue_async_work(env, x->work);
  return promise;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc ? get_session(env, argv[0]) : NULL;
  if (!s) return throw_type(env, "close(handle)");
  if (s->busy) s->close_pending = true;
  else session_close_fds(s);
  return NULL;
}

static napi_value js_counters(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_double(env, (double)atomic_load(&ns_entries), &v);
  napi_set_named_property(env, obj, "nsEntries", v);
  napi_create_double(env, (double)atomic_load(&watches_open), &v);
  napi_set_named_property(env, obj, "watches", v);
  return obj;
}

// ---- the CLI's `netns exec`: move the calling thread itself -------------------
//
// Synchronous, on the thread that calls it (Node's main thread), and with no way
// back: the CLI calls it right before spawning a command, which forks from that
// thread and so starts in the namespace. The exporter never calls it: its pool
// threads enter namespaces only inside open() and always return.
static napi_value js_enter_here(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_string) return throw_type(env, "enterNetnsOnThisThread(nsPath)");
  char path[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) {
    return throw_type(env, "nsPath too long");
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(env, errno, "open");
  struct statfs st;
  if (fstatfs(fd, &st) < 0) { int e = errno; close(fd); return make_error(env, e, "fstatfs"); }
  if ((unsigned long)st.f_type != (unsigned long)NSFS_MAGIC) { close(fd); return make_error(env, EINVAL, "nsfs"); }
  if (setns(fd, CLONE_NEWNET) < 0) { int e = errno; close(fd); return make_error(env, e, "setns"); }
  close(fd);
  atomic_fetch_add(&ns_entries, 1);
  napi_value nul;
  napi_get_null(env, &nul);
  return nul;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value v;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &v);
  napi_set_named_property(env, exports, "open", v);
  napi_create_function(env, "openMany", NAPI_AUTO_LENGTH, js_open_many, NULL, &v);
  napi_set_named_property(env, exports, "openMany", v);
  napi_create_function(env, "exchange", NAPI_AUTO_LENGTH, js_exchange, NULL, &v);
  napi_set_named_property(env, exports, "exchange", v);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &v);
  napi_set_named_property(env, exports, "close", v);
  napi_create_function(env, "watchChanges", NAPI_AUTO_LENGTH, js_watch_changes, NULL, &v);
  napi_set_named_property(env, exports, "watchChanges", v);
  napi_create_function(env, "closeWatch", NAPI_AUTO_LENGTH, js_close_watch, NULL, &v);
  napi_set_named_property(env, exports, "closeWatch", v);
  napi_create_function(env, "counters", NAPI_AUTO_LENGTH, js_counters, NULL, &v);
  napi_set_named_property(env, exports, "counters", v);
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, js_probe, NULL, &v);
  napi_set_named_property(env, exports, "probe", v);
  napi_create_function(env, "enterNetnsOnThisThread", NAPI_AUTO_LENGTH, js_enter_here, NULL, &v);
  napi_set_named_property(env, exports, "enterNetnsOnThisThread", v);
  napi_create_uint32(env, MAX_REQUESTS, &v);
  napi_set_named_property(env, exports, "maxRequests", v);
  napi_create_uint32(env, MAX_PROTOCOLS, &v);
  napi_set_named_property(env, exports, "maxProtocols", v);
  napi_create_uint32(env, MAX_BATCH, &v);
  napi_set_named_property(env, exports, "maxBatch", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
