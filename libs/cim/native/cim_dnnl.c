/*
 * cim_dnnl: oneDNN's CPU convolutions (Debian's libdnnl, the library PyTorch uses on CPU) for
 * the tensorflow backend's CimConv2D kernel (libs/cim/src/resnet/dnnl-conv.ts). Node-API only
 * (ABI-stable across Node versions); the tensors travel as Float32Arrays or as BigInt addresses of
 * libtensorflow's own buffers (zero-copy, see floats() below), channels last.
 *
 *   forward(x, [N,H,W,C], w, [k,k,C,O], stride, pad, y)          y [N,H',W',O] = conv(x, w)
 *   backwardData(dy, [N,H',W',O], w, [k,k,C,O], stride, pad, [N,H,W,C], dx)
 *   backwardWeights(x, [N,H,W,C], dy, [N,H',W',O], k, stride, pad, dw)   dw [k,k,C,O]
 *   bnForward(x, [M,C], scale, shift, eps, y, mean, var, meanCopy, varUnbiased)   training BatchNorm (biased var saved)
 *   bnBackward(dy, x, [M,C], scale, mean, var, eps, dx, dscale, dshift)
 *   setThreads(n)                                                oneDNN's OpenMP threads (drops the built primitives)
 *   version()                                                    "major.minor.patch"
 *   takesAddresses                                               true: any tensor may be a BigInt address
 *
 * Padding is PyTorch's: `pad` zeros on every side. Activations are NHWC (oneDNN's nhwc tag, no
 * reorder); the filter is TF's HWIO, reordered to the layout the primitive picks (it is small).
 * Primitives are built once per shape and kept (a short list: a network has a dozen shapes).
 */
#include <dnnl.h>
#include <node_api.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { FWD = 0, BWD_DATA = 1, BWD_WEIGHTS = 2 };

typedef struct entry {
  int kind;
  dnnl_dim_t n, h, w, c, o, k, stride, pad;
  dnnl_primitive_t prim;         /* the convolution */
  dnnl_memory_desc_t wmd;        /* the weights' (or weight gradient's) layout in the primitive */
  dnnl_primitive_t wreorder;     /* user HWIO <-> primitive layout; NULL when they are the same */
  size_t wbytes;                 /* bytes of the primitive-layout weights */
  void *wbuf;                    /* scratch for them */
  dnnl_memory_desc_t scratch_md; /* the primitive's scratchpad (user-managed) */
  void *scratch;
  struct entry *next;
} entry;

static dnnl_engine_t engine = NULL;
static dnnl_stream_t stream = NULL;
static entry *cache = NULL;
static char err[256];

#define DN(call)                                                          \
  do {                                                                    \
    dnnl_status_t s_ = (call);                                            \
    if (s_ != dnnl_success) {                                             \
      snprintf(err, sizeof err, "cim_dnnl: %s failed (status %d)", #call, \
               (int)s_);                                                  \
      return -1;                                                          \
    }                                                                     \
  } while (0)

