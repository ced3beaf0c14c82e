/*
 * cim_gloo: Gloo (Debian's libgloo-dev, the collective library behind PyTorch's CPU backend) for
 * libs/collective's GlooCollective (src/gloo-collective.ts). Node-API only; every blocking call
 * (rendezvous, all-reduce, broadcast, barrier) runs on a libuv worker thread, never on the JS one.
 *
 *   connect({ host, redisHost, redisPort, prefix, rank, size, timeoutMs }) → Promise<gang>
 *       a tcp device on `host`, rendezvous through Gloo's RedisStore under PrefixStore(prefix),
 *       a full-mesh context; every op and the rendezvous time out after timeoutMs
 *   allReduce(gang, Float32Array, algorithm, timeoutMs) → Promise<void>   float32 sum, in place;
 *       algorithm 0 ring (gloo::allreduce's RING: reduce-scatter + all-gather, what PyTorch uses),
 *       1 ring-chunked, 2 halving-doubling. Each reduces every element on one rank and copies it to
 *       the others, so all ranks get the same bits. (The legacy AllreduceRing is not offered: every
 *       rank sums the full buffer in its own order, so 3+ ranks would end with different bits.)
 *   broadcast(gang, Uint8Array, root, timeoutMs) → Promise<void>          root's bytes, in place
 *   barrier(gang, timeoutMs) → Promise<void>
 *   close(gang)                 closes the pairs now (the caller awaits its ops first)
 * A failed op rejects with Gloo's message (Gloo names peers by address, not rank: the caller finds
 * the dead or hung rank itself).
 */
#include <node_api.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gloo/allreduce.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/rendezvous/redis_store.h>
#include <gloo/transport/tcp/device.h>

namespace {

struct Gang {
  std::shared_ptr<gloo::rendezvous::Context> ctx;
  std::shared_ptr<gloo::transport::Device> dev;
  uint32_t tag = 0;
  bool busy = false;
};

enum Kind { kConnect, kAllReduce, kBroadcast, kBarrier };

struct Job {
  Kind kind;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keepData = nullptr;  // the typed array, alive until the op completes
  napi_ref keepGang = nullptr;
  Gang *gang = nullptr;
  // connect
  std::string host, redisHost, prefix;
  int redisPort = 6379, rank = 0, size = 1;
  // ops
  void *data = nullptr;
  size_t elements = 0;
  int algorithm = 0, root = 0;
  int64_t timeoutMs = 60000;
  std::string error;
};

#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error(env, nullptr, "cim_gloo: " #call " failed"); \
      return nullptr;                                               \
    }                                                               \
  } while (0)

void finalizeGang(napi_env, void *data, void *) { delete static_cast<Gang *>(data); }

void execute(napi_env, void *p) {
  Job *j = static_cast<Job *>(p);
  try {
    const auto timeout = std::chrono::milliseconds(j->timeoutMs);
    if (j->kind == kConnect) {
      gloo::transport::tcp::attr attr;
      attr.hostname = j->host;
      auto g = std::make_unique<Gang>();
      g->dev = gloo::transport::tcp::CreateDevice(attr);
      gloo::rendezvous::RedisStore redis(j->redisHost, j->redisPort);
      gloo::rendezvous::PrefixStore store(j->prefix, redis);
      g->ctx = std::make_shared<gloo::rendezvous::Context>(j->rank, j->size);
      g->ctx->setTimeout(timeout);
      g->ctx->connectFullMesh(store, g->dev);
      j->gang = g.release();
      return;
    }
    Gang *g = j->gang;
    if (j->kind == kAllReduce) {
      float *ptr = static_cast<float *>(j->data);
      if (j->algorithm == 0) {
        gloo::AllreduceOptions opts(g->ctx);
        opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
        opts.setOutput(ptr, j->elements);
        opts.setReduceFunction(static_cast<void (*)(void *, const void *, const void *, size_t)>(&gloo::sum<float>));
        opts.setTag(g->tag++);
        opts.setTimeout(timeout);
        gloo::allreduce(opts);
      } else {
        // the older algorithms time out by the context's timeout (set at connect)
        std::vector<float *> ptrs{ptr};
        const int n = static_cast<int>(j->elements);
        if (j->algorithm == 1) gloo::AllreduceRingChunked<float>(g->ctx, ptrs, n).run();
        else gloo::AllreduceHalvingDoubling<float>(g->ctx, ptrs, n).run();
      }
    } else if (j->kind == kBroadcast) {
      gloo::BroadcastOptions opts(g->ctx);
      opts.setOutput(static_cast<uint8_t *>(j->data), j->elements);
      opts.setRoot(j->root);
      opts.setTag(g->tag++);
      opts.setTimeout(timeout);
      gloo::broadcast(opts);
    } else {
      gloo::BarrierOptions opts(g->ctx);
      opts.setTag(g->tag++);
      opts.setTimeout(timeout);
      gloo::barrier(opts);
    }
  } catch (const std::exception &e) {
    j->error = e.what();
    if (j->error.empty()) j->error = "unknown Gloo error";
  } catch (...) {
    j->error = "unknown Gloo error";
  }
}

