// ICMP echo probes from inside a network namespace, for the overlay path
// probes (src/probes/). Like netns.c, the syscall boundary only: the echo
// requests are built and the replies decoded in TypeScript (src/kernel/icmp/).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/errqueue.h>
#include "common.h"

// ---- ICMP echo probes from inside a namespace -------------------------------
//
//   probe(nsPath | null, destinations[], packets[[destIndex, Uint8Array]], timeoutMs)
//     -> Promise<{ kind: "ping" | "raw", ident, sent[], received[], errors[] }
//                | { errno, syscall, message, namespace: true }>
//
// On a pool thread: enter the namespace, open an ICMP socket there (a ping
// socket, SOCK_DGRAM/IPPROTO_ICMP, where net.ipv4.ping_group_range lets our
// group in; else SOCK_RAW, which needs CAP_NET_RAW), return home at once (the
// socket stays in the namespace), then send every packet as given (ICMP
// messages built in TypeScript; a ping socket's kernel sets the identifier and
// checksum), and collect what comes back until every packet has an answer or
// the timeout passes. Every packet is sent with DF: IP_PMTUDISC_PROBE sets DF
// but sizes by the interface, not by a path MTU cached from an earlier round,
// so each round tests the path again. Returned as bytes with CLOCK_MONOTONIC
// times; matching replies to requests is TypeScript's.
//   sent[i]:     { atNs } or { errno, syscall, message } (EMSGSIZE: larger than the interface)
//   received[]:  { from, atNs, bytes }   ICMP messages (raw sockets: with the IP header)
//   errors[]:    { from, errno, origin, type, code, info, atNs, bytes }   IP_RECVERR queue
//                (e.g. EMSGSIZE with info = the next hop's MTU); bytes: the offending packet's start

#define MAX_DESTS 128
#define MAX_PACKETS 512
#define MAX_EVENTS 2048
#define MAX_PACKET_BYTES 65507

typedef struct {
  int dest;
  unsigned char *bytes;
  size_t len;
  double at_ns;
  int err;
  const char *syscall;
} probe_packet_t;

typedef struct {
  bool is_error;
  struct in_addr from;
  double at_ns;
  unsigned char *bytes;
  size_t len;
  int err;        // IP_RECVERR: ee_errno
  int origin, type, code;
  unsigned info;
} probe_event_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *ns_path;
  size_t ndests;
  struct in_addr dests[MAX_DESTS];
  size_t npackets;
  probe_packet_t packets[MAX_PACKETS];
  int timeout_ms;
  bool raw;
  bool opened;  // the socket was made: what follows is the probes' outcome
  unsigned ident;
  size_t nevents;
  probe_event_t events[MAX_EVENTS];
  int err;
  const char *syscall;
} probe_t;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int is_dest(probe_t *p, struct in_addr a) {
  for (size_t i = 0; i < p->ndests; i++) if (p->dests[i].s_addr == a.s_addr) return 1;
  return 0;
}

static void probe_open_socket(probe_t *p, int *fd) {
  *fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
  if (*fd >= 0) return;
  int ping_err = errno;
  *fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
  if (*fd >= 0) { p->raw = true; return; }
  // EACCES from the ping socket: our group is outside ping_group_range; EPERM from raw: no CAP_NET_RAW
  p->err = errno == EPERM || errno == EACCES ? EPERM : errno;
  p->syscall = ping_err == EACCES ? "socket(icmp)" : "socket(icmp, ping)";
}

static void probe_record(probe_t *p, probe_event_t *e, const unsigned char *buf, size_t len) {
  e->bytes = malloc(len ? len : 1);
  if (!e->bytes) return;
  memcpy(e->bytes, buf, len);
  e->len = len;
  p->nevents++;
}

// Read what is queued; returns how many answers from our destinations it saw.
static size_t probe_drain(probe_t *p, int fd, unsigned char *buf) {
  size_t answers = 0;
  while (p->nevents < MAX_EVENTS) {
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t got = recvfrom(fd, buf, MAX_PACKET_BYTES, 0, (struct sockaddr *)&from, &flen);
    if (got < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN; a pending socket error is read from the error queue below
    }
    probe_event_t *e = &p->events[p->nevents];
    memset(e, 0, sizeof *e);
    e->from = from.sin_addr;
    e->at_ns = now_ns();
    // only to know when to stop waiting, not a parser: a raw socket sees all ICMP of the namespace
    // (requests others send us, errors that the error queue also gets); an echo reply is type 0
    size_t ihl = p->raw && got > 0 ? (size_t)(buf[0] & 0x0f) * 4 : 0;
    bool reply = !p->raw || ((size_t)got > ihl && buf[ihl] == 0);
    if (is_dest(p, from.sin_addr) && reply) answers++;
    probe_record(p, e, buf, (size_t)got);
  }
  while (p->nevents < MAX_EVENTS) {
    char control[512];
    struct sockaddr_in target;
    struct iovec iov = { buf, MAX_PACKET_BYTES };
    struct msghdr msg = { .msg_name = &target, .msg_namelen = sizeof target, .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control, .msg_controllen = sizeof control };
    ssize_t got = recvmsg(fd, &msg, MSG_ERRQUEUE);
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    probe_event_t *e = &p->events[p->nevents];
    memset(e, 0, sizeof *e);
    e->is_error = true;
    e->from = target.sin_addr;  // the destination of the packet that failed
    e->at_ns = now_ns();
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(c), sizeof ee);
      e->err = (int)ee.ee_errno;
      e->origin = ee.ee_origin;
      e->type = ee.ee_type;
      e->code = ee.ee_code;
      e->info = ee.ee_info;
    }
    // a local error (EMSGSIZE at sendto) was not sent, so it is not waited for
    if (is_dest(p, e->from) && e->origin != SO_EE_ORIGIN_LOCAL) answers++;
    probe_record(p, e, buf, (size_t)got);
  }
  return answers;
}