static int init(void) {
  if (engine) return 0;
  DN(dnnl_engine_create(&engine, dnnl_cpu, 0));
  DN(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  return 0;
}

static void *alloc64(size_t bytes) {
  void *p = NULL;
  if (bytes == 0) bytes = 64;
  if (posix_memalign(&p, 64, bytes)) return NULL;
  return p;
}

/* builds the primitive for one kind and shape; returns 0 or -1 with err set */
static int build(entry *e) {
  dnnl_dim_t oh = (e->h + 2 * e->pad - e->k) / e->stride + 1;
  dnnl_dim_t ow = (e->w + 2 * e->pad - e->k) / e->stride + 1;
  dnnl_dims_t src_dims = {e->n, e->c, e->h, e->w};
  dnnl_dims_t dst_dims = {e->n, e->o, oh, ow};
  dnnl_dims_t w_dims = {e->o, e->c, e->k, e->k};
  dnnl_dims_t strides = {e->stride, e->stride};
  dnnl_dims_t pads = {e->pad, e->pad};
  dnnl_memory_desc_t src_md, dst_md, w_any, w_user;
  DN(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc));
  DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc));
  DN(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
  DN(dnnl_memory_desc_init_by_tag(&w_user, 4, w_dims, dnnl_f32, dnnl_hwio));

  dnnl_primitive_attr_t attr;
  DN(dnnl_primitive_attr_create(&attr));
  DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));

  dnnl_convolution_desc_t fwd_d;
  DN(dnnl_convolution_forward_desc_init(&fwd_d, dnnl_forward_training, dnnl_convolution_direct, &src_md, &w_any, NULL,
                                        &dst_md, strides, pads, pads));
  dnnl_primitive_desc_t fwd_pd, pd;
  DN(dnnl_primitive_desc_create(&fwd_pd, &fwd_d, attr, engine, NULL));
  if (e->kind == FWD) {
    pd = fwd_pd;
  } else if (e->kind == BWD_DATA) {
    dnnl_convolution_desc_t d;
    DN(dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src_md, &w_any, &dst_md, strides, pads,
                                                pads));
    DN(dnnl_primitive_desc_create(&pd, &d, attr, engine, fwd_pd));
  } else {
    dnnl_convolution_desc_t d;
    DN(dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src_md, &w_any, NULL, &dst_md, strides,
                                                   pads, pads));
    DN(dnnl_primitive_desc_create(&pd, &d, attr, engine, fwd_pd));
  }
  DN(dnnl_primitive_attr_destroy(attr));
  dnnl_query_t wq = e->kind == BWD_WEIGHTS ? dnnl_query_diff_weights_md : dnnl_query_weights_md;
  e->wmd = *dnnl_primitive_desc_query_md(pd, wq, 0);
  e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  /* the activations must be the plain nhwc we gave (we pass user pointers) */
  dnnl_query_t aq[2] = {e->kind == BWD_DATA ? dnnl_query_diff_src_md : dnnl_query_src_md,
                        e->kind == FWD ? dnnl_query_dst_md : dnnl_query_diff_dst_md};
  if (!dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, aq[0], 0), &src_md) ||
      !dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, aq[1], 0), &dst_md)) {
    snprintf(err, sizeof err, "cim_dnnl: the primitive did not keep the nhwc layout");
    return -1;
  }
  DN(dnnl_primitive_create(&e->prim, pd));
  e->wreorder = NULL;
  e->wbytes = dnnl_memory_desc_get_size(&e->wmd);
  if (!dnnl_memory_desc_equal(&e->wmd, &w_user)) {
    dnnl_primitive_desc_t rpd;
    if (e->kind == BWD_WEIGHTS)
      DN(dnnl_reorder_primitive_desc_create(&rpd, &e->wmd, engine, &w_user, engine, NULL));
    else
      DN(dnnl_reorder_primitive_desc_create(&rpd, &w_user, engine, &e->wmd, engine, NULL));
    DN(dnnl_primitive_create(&e->wreorder, rpd));
    DN(dnnl_primitive_desc_destroy(rpd));
    e->wbuf = alloc64(e->wbytes);
  } else {
    e->wbuf = NULL;
  }
  size_t sb = dnnl_memory_desc_get_size(&e->scratch_md);
  e->scratch = alloc64(sb);
  if (pd != fwd_pd) DN(dnnl_primitive_desc_destroy(pd));
  DN(dnnl_primitive_desc_destroy(fwd_pd));
  return 0;
}

static entry *lookup(int kind, const dnnl_dim_t *s) {
  for (entry *e = cache; e; e = e->next)
    if (e->kind == kind && e->n == s[0] && e->h == s[1] && e->w == s[2] && e->c == s[3] && e->o == s[4] &&
        e->k == s[5] && e->stride == s[6] && e->pad == s[7])
      return e;
  entry *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, sizeof err, "cim_dnnl: out of memory");
    return NULL;
  }
  e->kind = kind;
  e->n = s[0], e->h = s[1], e->w = s[2], e->c = s[3], e->o = s[4], e->k = s[5], e->stride = s[6], e->pad = s[7];
  if (init() || build(e)) {
    free(e);
    return NULL;
  }
  e->next = cache;
  cache = e;
  return e;
}

