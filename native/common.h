// What native/netns.c shares with the other files of the addon: entering and
// leaving a namespace on the calling thread, and the JavaScript error shapes.
#ifndef SWARMNET_COMMON_H
#define SWARMNET_COMMON_H
#include <stdbool.h>
#include <node_api.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

// Enter the namespace at path on this thread (after checking it is an nsfs
// file); *home is the thread's own, to return to with leave_netns. false, with
// err and syscall set: the thread is still home.
bool enter_netns(const char *path, int *home, int *err, const char **syscall);
// Back home; aborts the process if that fails (a pool thread must never stay away).
void leave_netns(int home);
// { errno, syscall, message }
napi_value make_error(napi_env env, int err, const char *syscall);
// the same, with namespace: true (the namespace could not be entered or its socket opened)
napi_value make_namespace_error(napi_env env, int err, const char *syscall);
napi_value throw_type(napi_env env, const char *what);
// rejects an async work's promise with Error(what) when the work was cancelled
void reject_cancelled(napi_env env, napi_deferred deferred, const char *what);
bool get_timeout(napi_env env, napi_value v, int *out);
// finaliser of external buffers allocated with malloc
void free_bytes(napi_env env, void *data, void *hint);
// probe.c
napi_value js_probe(napi_env env, napi_callback_info info);

#endif
