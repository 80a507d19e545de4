// The syscall boundary of swarmnet-exporter, and nothing else: enter a network
// namespace on a worker thread, open netlink sockets there, leave, then exchange
// raw netlink bytes. All encoding and decoding of messages lives in TypeScript.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <node_api.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#define MAX_REQUESTS 8
#define RECV_BUF (64 * 1024)
#define MAX_REPLY (256u * 1024u * 1024u)

typedef struct {
  int proto;
  void *msg;
  size_t msg_len;
  // result: concatenated datagrams, or an error
  unsigned char *reply;
  size_t reply_len;
  int err;
  const char *syscall;
} request_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *ns_path;  // NULL: the exporter's own namespace
  int timeout_ms;
  size_t n;
  request_t req[MAX_REQUESTS];
  napi_ref msg_refs[MAX_REQUESTS];
  int err;  // namespace-level failure
  const char *syscall;
} exchange_t;

static void fail_ns(exchange_t *x, const char *syscall) {
  x->err = errno ? errno : EIO;
  x->syscall = syscall;
}

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

static void run_request(request_t *r, int fd) {
  if (r->err) return;
  if (send(fd, r->msg, r->msg_len, 0) < 0) {
    r->err = errno; r->syscall = "send"; return;
  }
  size_t cap = RECV_BUF * 4, len = 0;
  unsigned char *out = malloc(cap);
  unsigned char *buf = malloc(RECV_BUF);
  if (!out || !buf) { free(out); free(buf); r->err = ENOMEM; r->syscall = "malloc"; return; }
  for (;;) {
    ssize_t got = recv(fd, buf, RECV_BUF, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      r->err = errno == EAGAIN ? ETIMEDOUT : errno; r->syscall = "recv";
      free(out); free(buf); return;
    }
    if (got == 0) break;
    if (len + (size_t)got > cap) {
      while (len + (size_t)got > cap) cap *= 2;
      if (cap > MAX_REPLY) { r->err = EMSGSIZE; r->syscall = "recv"; free(out); free(buf); return; }
      unsigned char *grown = realloc(out, cap);
      if (!grown) { r->err = ENOMEM; r->syscall = "realloc"; free(out); free(buf); return; }
      out = grown;
    }
    memcpy(out + len, buf, (size_t)got);
    len += (size_t)got;
    if (datagram_ends(buf, (size_t)got)) break;
  }
  free(buf);
  r->reply = out;
  r->reply_len = len;
}

static int open_socket(int proto, int timeout_ms) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) return -1;
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  int one = 1, rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(fd); errno = e; return -1; }
  return fd;
}

// One socket per protocol: a dump must end before the next request is sent on
// it, which run_request guarantees.
static void open_sockets(exchange_t *x, int *fds) {
  for (size_t i = 0; i < x->n; i++) {
    fds[i] = -1;
    for (size_t j = 0; j < i; j++) {
      if (x->req[j].proto == x->req[i].proto && fds[j] >= 0) { fds[i] = fds[j]; break; }
    }
    if (fds[i] >= 0) continue;
    fds[i] = open_socket(x->req[i].proto, x->timeout_ms);
    if (fds[i] < 0) { x->req[i].err = errno; x->req[i].syscall = "socket"; }
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  exchange_t *x = data;
  int fds[MAX_REQUESTS];
  for (size_t i = 0; i < x->n; i++) fds[i] = -1;

  if (x->ns_path) {
    int target = open(x->ns_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) { fail_ns(x, "open"); return; }
    struct statfs st;
    if (fstatfs(target, &st) < 0) { fail_ns(x, "fstatfs"); close(target); return; }
    // A removed container's file lingers as a plain file for a while.
    if ((unsigned long)st.f_type != (unsigned long)NSFS_MAGIC) {
      close(target); errno = EINVAL; fail_ns(x, "nsfs"); return;
    }
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) { fail_ns(x, "open(self)"); close(target); return; }
    if (setns(target, CLONE_NEWNET) < 0) { fail_ns(x, "setns"); close(target); close(home); return; }
    close(target);
    // Sockets stay bound to the namespace they were made in: make them all,
    // then leave at once so this pool thread never runs anything else there.
    open_sockets(x, fds);
    if (setns(home, CLONE_NEWNET) < 0) {
      // A pool thread stuck in a foreign namespace would corrupt unrelated work.
      fprintf(stderr, "swarmnet_netns: cannot return to own network namespace: %s\n", strerror(errno));
      abort();
    }
    close(home);
  } else {
    open_sockets(x, fds);
  }
  // requests of one protocol share a socket and run one after another
  for (size_t i = 0; i < x->n; i++) {
    if (fds[i] < 0) continue;
    run_request(&x->req[i], fds[i]);
    if (!x->req[i].err) continue;
    // what is left of a broken dump would be read as the next reply
    for (size_t j = i + 1; j < x->n; j++) {
      if (fds[j] == fds[i] && !x->req[j].err) { x->req[j].err = x->req[i].err; x->req[j].syscall = x->req[i].syscall; }
    }
  }
  for (size_t i = 0; i < x->n; i++) {
    if (fds[i] < 0) continue;
    int shared = 0;
    for (size_t j = i + 1; j < x->n; j++) if (fds[j] == fds[i]) shared = 1;
    if (!shared) close(fds[i]);
  }
}