/* runs entry e on the user buffers; returns 0 or -1 with err set */
static int run(entry *e, float *x, float *w, float *y) {
  dnnl_dim_t oh = (e->h + 2 * e->pad - e->k) / e->stride + 1;
  dnnl_dim_t ow = (e->w + 2 * e->pad - e->k) / e->stride + 1;
  dnnl_dims_t src_dims = {e->n, e->c, e->h, e->w};
  dnnl_dims_t dst_dims = {e->n, e->o, oh, ow};
  dnnl_dims_t w_dims = {e->o, e->c, e->k, e->k};
  dnnl_memory_desc_t src_md, dst_md, w_user;
  DN(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc));
  DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc));
  DN(dnnl_memory_desc_init_by_tag(&w_user, 4, w_dims, dnnl_f32, dnnl_hwio));
  dnnl_memory_t xm, ym, wu, wp = NULL, sm;
  /* x: src (fwd, bwd weights) or diff_src (bwd data); y: dst / diff_dst */
  DN(dnnl_memory_create(&xm, &src_md, engine, x));
  DN(dnnl_memory_create(&ym, &dst_md, engine, y));
  DN(dnnl_memory_create(&wu, &w_user, engine, w));
  DN(dnnl_memory_create(&sm, &e->scratch_md, engine, e->scratch));
  dnnl_memory_t wprim = wu;
  if (e->wreorder) {
    DN(dnnl_memory_create(&wp, &e->wmd, engine, e->wbuf));
    wprim = wp;
    if (e->kind != BWD_WEIGHTS) {
      dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, wp}};
      DN(dnnl_primitive_execute(e->wreorder, stream, 2, ra));
    }
  }
  dnnl_exec_arg_t args[4];
  if (e->kind == FWD) {
    args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, xm};
    args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wprim};
    args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, ym};
  } else if (e->kind == BWD_DATA) {
    args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, xm};
    args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wprim};
    args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, ym};
  } else {
    args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, xm};
    args[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, wprim};
    args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, ym};
  }
  args[3] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sm};
  DN(dnnl_primitive_execute(e->prim, stream, 4, args));
  if (e->wreorder && e->kind == BWD_WEIGHTS) {
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, wp}, {DNNL_ARG_TO, wu}};
    DN(dnnl_primitive_execute(e->wreorder, stream, 2, ra));
  }
  DN(dnnl_stream_wait(stream));
  dnnl_memory_destroy(xm);
  dnnl_memory_destroy(ym);
  dnnl_memory_destroy(wu);
  dnnl_memory_destroy(sm);
  if (wp) dnnl_memory_destroy(wp);
  return 0;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "cim_dnnl: " #call " failed");      \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/*
 * a tensor's floats: a Float32Array of `want` floats, or a BigInt address of a tensor's buffer
 * (the tfjs-node binding's cimTensorAddress, scripts/native-backend.mjs: libtensorflow's own
 * memory, read and written in place; the caller has checked its size). NULL with a thrown error
 * otherwise.
 */
static float *floats(napi_env env, napi_value v, size_t want, const char *what) {
  napi_valuetype vt;
  if (napi_typeof(env, v, &vt) == napi_ok && vt == napi_bigint) {
    uint64_t address;
    bool lossless;
    if (napi_get_value_bigint_uint64(env, v, &address, &lossless) != napi_ok || !lossless || address == 0 || address % 4) {
      char m[128];
      snprintf(m, sizeof m, "cim_dnnl: %s is not a valid tensor address", what);
      napi_throw_range_error(env, NULL, m);
      return NULL;
    }
    return (float *)(uintptr_t)address;
  }
  napi_typedarray_type t;
  size_t len;
  void *data;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, &len, &data, NULL, NULL) != napi_ok || t != napi_float32_array) {
    char m[128];
    snprintf(m, sizeof m, "cim_dnnl: %s must be a Float32Array or a tensor address (BigInt)", what);
    napi_throw_type_error(env, NULL, m);
    return NULL;
  }
  if (len != want) {
    char m[160];
    snprintf(m, sizeof m, "cim_dnnl: %s has %zu floats, the shapes need %zu", what, len, want);
    napi_throw_range_error(env, NULL, m);
    return NULL;
  }
  return data;
}