static void probe_execute(napi_env env, void *data) {
  (void)env;
  probe_t *p = data;
  int home = -1, fd = -1;
  if (p->ns_path && !enter_netns(p->ns_path, &home, &p->err, &p->syscall)) return;
  probe_open_socket(p, &fd);
  if (home >= 0) leave_netns(home);
  if (fd < 0) return;
  p->opened = true;
  int pmtu = IP_PMTUDISC_PROBE, one = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0 ||
      setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one) < 0) {
    p->err = errno; p->syscall = "setsockopt"; close(fd); return;
  }
  if (!p->raw) {
    struct sockaddr_in self;
    socklen_t len = sizeof self;
    // a ping socket's identifier is its port, bound on the first send; bind now to know it
    struct sockaddr_in any = { .sin_family = AF_INET };
    if (bind(fd, (struct sockaddr *)&any, sizeof any) == 0 && getsockname(fd, (struct sockaddr *)&self, &len) == 0) {
      p->ident = ntohs(self.sin_port);
    }
  }
  unsigned char *buf = malloc(MAX_PACKET_BYTES);
  if (!buf) { p->err = ENOMEM; p->syscall = "malloc"; close(fd); return; }
  size_t expected = 0, answers = 0;
  for (size_t i = 0; i < p->npackets; i++) {
    probe_packet_t *k = &p->packets[i];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = p->dests[k->dest] };
    k->at_ns = now_ns();
    ssize_t n;
    do n = sendto(fd, k->bytes, k->len, 0, (struct sockaddr *)&to, sizeof to); while (n < 0 && errno == EINTR);
    if (n < 0) { k->err = errno; k->syscall = "sendto"; continue; }
    expected++;
    // answers already queued (a local destination answers at once) are read between sends
    answers += probe_drain(p, fd, buf);
  }
  double deadline = now_ns() + (double)p->timeout_ms * 1e6;
  while (answers < expected && p->nevents < MAX_EVENTS) {
    double left = (deadline - now_ns()) / 1e6;
    if (left <= 0) break;
    struct pollfd pfd = { fd, POLLIN | POLLERR, 0 };
    int r = poll(&pfd, 1, (int)(left + 1));
    if (r < 0 && errno != EINTR) { p->err = errno; p->syscall = "poll"; break; }
    if (r > 0) answers += probe_drain(p, fd, buf);
  }
  free(buf);
  close(fd);
}

static void set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

static void set_addr(napi_env env, napi_value obj, const char *key, struct in_addr a) {
  char text[INET_ADDRSTRLEN];
  napi_value x;
  inet_ntop(AF_INET, &a, text, sizeof text);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, obj, key, x);
}

static void probe_free(probe_t *p) {
  for (size_t i = 0; i < p->npackets; i++) free(p->packets[i].bytes);
  for (size_t i = 0; i < p->nevents; i++) free(p->events[i].bytes);
  free(p->ns_path);
  free(p);
}