static napi_value make_error(napi_env env, int err, const char *syscall) {
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

static void free_reply(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

static void complete(napi_env env, napi_status status, void *data) {
  exchange_t *x = data;
  napi_value result;
  if (status != napi_ok) {
    napi_value msg, err;
    napi_create_string_utf8(env, "exchange cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, x->deferred, err);
  } else if (x->err) {
    napi_value err = make_error(env, x->err, x->syscall), flag;
    napi_get_boolean(env, true, &flag);
    napi_set_named_property(env, err, "namespace", flag);
    napi_resolve_deferred(env, x->deferred, err);
  } else {
    napi_create_array_with_length(env, x->n, &result);
    for (size_t i = 0; i < x->n; i++) {
      request_t *r = &x->req[i];
      napi_value item;
      if (r->err) {
        item = make_error(env, r->err, r->syscall);
      } else {
        napi_create_external_buffer(env, r->reply_len, r->reply, free_reply, NULL, &item);
        r->reply = NULL;
      }
      napi_set_element(env, result, (uint32_t)i, item);
    }
    napi_resolve_deferred(env, x->deferred, result);
  }
  for (size_t i = 0; i < x->n; i++) {
    free(x->req[i].reply);
    napi_delete_reference(env, x->msg_refs[i]);
  }
  free(x->ns_path);
  napi_delete_async_work(env, x->work);
  free(x);
}

static napi_value throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

// exchange(nsPath: string | null, requests: [proto, Uint8Array][], timeoutMs)
//   -> Promise<(Buffer | {errno, syscall, message})[] | {errno, syscall, message, namespace: true}>
static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "exchange(nsPath, requests, timeoutMs)");

  exchange_t *x = calloc(1, sizeof *x);
  if (!x) return throw_type(env, "out of memory");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    x->ns_path = malloc(len + 1);
    napi_get_value_string_utf8(env, argv[0], x->ns_path, len + 1, &len);
  } else if (t != napi_null) {
    free(x); return throw_type(env, "nsPath must be a string or null");
  }
  uint32_t n;
  bool is_array;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) { free(x->ns_path); free(x); return throw_type(env, "requests must be an array"); }
  napi_get_array_length(env, argv[1], &n);
  if (n == 0 || n > MAX_REQUESTS) { free(x->ns_path); free(x); return throw_type(env, "1 to 8 requests"); }
  int32_t timeout;
  if (napi_get_value_int32(env, argv[2], &timeout) != napi_ok || timeout <= 0) {
    free(x->ns_path); free(x); return throw_type(env, "timeoutMs must be a positive integer");
  }
  x->timeout_ms = timeout;
  x->n = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, proto, msg;
    napi_get_element(env, argv[1], i, &pair);
    napi_get_element(env, pair, 0, &proto);
    napi_get_element(env, pair, 1, &msg);
    int32_t p;
    bool is_ta;
    napi_is_typedarray(env, msg, &is_ta);
    if (napi_get_value_int32(env, proto, &p) != napi_ok || !is_ta) {
      for (uint32_t j = 0; j < i; j++) napi_delete_reference(env, x->msg_refs[j]);
      free(x->ns_path); free(x);
      return throw_type(env, "each request is [protocol, Uint8Array]");
    }
    napi_typedarray_type tt;
    size_t len;
    void *data;
    napi_get_typedarray_info(env, msg, &tt, &len, &data, NULL, NULL);
    x->req[i].proto = p;
    x->req[i].msg = data;
    x->req[i].msg_len = len;
    // keep the request bytes alive while the worker reads them
    napi_create_reference(env, msg, 1, &x->msg_refs[i]);
  }
  napi_value promise, name;
  napi_create_promise(env, &x->deferred, &promise);
  napi_create_string_utf8(env, "swarmnet.exchange", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, x, &x->work);
  napi_queue_async_work(env, x->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "exchange", NAPI_AUTO_LENGTH, exchange, NULL, &fn);
  napi_set_named_property(env, exports, "exchange", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