/* a JS array of 4 positive integers */
static int dims4(napi_env env, napi_value v, dnnl_dim_t *d) {
  for (uint32_t i = 0; i < 4; i++) {
    napi_value e;
    int64_t x;
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_int64(env, e, &x) != napi_ok || x <= 0) {
      napi_throw_type_error(env, NULL, "cim_dnnl: a shape must be 4 positive integers");
      return -1;
    }
    d[i] = x;
  }
  return 0;
}

static int int_arg(napi_env env, napi_value v, dnnl_dim_t *out, int64_t min) {
  int64_t x;
  if (napi_get_value_int64(env, v, &x) != napi_ok || x < min) {
    napi_throw_type_error(env, NULL, "cim_dnnl: stride, pad and k must be integers (stride, k ≥ 1; pad ≥ 0)");
    return -1;
  }
  *out = x;
  return 0;
}

static napi_value fail(napi_env env) {
  napi_throw_error(env, NULL, err);
  return NULL;
}

/* forward(x, xShape, w, wShape, stride, pad, y) */
static napi_value Forward(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  dnnl_dim_t xs[4], ws[4], s[8];
  if (argc < 7 || dims4(env, a[1], xs) || dims4(env, a[3], ws) || int_arg(env, a[4], &s[6], 1) ||
      int_arg(env, a[5], &s[7], 0))
    return NULL;
  if (ws[0] != ws[1] || ws[2] != xs[3]) {
    napi_throw_range_error(env, NULL, "cim_dnnl.forward: the filter must be [k, k, C, O] with x's C");
    return NULL;
  }
  s[0] = xs[0], s[1] = xs[1], s[2] = xs[2], s[3] = xs[3], s[4] = ws[3], s[5] = ws[0];
  dnnl_dim_t oh = (s[1] + 2 * s[7] - s[5]) / s[6] + 1, ow = (s[2] + 2 * s[7] - s[5]) / s[6] + 1;
  if (oh <= 0 || ow <= 0) {
    napi_throw_range_error(env, NULL, "cim_dnnl.forward: the filter is larger than the padded input");
    return NULL;
  }
  float *x = floats(env, a[0], (size_t)(xs[0] * xs[1] * xs[2] * xs[3]), "x");
  float *w = x ? floats(env, a[2], (size_t)(ws[0] * ws[1] * ws[2] * ws[3]), "w") : NULL;
  float *y = w ? floats(env, a[6], (size_t)(s[0] * oh * ow * s[4]), "y") : NULL;
  if (!y) return NULL;
  entry *e = lookup(FWD, s);
  if (!e || run(e, x, w, y)) return fail(env);
  return NULL;
}

/* backwardData(dy, dyShape, w, wShape, stride, pad, dxShape, dx) */
static napi_value BackwardData(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  dnnl_dim_t ys[4], ws[4], xs[4], s[8];
  if (argc < 8 || dims4(env, a[1], ys) || dims4(env, a[3], ws) || int_arg(env, a[4], &s[6], 1) ||
      int_arg(env, a[5], &s[7], 0) || dims4(env, a[6], xs))
    return NULL;
  s[0] = xs[0], s[1] = xs[1], s[2] = xs[2], s[3] = xs[3], s[4] = ws[3], s[5] = ws[0];
  dnnl_dim_t oh = (s[1] + 2 * s[7] - s[5]) / s[6] + 1, ow = (s[2] + 2 * s[7] - s[5]) / s[6] + 1;
  if (ws[0] != ws[1] || ws[2] != xs[3] || ys[0] != xs[0] || ys[1] != oh || ys[2] != ow || ys[3] != ws[3]) {
    napi_throw_range_error(env, NULL, "cim_dnnl.backwardData: dy, the filter and dx's shapes disagree");
    return NULL;
  }
  float *dy = floats(env, a[0], (size_t)(ys[0] * ys[1] * ys[2] * ys[3]), "dy");
  float *w = dy ? floats(env, a[2], (size_t)(ws[0] * ws[1] * ws[2] * ws[3]), "w") : NULL;
  float *dx = w ? floats(env, a[7], (size_t)(xs[0] * xs[1] * xs[2] * xs[3]), "dx") : NULL;
  if (!dx) return NULL;
  entry *e = lookup(BWD_DATA, s);
  if (!e || run(e, dx, w, dy)) return fail(env);
  return NULL;
}

