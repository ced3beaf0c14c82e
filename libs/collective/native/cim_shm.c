/*
 * cim_shm: the one thing Node cannot do for the node-local all-reduce, mmap(2) a file (in
 * /dev/shm) into an ArrayBuffer that several processes share. Node-API only (ABI-stable across
 * Node versions), ~100 lines, no dependencies.
 *
 *   map(fd, bytes)  → ArrayBuffer over mmap(MAP_SHARED) of fd's first `bytes` (the fd may be closed after)
 *   unmap(buffer)   → detaches the ArrayBuffer and munmaps it now (else the GC's finalizer does)
 */
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct mapping {
  void *addr;
  size_t bytes;
  struct mapping *next;
} mapping;

static mapping *live = NULL;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* removes addr from the live list; returns its mapping (the caller munmaps and frees) or NULL */
static mapping *take(void *addr) {
  pthread_mutex_lock(&lock);
  mapping **p = &live;
  while (*p && (*p)->addr != addr) p = &(*p)->next;
  mapping *m = *p;
  if (m) *p = m->next;
  pthread_mutex_unlock(&lock);
  return m;
}

static void release(mapping *m) {
  if (!m) return;
  munmap(m->addr, m->bytes);
  free(m);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(take(data));
}

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "cim_shm: " #call " failed");      \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t bytes;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &bytes));
  if (bytes <= 0) {
    napi_throw_range_error(env, NULL, "cim_shm.map: bytes must be positive");
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    char msg[160];
    snprintf(msg, sizeof msg, "cim_shm.map: mmap of %lld bytes failed: %s", (long long)bytes, strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  mapping *m = malloc(sizeof *m);
  if (!m) {
    munmap(addr, (size_t)bytes);
    napi_throw_error(env, NULL, "cim_shm.map: out of memory");
    return NULL;
  }
  m->addr = addr;
  m->bytes = (size_t)bytes;
  pthread_mutex_lock(&lock);
  m->next = live;
  live = m;
  pthread_mutex_unlock(&lock);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, (size_t)bytes, finalize, NULL, &buffer) != napi_ok) {
    release(take(addr));
    napi_throw_error(env, NULL, "cim_shm.map: this runtime refuses external ArrayBuffers");
    return NULL;
  }
  return buffer;
}

static napi_value Unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *addr;
  size_t bytes;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &addr, &bytes));
  mapping *m = take(addr);
  if (m) {
    CHECK(napi_detach_arraybuffer(env, argv[0]));
    release(m);
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"map", NULL, Map, NULL, NULL, NULL, napi_default, NULL},
      {"unmap", NULL, Unmap, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, 2, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