void complete(napi_env env, napi_status, void *p) {
  Job *j = static_cast<Job *>(p);
  if (j->gang && j->kind != kConnect) j->gang->busy = false;
  napi_value result = nullptr;
  if (!j->error.empty()) {
    napi_value msg;
    napi_create_string_utf8(env, j->error.c_str(), j->error.size(), &msg);
    napi_create_error(env, nullptr, msg, &result);
    napi_reject_deferred(env, j->deferred, result);
  } else {
    if (j->kind == kConnect) napi_create_external(env, j->gang, finalizeGang, nullptr, &result);
    else napi_get_undefined(env, &result);
    napi_resolve_deferred(env, j->deferred, result);
  }
  if (j->keepData) napi_delete_reference(env, j->keepData);
  if (j->keepGang) napi_delete_reference(env, j->keepGang);
  napi_delete_async_work(env, j->work);
  delete j;
}

napi_value queue(napi_env env, Job *j) {
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    delete j;
    napi_throw_error(env, nullptr, "cim_gloo: napi_create_promise failed");
    return nullptr;
  }
  napi_create_string_utf8(env, "cim_gloo", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

bool prop(napi_env env, napi_value obj, const char *key, std::string *s) {
  napi_value v;
  size_t n;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return false;
  s->resize(n + 1);
  napi_get_value_string_utf8(env, v, &(*s)[0], n + 1, &n);
  s->resize(n);
  return true;
}

bool prop(napi_env env, napi_value obj, const char *key, int64_t *x) {
  napi_value v;
  return napi_get_named_property(env, obj, key, &v) == napi_ok && napi_get_value_int64(env, v, x) == napi_ok;
}

napi_value Connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  auto j = std::make_unique<Job>();
  j->kind = kConnect;
  int64_t port, rank, size, timeout;
  if (argc < 1 || !prop(env, argv[0], "host", &j->host) || !prop(env, argv[0], "redisHost", &j->redisHost) ||
      !prop(env, argv[0], "prefix", &j->prefix) || !prop(env, argv[0], "redisPort", &port) || !prop(env, argv[0], "rank", &rank) ||
      !prop(env, argv[0], "size", &size) || !prop(env, argv[0], "timeoutMs", &timeout)) {
    napi_throw_type_error(env, nullptr, "cim_gloo.connect({ host, redisHost, redisPort, prefix, rank, size, timeoutMs })");
    return nullptr;
  }
  j->redisPort = static_cast<int>(port);
  j->rank = static_cast<int>(rank);
  j->size = static_cast<int>(size);
  j->timeoutMs = timeout;
  return queue(env, j.release());
}

/** the gang of argv[0] (throws when closed or busy) */
Gang *gangOf(napi_env env, napi_value v) {
  void *p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, nullptr, "cim_gloo: not a gang");
    return nullptr;
  }
  Gang *g = static_cast<Gang *>(p);
  if (!g->ctx) napi_throw_error(env, nullptr, "cim_gloo: the gang is closed");
  else if (g->busy) napi_throw_error(env, nullptr, "cim_gloo: an operation is already running on this gang");
  else return g;
  return nullptr;
}

/** allReduce(gang, f32, algorithm, timeoutMs) / broadcast(gang, u8, root, timeoutMs) / barrier(gang, timeoutMs) */
napi_value Op(napi_env env, napi_callback_info info, Kind kind) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  const size_t want = kind == kBarrier ? 2 : 4;
  if (argc < want) {
    napi_throw_type_error(env, nullptr, "cim_gloo: too few arguments");
    return nullptr;
  }
  Gang *g = gangOf(env, argv[0]);
  if (!g) return nullptr;
  auto j = std::make_unique<Job>();
  j->kind = kind;
  j->gang = g;
  if (kind != kBarrier) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    CHECK(napi_get_typedarray_info(env, argv[1], &type, &length, &data, nullptr, nullptr));
    if (type != (kind == kAllReduce ? napi_float32_array : napi_uint8_array)) {
      napi_throw_type_error(env, nullptr, kind == kAllReduce ? "cim_gloo: a Float32Array" : "cim_gloo: a Uint8Array");
      return nullptr;
    }
    j->data = data;
    j->elements = length;
    int32_t x;
    CHECK(napi_get_value_int32(env, argv[2], &x));
    (kind == kAllReduce ? j->algorithm : j->root) = x;
    CHECK(napi_create_reference(env, argv[1], 1, &j->keepData));
  }
  CHECK(napi_get_value_int64(env, argv[want - 1], &j->timeoutMs));
  CHECK(napi_create_reference(env, argv[0], 1, &j->keepGang));
  g->busy = true;
  return queue(env, j.release());
}

napi_value AllReduce(napi_env env, napi_callback_info info) { return Op(env, info, kAllReduce); }
napi_value Broadcast(napi_env env, napi_callback_info info) { return Op(env, info, kBroadcast); }
napi_value Barrier(napi_env env, napi_callback_info info) { return Op(env, info, kBarrier); }

napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void *p = nullptr;
  CHECK(napi_get_value_external(env, argv[0], &p));
  Gang *g = static_cast<Gang *>(p);
  if (g->busy) {
    napi_throw_error(env, nullptr, "cim_gloo: close while an operation is running");
    return nullptr;
  }
  g->ctx.reset();
  g->dev.reset();
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"connect", nullptr, Connect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allReduce", nullptr, AllReduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"broadcast", nullptr, Broadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"barrier", nullptr, Barrier, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