/* backwardWeights(x, xShape, dy, dyShape, k, stride, pad, dw) */
static napi_value BackwardWeights(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  dnnl_dim_t xs[4], ys[4], s[8];
  if (argc < 8 || dims4(env, a[1], xs) || dims4(env, a[3], ys) || int_arg(env, a[4], &s[5], 1) ||
      int_arg(env, a[5], &s[6], 1) || int_arg(env, a[6], &s[7], 0))
    return NULL;
  s[0] = xs[0], s[1] = xs[1], s[2] = xs[2], s[3] = xs[3], s[4] = ys[3];
  dnnl_dim_t oh = (s[1] + 2 * s[7] - s[5]) / s[6] + 1, ow = (s[2] + 2 * s[7] - s[5]) / s[6] + 1;
  if (ys[0] != xs[0] || ys[1] != oh || ys[2] != ow) {
    napi_throw_range_error(env, NULL, "cim_dnnl.backwardWeights: x and dy's shapes disagree");
    return NULL;
  }
  float *x = floats(env, a[0], (size_t)(xs[0] * xs[1] * xs[2] * xs[3]), "x");
  float *dy = x ? floats(env, a[2], (size_t)(ys[0] * ys[1] * ys[2] * ys[3]), "dy") : NULL;
  float *dw = dy ? floats(env, a[7], (size_t)(s[5] * s[5] * s[3] * s[4]), "dw") : NULL;
  if (!dw) return NULL;
  entry *e = lookup(BWD_WEIGHTS, s);
  if (!e || run(e, x, dw, dy)) return fail(env);
  return NULL;
}

/* ── BatchNorm (training) on x [M, C] (channels last), described as nhwc [1, C, M, 1] ─────────── */
typedef struct bn_entry {
  int backward;
  dnnl_dim_t m, c;
  float eps;
  dnnl_primitive_t prim;
  dnnl_memory_desc_t data_md, stat_md, scratch_md;
  void *scratch;
  float *ss; /* [2, C]: scale then shift (their gradients in the backward pass) */
  struct bn_entry *next;
} bn_entry;
static bn_entry *bn_cache = NULL;

static int bn_build(bn_entry *e) {
  dnnl_dims_t dims = {1, e->c, e->m, 1};
  dnnl_dims_t cdims = {e->c};
  DN(dnnl_memory_desc_init_by_tag(&e->data_md, 4, dims, dnnl_f32, dnnl_nhwc));
  DN(dnnl_memory_desc_init_by_tag(&e->stat_md, 1, cdims, dnnl_f32, dnnl_a));
  dnnl_primitive_attr_t attr;
  DN(dnnl_primitive_attr_create(&attr));
  DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  /* the [2, C] scale-and-shift form: Debian's 2.6 refuses separate scale and shift in the backward pass */
  unsigned flags = dnnl_use_scaleshift;
  dnnl_batch_normalization_desc_t fd;
  DN(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &e->data_md, e->eps, flags));
  dnnl_primitive_desc_t fpd, pd;
  DN(dnnl_primitive_desc_create(&fpd, &fd, attr, engine, NULL));
  pd = fpd;
  if (e->backward) {
    dnnl_batch_normalization_desc_t bd;
    DN(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &e->data_md, &e->data_md, e->eps, flags));
    DN(dnnl_primitive_desc_create(&pd, &bd, attr, engine, fpd));
  }
  DN(dnnl_primitive_attr_destroy(attr));
  e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  if (dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0)) != 0) {
    snprintf(err, sizeof err, "cim_dnnl: batch normalization wants a workspace");
    return -1;
  }
  DN(dnnl_primitive_create(&e->prim, pd));
  e->scratch = alloc64(dnnl_memory_desc_get_size(&e->scratch_md));
  e->ss = alloc64(2 * e->c * sizeof(float));
  if (pd != fpd) DN(dnnl_primitive_desc_destroy(pd));
  DN(dnnl_primitive_desc_destroy(fpd));
  return 0;
}