static void probe_complete(napi_env env, napi_status status, void *data) {
  probe_t *p = data;
  if (status != napi_ok) {
    reject_cancelled(env, p->deferred, "probe cancelled");
  } else if (!p->opened) {
    // nothing was sent: the namespace or its socket failed
    napi_resolve_deferred(env, p->deferred, make_namespace_error(env, p->err, p->syscall));
  } else {
    napi_value result, sent, received, errors, v;
    napi_create_object(env, &result);
    napi_create_string_utf8(env, p->raw ? "raw" : "ping", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "kind", v);
    set_number(env, result, "ident", p->ident);
    napi_create_array_with_length(env, p->npackets, &sent);
    for (size_t i = 0; i < p->npackets; i++) {
      probe_packet_t *k = &p->packets[i];
      if (k->err) {
        v = make_error(env, k->err, k->syscall);
      } else {
        napi_create_object(env, &v);
        set_number(env, v, "atNs", k->at_ns);
      }
      napi_set_element(env, sent, (uint32_t)i, v);
    }
    napi_set_named_property(env, result, "sent", sent);
    napi_create_array(env, &received);
    napi_create_array(env, &errors);
    uint32_t nr = 0, ne = 0;
    for (size_t i = 0; i < p->nevents; i++) {
      probe_event_t *e = &p->events[i];
      napi_value bytes;
      napi_create_object(env, &v);
      set_addr(env, v, "from", e->from);
      set_number(env, v, "atNs", e->at_ns);
      napi_create_external_buffer(env, e->len, e->bytes, free_bytes, NULL, &bytes);
      e->bytes = NULL;
      napi_set_named_property(env, v, "bytes", bytes);
      if (e->is_error) {
        const char *name = strerrorname_np(e->err);
        napi_value s;
        napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &s);
        napi_set_named_property(env, v, "errno", s);
        set_number(env, v, "origin", e->origin);
        set_number(env, v, "type", e->type);
        set_number(env, v, "code", e->code);
        set_number(env, v, "info", e->info);
        napi_set_element(env, errors, ne++, v);
      } else {
        napi_set_element(env, received, nr++, v);
      }
    }
    napi_set_named_property(env, result, "received", received);
    napi_set_named_property(env, result, "errors", errors);
    if (p->err) napi_set_named_property(env, result, "error", make_error(env, p->err, p->syscall));
    napi_resolve_deferred(env, p->deferred, result);
  }
  napi_delete_async_work(env, p->work);
  probe_free(p);
}

napi_value js_probe(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_type(env, "probe(nsPath, destinations, packets, timeoutMs)");
  int timeout;
  if (!get_timeout(env, argv[3], &timeout)) return throw_type(env, "timeoutMs must be a positive integer");
  probe_t *p = calloc(1, sizeof *p);
  if (!p) return throw_type(env, "out of memory");
  p->timeout_ms = timeout;
  const char *bad = NULL;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    p->ns_path = malloc(len + 1);
    if (!p->ns_path) bad = "out of memory";
    else napi_get_value_string_utf8(env, argv[0], p->ns_path, len + 1, &len);
  } else if (t != napi_null) {
    bad = "nsPath must be a string or null";
  }
  bool is_array;
  uint32_t n = 0;
  if (!bad && (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array)) bad = "destinations must be an array";
  if (!bad) napi_get_array_length(env, argv[1], &n);
  if (!bad && (n == 0 || n > MAX_DESTS)) bad = "1 to 128 destinations";
  for (uint32_t i = 0; !bad && i < n; i++) {
    napi_value v;
    char text[INET_ADDRSTRLEN + 1];
    size_t len;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_string_utf8(env, v, text, sizeof text, &len) != napi_ok || inet_pton(AF_INET, text, &p->dests[i]) != 1) {
      bad = "destinations are IPv4 addresses (dotted quad)";
    }
    p->ndests = i + 1;
  }
  if (!bad && (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array)) bad = "packets must be an array";
  if (!bad) napi_get_array_length(env, argv[2], &n);
  if (!bad && (n == 0 || n > MAX_PACKETS)) bad = "1 to 512 packets";
  for (uint32_t i = 0; !bad && i < n; i++) {
    napi_value pair, d, msg;
    int32_t dest;
    bool is_ta = false;
    napi_get_element(env, argv[2], i, &pair);
    napi_get_element(env, pair, 0, &d);
    napi_get_element(env, pair, 1, &msg);
    napi_is_typedarray(env, msg, &is_ta);
    if (napi_get_value_int32(env, d, &dest) != napi_ok || dest < 0 || (size_t)dest >= p->ndests || !is_ta) {
      bad = "each packet is [destination index, Uint8Array]";
      break;
    }
    napi_typedarray_type tt;
    size_t len;
    void *bytes;
    napi_get_typedarray_info(env, msg, &tt, &len, &bytes, NULL, NULL);
    if (tt != napi_uint8_array || len < 8 || len > MAX_PACKET_BYTES) { bad = "each packet is 8 to 65507 bytes of ICMP"; break; }
    probe_packet_t *k = &p->packets[i];
    k->dest = dest;
    k->bytes = malloc(len);
    if (!k->bytes) { bad = "out of memory"; break; }
    memcpy(k->bytes, bytes, len);  // the pool thread sends a copy: the caller's array may move
    k->len = len;
    p->npackets = i + 1;
  }
  if (bad) { probe_free(p); return throw_type(env, bad); }
  napi_value promise, name;
  napi_create_promise(env, &p->deferred, &promise);
  napi_create_string_utf8(env, "swarmnet.probe", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, probe_execute, probe_complete, p, &p->work);
  napi_queue_async_work(env, p->work);
  return promise;
}