static bn_entry *bn_lookup(int backward, dnnl_dim_t m, dnnl_dim_t c, float eps) {
  for (bn_entry *e = bn_cache; e; e = e->next)
    if (e->backward == backward && e->m == m && e->c == c && e->eps == eps) return e;
  bn_entry *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, sizeof err, "cim_dnnl: out of memory");
    return NULL;
  }
  e->backward = backward, e->m = m, e->c = c, e->eps = eps;
  if (init() || bn_build(e)) {
    free(e);
    return NULL;
  }
  e->next = bn_cache;
  bn_cache = e;
  return e;
}

/* runs e with (arg, pointer) pairs, each in the layout the primitive gives that argument */
static int bn_run(bn_entry *e, int n, const int *args, float *const *ptrs) {
  dnnl_exec_arg_t a[12];
  dnnl_memory_t mem[12];
  const_dnnl_primitive_desc_t pd;
  DN(dnnl_primitive_get_primitive_desc(e->prim, &pd));
  for (int i = 0; i < n; i++) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, args[i]);
    if (!md || dnnl_memory_desc_get_size(md) == 0) {
      snprintf(err, sizeof err, "cim_dnnl: batch normalization takes no argument %d", args[i]);
      return -1;
    }
    DN(dnnl_memory_create(&mem[i], md, engine, ptrs[i]));
    a[i] = (dnnl_exec_arg_t){args[i], mem[i]};
  }
  DN(dnnl_memory_create(&mem[n], &e->scratch_md, engine, e->scratch));
  a[n] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem[n]};
  DN(dnnl_primitive_execute(e->prim, stream, n + 1, a));
  DN(dnnl_stream_wait(stream));
  for (int i = 0; i <= n; i++) dnnl_memory_destroy(mem[i]);
  return 0;
}

static int float_arg(napi_env env, napi_value v, float *out) {
  double x;
  if (napi_get_value_double(env, v, &x) != napi_ok || !(x > 0)) {
    napi_throw_type_error(env, NULL, "cim_dnnl: eps must be a positive number");
    return -1;
  }
  *out = (float)x;
  return 0;
}

static int mc_arg(napi_env env, napi_value v, dnnl_dim_t *m, dnnl_dim_t *c) {
  napi_value e;
  int64_t x[2];
  for (uint32_t i = 0; i < 2; i++)
    if (napi_get_element(env, v, i, &e) != napi_ok || napi_get_value_int64(env, e, &x[i]) != napi_ok || x[i] <= 0) {
      napi_throw_type_error(env, NULL, "cim_dnnl: a BatchNorm shape is [M, C], positive integers");
      return -1;
    }
  *m = x[0], *c = x[1];
  return 0;
}

/* bnForward(x, [M, C], scale, shift, eps, y, mean, variance, meanCopy, varianceUnbiased): training statistics */
static napi_value BnForward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value a[10];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  dnnl_dim_t m, c;
  float eps;
  if (argc < 10 || mc_arg(env, a[1], &m, &c) || float_arg(env, a[4], &eps)) return NULL;
  if (m < 2) {
    napi_throw_range_error(env, NULL, "cim_dnnl.bnForward: training needs M >= 2");
    return NULL;
  }
  size_t mc = (size_t)(m * c);
  float *x = floats(env, a[0], mc, "x"), *sc = x ? floats(env, a[2], c, "scale") : NULL;
  float *sh = sc ? floats(env, a[3], c, "shift") : NULL, *y = sh ? floats(env, a[5], mc, "y") : NULL;
  float *mean = y ? floats(env, a[6], c, "mean") : NULL, *var = mean ? floats(env, a[7], c, "variance") : NULL;
  float *mean2 = var ? floats(env, a[8], c, "mean copy") : NULL, *varu = mean2 ? floats(env, a[9], c, "unbiased variance") : NULL;
  if (!varu) return NULL;
  bn_entry *e = bn_lookup(0, m, c, eps);
  if (!e) return fail(env);
  memcpy(e->ss, sc, c * sizeof(float));
  memcpy(e->ss + c, sh, c * sizeof(float));
  int args[5] = {DNNL_ARG_SRC, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
  float *ptrs[5] = {x, e->ss, y, mean, var};
  if (bn_run(e, 5, args, ptrs)) return fail(env);
  const float unbias = (float)m / (float)(m - 1);
  for (dnnl_dim_t i = 0; i < c; i++) mean2[i] = mean[i], varu[i] = var[i] * unbias;
  return NULL;
}

/* bnBackward(dy, x, [M, C], scale, mean, variance, eps, dx, dscale, dshift) with the forward's saved statistics */
static napi_value BnBackward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value a[10];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  dnnl_dim_t m, c;
  float eps;
  if (argc < 10 || mc_arg(env, a[2], &m, &c) || float_arg(env, a[6], &eps)) return NULL;
  size_t mc = (size_t)(m * c);
  float *dy = floats(env, a[0], mc, "dy"), *x = dy ? floats(env, a[1], mc, "x") : NULL;
  float *sc = x ? floats(env, a[3], c, "scale") : NULL, *mean = sc ? floats(env, a[4], c, "mean") : NULL;
  float *var = mean ? floats(env, a[5], c, "variance") : NULL, *dx = var ? floats(env, a[7], mc, "dx") : NULL;
  float *dsc = dx ? floats(env, a[8], c, "dscale") : NULL, *dsh = dsc ? floats(env, a[9], c, "dshift") : NULL;
  if (!dsh) return NULL;
  bn_entry *e = bn_lookup(1, m, c, eps);
  if (!e) return fail(env);
  float *ss = alloc64(2 * c * sizeof(float)); /* scale (and an unused shift) in */
  if (!ss) {
    snprintf(err, sizeof err, "cim_dnnl: out of memory");
    return fail(env);
  }
  memcpy(ss, sc, c * sizeof(float));
  memset(ss + c, 0, c * sizeof(float));
  int args[7] = {DNNL_ARG_DIFF_DST, DNNL_ARG_SRC, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_SRC,
                 DNNL_ARG_DIFF_SCALE_SHIFT};
  float *ptrs[7] = {dy, x, ss, mean, var, dx, e->ss};
  int r = bn_run(e, 7, args, ptrs);
  free(ss);
  if (r) return fail(env);
  memcpy(dsc, e->ss, c * sizeof(float));
  memcpy(dsh, e->ss + c, c * sizeof(float));
  return NULL;
}

static void drop_cache(void) {
  while (cache) {
    entry *e = cache;
    cache = e->next;
    dnnl_primitive_destroy(e->prim);
    if (e->wreorder) dnnl_primitive_destroy(e->wreorder);
    free(e->wbuf);
    free(e->scratch);
    free(e);
  }
  while (bn_cache) {
    bn_entry *e = bn_cache;
    bn_cache = e->next;
    dnnl_primitive_destroy(e->prim);
    free(e->scratch);
    free(e->ss);
    free(e);
  }
}

/* setThreads(n): the primitives partition their work by the thread count, so they are rebuilt */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int32_t n;
  if (argc < 1 || napi_get_value_int32(env, a[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, NULL, "cim_dnnl.setThreads: a positive integer");
    return NULL;
  }
  drop_cache();
  omp_set_num_threads(n);
  return NULL;
}

static napi_value Version(napi_env env, napi_callback_info info) {
  (void)info;
  const dnnl_version_t *v = dnnl_version();
  char s[64];
  snprintf(s, sizeof s, "%d.%d.%d", v->major, v->minor, v->patch);
  napi_value out;
  CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value addresses; /* tensors may be given as BigInt addresses (an older build took Float32Arrays only) */
  CHECK(napi_get_boolean(env, true, &addresses));
  napi_property_descriptor props[] = {
      {"takesAddresses", NULL, NULL, NULL, NULL, addresses, napi_enumerable, NULL},
      {"forward", NULL, Forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"backwardData", NULL, BackwardData, NULL, NULL, NULL, napi_enumerable, NULL},
      {"backwardWeights", NULL, BackwardWeights, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnForward", NULL, BnForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnBackward", NULL, BnBackward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, Version, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof *props, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
