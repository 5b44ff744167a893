// Native training kernels for the fast CPU backend (see src/engine/).
// They operate in place on float32 data inside one ArrayBuffer (the tfjs WASM
// backend's heap), addressed by byte offsets, so no data is copied between JS
// and C++. Threads: OpenMP; GEMM: oneDNN's dnnl_sgemm when built with
// HAVE_DNNL, else a simple blocked loop. NHWC layouts, filters HWIO
// ([kh, kw, in, out]); depthwise filters [kh, kw, C, mult].

#include <node_api.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace {

struct Geom {
  int64_t batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft;
};

bool throwErr(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return false;
}

bool getInt(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) return throwErr(env, "fastkernels: expected a number");
  napi_get_value_int64(env, v, out);
  return true;
}

bool getGeom(napi_env env, napi_value obj, Geom* g) {
  const char* names[] = {"batch", "inH", "inW", "inC", "outH", "outW", "outC", "kH", "kW", "strideH", "strideW", "padTop", "padLeft"};
  int64_t* fields[] = {&g->batch, &g->inH, &g->inW, &g->inC, &g->outH, &g->outW, &g->outC, &g->kH, &g->kW, &g->strideH, &g->strideW, &g->padTop, &g->padLeft};
  for (int i = 0; i < 13; i++) {
    napi_value v;
    if (napi_get_named_property(env, obj, names[i], &v) != napi_ok) return throwErr(env, std::string("fastkernels: geometry lacks ") + names[i]);
    if (!getInt(env, v, fields[i])) return false;
  }
  if (g->batch < 1 || g->inH < 1 || g->inW < 1 || g->inC < 1 || g->outH < 1 || g->outW < 1 || g->outC < 1 || g->kH < 1 || g->kW < 1 ||
      g->strideH < 1 || g->strideW < 1)
    return throwErr(env, "fastkernels: bad geometry");
  return true;
}

// Resolves heap + byte offset to a float pointer after checking that `count` floats fit.
struct Heap {
  uint8_t* data = nullptr;
  size_t len = 0;
};

bool getHeap(napi_env env, napi_value v, Heap* h) {
  bool isAb = false;
  napi_is_arraybuffer(env, v, &isAb);
  if (!isAb) return throwErr(env, "fastkernels: first argument must be an ArrayBuffer");
  void* d;
  napi_get_arraybuffer_info(env, v, &d, &h->len);
  h->data = static_cast<uint8_t*>(d);
  return true;
}

bool ptrAt(napi_env env, const Heap& h, napi_value offV, int64_t count, float** out) {
  int64_t off;
  if (!getInt(env, offV, &off)) return false;
  if (off < 0 || (off & 3) != 0 || count < 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > h.len)
    return throwErr(env, "fastkernels: tensor outside the heap");
  *out = reinterpret_cast<float*>(h.data + off);
  return true;
}

// C[M,N] = op(A) . op(B) + beta * C, row-major, lda/ldb/ldc = row lengths.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta, float* C) {
#ifdef HAVE_DNNL
  dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, 1.0f, A, transA ? M : K, B, transB ? K : N, beta, C, N);
#else
  // Fallback: rows of C in parallel, i-k-j order so the inner loop vectorises.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < M; i++) {
    float* __restrict c = C + i * N;
    if (beta == 0.0f) std::memset(c, 0, sizeof(float) * N);
    else if (beta != 1.0f) for (int64_t j = 0; j < N; j++) c[j] *= beta;
    for (int64_t k = 0; k < K; k++) {
      const float a = transA ? A[k * M + i] : A[i * K + k];
      if (a == 0.0f) continue;
      if (!transB) {
        const float* __restrict b = B + k * N;
        for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; j++) c[j] += a * B[j * K + k];
      }
    }
  }
#endif
}

bool isPointwise(const Geom& g) {
  return g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0 && g.inH == g.outH && g.inW == g.outW;
}

// Images per im2col chunk so that the column buffer stays under ~32 MB.
int64_t chunkImages(const Geom& g) {
  const int64_t perImage = g.outH * g.outW * g.kH * g.kW * g.inC;
  return std::max<int64_t>(1, std::min<int64_t>(g.batch, (8 << 20) / std::max<int64_t>(1, perImage)));
}

void im2col(const Geom& g, const float* x, int64_t n0, int64_t nImg, float* col) {
  const int64_t rowLen = g.kH * g.kW * g.inC;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < nImg; n++) {
    for (int64_t oy = 0; oy < g.outH; oy++) {
      for (int64_t ox = 0; ox < g.outW; ox++) {
        float* row = col + ((n * g.outH + oy) * g.outW + ox) * rowLen;
        for (int64_t ky = 0; ky < g.kH; ky++) {
          const int64_t iy = oy * g.strideH + ky - g.padTop;
          for (int64_t kx = 0; kx < g.kW; kx++) {
            const int64_t ix = ox * g.strideW + kx - g.padLeft;
            float* dst = row + (ky * g.kW + kx) * g.inC;
            if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) {
              std::memset(dst, 0, sizeof(float) * g.inC);
            } else {
              std::memcpy(dst, x + (((n0 + n) * g.inH + iy) * g.inW + ix) * g.inC, sizeof(float) * g.inC);
            }
          }
        }
      }
    }
  }
}

void col2imAdd(const Geom& g, const float* col, int64_t n0, int64_t nImg, float* dx) {
  const int64_t rowLen = g.kH * g.kW * g.inC;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < nImg; n++) {
    for (int64_t oy = 0; oy < g.outH; oy++) {
      for (int64_t ox = 0; ox < g.outW; ox++) {
        const float* row = col + ((n * g.outH + oy) * g.outW + ox) * rowLen;
        for (int64_t ky = 0; ky < g.kH; ky++) {
          const int64_t iy = oy * g.strideH + ky - g.padTop;
          if (iy < 0 || iy >= g.inH) continue;
          for (int64_t kx = 0; kx < g.kW; kx++) {
            const int64_t ix = ox * g.strideW + kx - g.padLeft;
            if (ix < 0 || ix >= g.inW) continue;
            float* __restrict d = dx + (((n0 + n) * g.inH + iy) * g.inW + ix) * g.inC;
            const float* __restrict s = row + (ky * g.kW + kx) * g.inC;
            for (int64_t c = 0; c < g.inC; c++) d[c] += s[c];
          }
        }
      }
    }
  }
}

// ---- kernels ---------------------------------------------------------------

void conv2dBackpropFilter(const Geom& g, const float* x, const float* dy, float* dW) {
  const int64_t cols = g.kH * g.kW * g.inC;
  if (isPointwise(g)) {
    sgemm(true, false, g.inC, g.outC, g.batch * g.inH * g.inW, x, dy, 0.0f, dW);
    return;
  }
  const int64_t chunk = chunkImages(g);
  std::vector<float> col(static_cast<size_t>(chunk * g.outH * g.outW * cols));
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t nImg = std::min(chunk, g.batch - n0);
    im2col(g, x, n0, nImg, col.data());
    const int64_t rows = nImg * g.outH * g.outW;
    sgemm(true, false, cols, g.outC, rows, col.data(), dy + n0 * g.outH * g.outW * g.outC, n0 == 0 ? 0.0f : 1.0f, dW);
  }
}

void conv2dBackpropInput(const Geom& g, const float* dy, const float* w, float* dx) {
  const int64_t cols = g.kH * g.kW * g.inC;
  if (isPointwise(g)) {
    sgemm(false, true, g.batch * g.inH * g.inW, g.inC, g.outC, dy, w, 0.0f, dx);
    return;
  }
  std::memset(dx, 0, sizeof(float) * g.batch * g.inH * g.inW * g.inC);
  const int64_t chunk = chunkImages(g);
  std::vector<float> col(static_cast<size_t>(chunk * g.outH * g.outW * cols));
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t nImg = std::min(chunk, g.batch - n0);
    const int64_t rows = nImg * g.outH * g.outW;
    sgemm(false, true, rows, cols, g.outC, dy + n0 * g.outH * g.outW * g.outC, w, 0.0f, col.data());
    col2imAdd(g, col.data(), n0, nImg, dx);
  }
}

void depthwiseBackpropFilter(const Geom& g, const float* x, const float* dy, float* dW) {
  const int64_t mult = g.outC / g.inC;
  const int64_t wSize = g.kH * g.kW * g.outC;
  const int nThreads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(nThreads * wSize), 0.0f);
#pragma omp parallel if (g.batch * g.outH * g.outW * g.outC * g.kH * g.kW > (1 << 15))
  {
    float* __restrict acc = partial.data() + omp_get_thread_num() * wSize;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; n++) {
      for (int64_t oy = 0; oy < g.outH; oy++) {
        for (int64_t ox = 0; ox < g.outW; ox++) {
          const float* __restrict d = dy + ((n * g.outH + oy) * g.outW + ox) * g.outC;
          for (int64_t ky = 0; ky < g.kH; ky++) {
            const int64_t iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (int64_t kx = 0; kx < g.kW; kx++) {
              const int64_t ix = ox * g.strideW + kx - g.padLeft;
              if (ix < 0 || ix >= g.inW) continue;
              const float* __restrict xs = x + ((n * g.inH + iy) * g.inW + ix) * g.inC;
              float* __restrict a = acc + (ky * g.kW + kx) * g.outC;
              if (mult == 1) {
                for (int64_t c = 0; c < g.inC; c++) a[c] += xs[c] * d[c];
              } else {
                for (int64_t c = 0; c < g.inC; c++)
                  for (int64_t m = 0; m < mult; m++) a[c * mult + m] += xs[c] * d[c * mult + m];
              }
            }
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < wSize; i++) {
    float s = 0.0f;
    for (int t = 0; t < nThreads; t++) s += partial[t * wSize + i];
    dW[i] = s;
  }
}

void depthwiseBackpropInput(const Geom& g, const float* dy, const float* w, float* dx) {
  const int64_t mult = g.outC / g.inC;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.batch; n++) {
    std::memset(dx + n * g.inH * g.inW * g.inC, 0, sizeof(float) * g.inH * g.inW * g.inC);
    for (int64_t oy = 0; oy < g.outH; oy++) {
      for (int64_t ox = 0; ox < g.outW; ox++) {
        const float* __restrict d = dy + ((n * g.outH + oy) * g.outW + ox) * g.outC;
        for (int64_t ky = 0; ky < g.kH; ky++) {
          const int64_t iy = oy * g.strideH + ky - g.padTop;
          if (iy < 0 || iy >= g.inH) continue;
          for (int64_t kx = 0; kx < g.kW; kx++) {
            const int64_t ix = ox * g.strideW + kx - g.padLeft;
            if (ix < 0 || ix >= g.inW) continue;
            float* __restrict o = dx + ((n * g.inH + iy) * g.inW + ix) * g.inC;
            const float* __restrict ws = w + (ky * g.kW + kx) * g.outC;
            if (mult == 1) {
              for (int64_t c = 0; c < g.inC; c++) o[c] += d[c] * ws[c];
            } else {
              for (int64_t c = 0; c < g.inC; c++) {
                float s = 0.0f;
                for (int64_t m = 0; m < mult; m++) s += d[c * mult + m] * ws[c * mult + m];
                o[c] += s;
              }
            }
          }
        }
      }
    }
  }
}

// y = act(x + bias) per element of the last axis (bias may be null); act kind
// -1 none, 0 relu, 1 relu6.
inline void biasActRow(float* __restrict o, const float* __restrict bias, int64_t C, int kind) {
  if (bias) for (int64_t c = 0; c < C; c++) o[c] += bias[c];
  if (kind == 0) for (int64_t c = 0; c < C; c++) o[c] = std::max(o[c], 0.0f);
  else if (kind == 1) for (int64_t c = 0; c < C; c++) o[c] = std::min(std::max(o[c], 0.0f), 6.0f);
}

// In place over y viewed as [R, C] (the epilogue of a GEMM-based conv).
void biasAct(float* y, const float* bias, int64_t R, int64_t C, int kind) {
#pragma omp parallel for schedule(static) if (R * C > (1 << 16))
  for (int64_t r = 0; r < R; r++) biasActRow(y + r * C, bias, C, kind);
}

// Forward depthwise conv (used when the addon also replaces the forward op),
// with an optional bias + activation epilogue applied while the output pixel is in cache.
// One output pixel of a depthwise conv with multiplier 1, channels [c0, c0 + lanes
// of V): the accumulator is one GCC vector (kept in registers across the taps;
// the compiler splits it to the -march's width), the output written once,
// epilogue included.
typedef float vf16 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));
typedef float vf1 __attribute__((vector_size(4)));

template <typename V>
inline void dwPixelBlock(const Geom& g, const float* x, const float* w, float* o, const float* bias, int kind,
                         int64_t n, int64_t oy, int64_t ox, int64_t c0) {
  constexpr size_t bytes = sizeof(V);
  V acc = {};
  if (bias) std::memcpy(&acc, bias + c0, bytes);
  for (int64_t ky = 0; ky < g.kH; ky++) {
    const int64_t iy = oy * g.strideH + ky - g.padTop;
    if (iy < 0 || iy >= g.inH) continue;
    for (int64_t kx = 0; kx < g.kW; kx++) {
      const int64_t ix = ox * g.strideW + kx - g.padLeft;
      if (ix < 0 || ix >= g.inW) continue;
      V xv, wv;
      std::memcpy(&xv, x + ((n * g.inH + iy) * g.inW + ix) * g.inC + c0, bytes);
      std::memcpy(&wv, w + (ky * g.kW + kx) * g.outC + c0, bytes);
      acc += xv * wv;
    }
  }
  if (kind >= 0) {
    const V zero = {};
    acc = acc > zero ? acc : zero;
    if (kind == 1) {
      const V six = zero + 6.0f;
      acc = acc < six ? acc : six;
    }
  }
  std::memcpy(o + c0, &acc, bytes);
}

void depthwiseForwardEx(const Geom& g, const float* x, const float* w, float* y, const float* bias, int kind) {
  const int64_t mult = g.outC / g.inC;
  if (mult == 1) {
    const int64_t C = g.outC;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.batch; n++) {
      for (int64_t oy = 0; oy < g.outH; oy++) {
        for (int64_t ox = 0; ox < g.outW; ox++) {
          float* o = y + ((n * g.outH + oy) * g.outW + ox) * C;
          int64_t c0 = 0;
          for (; c0 + 16 <= C; c0 += 16) dwPixelBlock<vf16>(g, x, w, o, bias, kind, n, oy, ox, c0);
          for (; c0 + 8 <= C; c0 += 8) dwPixelBlock<vf8>(g, x, w, o, bias, kind, n, oy, ox, c0);
          for (; c0 + 4 <= C; c0 += 4) dwPixelBlock<vf4>(g, x, w, o, bias, kind, n, oy, ox, c0);
          for (; c0 < C; c0++) dwPixelBlock<vf1>(g, x, w, o, bias, kind, n, oy, ox, c0);
        }
      }
    }
    return;
  }
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.batch; n++) {
    for (int64_t oy = 0; oy < g.outH; oy++) {
      for (int64_t ox = 0; ox < g.outW; ox++) {
        float* __restrict o = y + ((n * g.outH + oy) * g.outW + ox) * g.outC;
        std::memset(o, 0, sizeof(float) * g.outC);
        for (int64_t ky = 0; ky < g.kH; ky++) {
          const int64_t iy = oy * g.strideH + ky - g.padTop;
          if (iy < 0 || iy >= g.inH) continue;
          for (int64_t kx = 0; kx < g.kW; kx++) {
            const int64_t ix = ox * g.strideW + kx - g.padLeft;
            if (ix < 0 || ix >= g.inW) continue;
            const float* __restrict xs = x + ((n * g.inH + iy) * g.inW + ix) * g.inC;
            const float* __restrict ws = w + (ky * g.kW + kx) * g.outC;
            if (mult == 1) {
              for (int64_t c = 0; c < g.inC; c++) o[c] += xs[c] * ws[c];
            } else {
              for (int64_t c = 0; c < g.inC; c++)
                for (int64_t m = 0; m < mult; m++) o[c * mult + m] += xs[c] * ws[c * mult + m];
            }
          }
        }
        if (bias || kind >= 0) biasActRow(o, bias, g.outC, kind);
      }
    }
  }
}

void depthwiseForward(const Geom& g, const float* x, const float* w, float* y) { depthwiseForwardEx(g, x, w, y, nullptr, -1); }

// out[c] = scale * sum_r x[r, c]
void sumRows(const float* x, int64_t R, int64_t C, float scale, float* out) {
  const int nThreads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(nThreads * C), 0.0f);
#pragma omp parallel if (R * C > (1 << 15))
  {
    float* __restrict acc = partial.data() + omp_get_thread_num() * C;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; r++) {
      const float* __restrict row = x + r * C;
      for (int64_t c = 0; c < C; c++) acc[c] += row[c];
    }
  }
  for (int64_t c = 0; c < C; c++) {
    float s = 0.0f;
    for (int t = 0; t < nThreads; t++) s += partial[t * C + c];
    out[c] = s * scale;
  }
}


// ---- batch norm (inference): moving statistics ------------------------------
// y = (x - mean) * scale / sqrt(var + eps) + offset over x viewed as [R, C];
// scale/offset may be null (1 / 0). Same arithmetic order as the tfjs cpu
// kernel's per-element formula up to float rounding.
void bnInference(const float* x, const float* mean, const float* var, const float* scale, const float* offset,
                 int64_t R, int64_t C, float eps, float* y) {
  std::vector<float> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) {
    const float s = (scale ? scale[c] : 1.0f) / std::sqrt(var[c] + eps);
    a[c] = s;
    b[c] = (offset ? offset[c] : 0.0f) - mean[c] * s;
  }
  const float* __restrict pa = a.data();
  const float* __restrict pb = b.data();
#pragma omp parallel for schedule(static) if (R * C > (1 << 16))
  for (int64_t r = 0; r < R; r++) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * pa[c] + pb[c];
  }
}

// kind 0: relu, 1: relu6 (forward; y may not alias x)
void actForward(const float* x, int64_t n, int kind, float* y) {
  const float hi = kind == 1 ? 6.0f : INFINITY;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; i++) y[i] = std::min(std::max(x[i], 0.0f), hi);
}

// ---- fused batch norm (training) and activation gradients --------------------
// x viewed as [R, C] (R = N*H*W rows, channels last). Statistics as tf.moments:
// mean, then the biased variance mean((x - mean)^2); per-thread partial sums in
// double so the result does not depend on the thread count beyond rounding.

void columnSums(const float* x, const float* sub, int64_t R, int64_t C, bool square, std::vector<double>& out) {
  const int nThreads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(nThreads * C), 0.0);
#pragma omp parallel if (R * C > (1 << 15))
  {
    double* acc = partial.data() + omp_get_thread_num() * C;
    std::vector<float> local(static_cast<size_t>(C), 0.0f);
    float* __restrict l = local.data();
    int64_t rowsInLocal = 0;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; r++) {
      const float* __restrict row = x + r * C;
      if (square) {
        for (int64_t c = 0; c < C; c++) { const float d = row[c] - sub[c]; l[c] += d * d; }
      } else {
        for (int64_t c = 0; c < C; c++) l[c] += row[c];
      }
      // flush float partials to double every 64 rows to bound rounding error
      if (++rowsInLocal == 64) {
        for (int64_t c = 0; c < C; c++) { acc[c] += l[c]; l[c] = 0.0f; }
        rowsInLocal = 0;
      }
    }
    for (int64_t c = 0; c < C; c++) acc[c] += l[c];
  }
  out.assign(static_cast<size_t>(C), 0.0);
  for (int t = 0; t < nThreads; t++)
    for (int64_t c = 0; c < C; c++) out[c] += partial[t * C + c];
}

void bnTrainForward(const float* x, const float* gamma, const float* beta, int64_t R, int64_t C, float eps,
                    float* y, float* meanOut, float* varOut) {
  std::vector<double> s;
  columnSums(x, nullptr, R, C, false, s);
  std::vector<float> mean(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) mean[c] = static_cast<float>(s[c] / R);
  columnSums(x, mean.data(), R, C, true, s);
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) {
    const float var = static_cast<float>(s[c] / R);
    meanOut[c] = mean[c];
    varOut[c] = var;
    const float rstd = 1.0f / std::sqrt(var + eps);
    scale[c] = gamma[c] * rstd;
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  const float* __restrict sc = scale.data();
  const float* __restrict sh = shift.data();
#pragma omp parallel for schedule(static) if (R * C > (1 << 15))
  for (int64_t r = 0; r < R; r++) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * sc[c] + sh[c];
  }
}

void bnTrainBackward(const float* dy, const float* x, const float* gamma, const float* mean, const float* var, int64_t R, int64_t C,
                     float eps, float* dx, float* dgamma, float* dbeta) {
  std::vector<float> rstd(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) rstd[c] = 1.0f / std::sqrt(var[c] + eps);
  const int nThreads = omp_get_max_threads();
  std::vector<double> pSum(static_cast<size_t>(nThreads * C), 0.0), pDot(static_cast<size_t>(nThreads * C), 0.0);
#pragma omp parallel if (R * C > (1 << 15))
  {
    double* aSum = pSum.data() + omp_get_thread_num() * C;
    double* aDot = pDot.data() + omp_get_thread_num() * C;
    std::vector<float> ls(static_cast<size_t>(C), 0.0f), ld(static_cast<size_t>(C), 0.0f);
    float* __restrict s = ls.data();
    float* __restrict d = ld.data();
    int64_t n = 0;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; r++) {
      const float* __restrict g = dy + r * C;
      const float* __restrict xr = x + r * C;
      for (int64_t c = 0; c < C; c++) { s[c] += g[c]; d[c] += g[c] * (xr[c] - mean[c]); }
      if (++n == 64) {
        for (int64_t c = 0; c < C; c++) { aSum[c] += s[c]; aDot[c] += d[c]; s[c] = 0.0f; d[c] = 0.0f; }
        n = 0;
      }
    }
    for (int64_t c = 0; c < C; c++) { aSum[c] += s[c]; aDot[c] += d[c]; }
  }
  // dx = gr * (dy - sum/R - xhat * dgamma/R) with gr = gamma*rstd, xhat = (x - mean)*rstd, dgamma = dot*rstd
  //    = a*dy - k*(x - mean) - b  with a = gr, k = gr*rstd^2*dot/R, b = gr*sum/R
  std::vector<float> a(static_cast<size_t>(C)), b(static_cast<size_t>(C)), k(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; c++) {
    double sum = 0.0, dot = 0.0;
    for (int t = 0; t < nThreads; t++) { sum += pSum[t * C + c]; dot += pDot[t * C + c]; }
    const double r = rstd[c];
    const double gr = static_cast<double>(gamma[c]) * r;
    dbeta[c] = static_cast<float>(sum);
    dgamma[c] = static_cast<float>(dot * r);
    const double kk = gr * r * r * dot / static_cast<double>(R);
    a[c] = static_cast<float>(gr);
    k[c] = static_cast<float>(kk);
    b[c] = static_cast<float>(gr * sum / static_cast<double>(R));
  }
  const float* __restrict pa = a.data();
  const float* __restrict pk = k.data();
  const float* __restrict pb = b.data();
#pragma omp parallel for schedule(static) if (R * C > (1 << 15))
  for (int64_t r = 0; r < R; r++) {
    const float* __restrict g = dy + r * C;
    const float* __restrict xr = x + r * C;
    float* __restrict o = dx + r * C;
    for (int64_t c = 0; c < C; c++) o[c] = pa[c] * g[c] - pk[c] * (xr[c] - mean[c]) - pb[c];
  }
}

// kind 0: relu (z = output y), 1: relu6 (z = y), 2: hswish (z = input x)
void actGrad(const float* dy, const float* z, int64_t n, int kind, float* dx) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; i++) {
    const float v = z[i];
    float d;
    if (kind == 0) d = v > 0.0f ? 1.0f : 0.0f;
    else if (kind == 1) d = (v > 0.0f && v < 6.0f) ? 1.0f : 0.0f;
    else d = v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : (2.0f * v + 3.0f) / 6.0f);
    dx[i] = dy[i] * d;
  }
}

// ---- N-API glue --------------------------------------------------------------

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

bool getArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) return throwErr(env, "fastkernels: too few arguments");
  return true;
}

// (heap, aOff, bOff, outOff, geom) with sizes derived per kernel.
template <typename Fn>
napi_value convEntry(napi_env env, napi_callback_info info, Fn fn, int aKind, int bKind, int outKind) {
  // kinds: 0 = input NHWC, 1 = output NHWC, 2 = conv filter HWIO, 3 = depthwise filter
  napi_value argv[5];
  if (!getArgs(env, info, 5, argv)) return nullptr;
  Heap h;
  Geom g;
  if (!getHeap(env, argv[0], &h) || !getGeom(env, argv[4], &g)) return nullptr;
  auto size = [&](int kind) -> int64_t {
    switch (kind) {
      case 0: return g.batch * g.inH * g.inW * g.inC;
      case 1: return g.batch * g.outH * g.outW * g.outC;
      default: return g.kH * g.kW * (kind == 2 ? g.inC * g.outC : g.outC);
    }
  };
  float *a, *b, *out;
  if (!ptrAt(env, h, argv[1], size(aKind), &a) || !ptrAt(env, h, argv[2], size(bKind), &b) || !ptrAt(env, h, argv[3], size(outKind), &out))
    return nullptr;
  fn(g, a, b, out);
  return undefinedValue(env);
}

napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return convEntry(env, info, conv2dBackpropFilter, 0, 1, 2);
}
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return convEntry(env, info, conv2dBackpropInput, 1, 2, 0);
}
napi_value DepthwiseBackpropFilter(napi_env env, napi_callback_info info) {
  return convEntry(env, info, depthwiseBackpropFilter, 0, 1, 3);
}
napi_value DepthwiseBackpropInput(napi_env env, napi_callback_info info) {
  return convEntry(env, info, depthwiseBackpropInput, 1, 3, 0);
}
napi_value DepthwiseForward(napi_env env, napi_callback_info info) {
  return convEntry(env, info, depthwiseForward, 0, 3, 1);
}

// depthwiseForwardFused(heap, xOff, wOff, outOff, geom, biasOff, kind): biasOff -1 = no bias; kind -1 none, 0 relu, 1 relu6
napi_value DepthwiseForwardFused(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!getArgs(env, info, 7, argv)) return nullptr;
  Heap h;
  Geom g;
  if (!getHeap(env, argv[0], &h) || !getGeom(env, argv[4], &g)) return nullptr;
  int64_t biasOff, kind;
  if (!getInt(env, argv[5], &biasOff) || !getInt(env, argv[6], &kind)) return nullptr;
  if (kind < -1 || kind > 1) return throwErr(env, "fastkernels: unknown epilogue activation kind"), nullptr;
  float *x, *w, *out, *bias = nullptr;
  if (!ptrAt(env, h, argv[1], g.batch * g.inH * g.inW * g.inC, &x) || !ptrAt(env, h, argv[2], g.kH * g.kW * g.outC, &w) ||
      !ptrAt(env, h, argv[3], g.batch * g.outH * g.outW * g.outC, &out) || (biasOff >= 0 && !ptrAt(env, h, argv[5], g.outC, &bias)))
    return nullptr;
  depthwiseForwardEx(g, x, w, out, bias, static_cast<int>(kind));
  return undefinedValue(env);
}

// biasAct(heap, yOff, biasOff, R, C, kind): in place; biasOff -1 = no bias; kind -1 none, 0 relu, 1 relu6
napi_value BiasAct(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!getArgs(env, info, 6, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t biasOff, R, C, kind;
  if (!getInt(env, argv[2], &biasOff) || !getInt(env, argv[3], &R) || !getInt(env, argv[4], &C) || !getInt(env, argv[5], &kind)) return nullptr;
  if (kind < -1 || kind > 1) return throwErr(env, "fastkernels: unknown epilogue activation kind"), nullptr;
  if (R < 0 || C < 1) return throwErr(env, "fastkernels: bad bias sizes"), nullptr;
  float *y, *bias = nullptr;
  if (!ptrAt(env, h, argv[1], R * C, &y) || (biasOff >= 0 && !ptrAt(env, h, argv[2], C, &bias))) return nullptr;
  biasAct(y, bias, R, C, static_cast<int>(kind));
  return undefinedValue(env);
}

// gemm(heap, aOff, bOff, cOff, transA, transB, M, N, K, beta)
napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!getArgs(env, info, 10, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t tA, tB, M, N, K;
  if (!getInt(env, argv[4], &tA) || !getInt(env, argv[5], &tB) || !getInt(env, argv[6], &M) || !getInt(env, argv[7], &N) || !getInt(env, argv[8], &K))
    return nullptr;
  double beta;
  napi_get_value_double(env, argv[9], &beta);
  if (M < 1 || N < 1 || K < 1) return throwErr(env, "fastkernels: bad gemm sizes"), nullptr;
  float *a, *b, *c;
  if (!ptrAt(env, h, argv[1], M * K, &a) || !ptrAt(env, h, argv[2], K * N, &b) || !ptrAt(env, h, argv[3], M * N, &c)) return nullptr;
  sgemm(tA != 0, tB != 0, M, N, K, a, b, static_cast<float>(beta), c);
  return undefinedValue(env);
}

// sumRows(heap, xOff, outOff, R, C, scale)
napi_value SumRows(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!getArgs(env, info, 6, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t R, C;
  if (!getInt(env, argv[3], &R) || !getInt(env, argv[4], &C)) return nullptr;
  double scale;
  napi_get_value_double(env, argv[5], &scale);
  float *x, *out;
  if (!ptrAt(env, h, argv[1], R * C, &x) || !ptrAt(env, h, argv[2], C, &out)) return nullptr;
  sumRows(x, R, C, static_cast<float>(scale), out);
  return undefinedValue(env);
}


// bnInference(heap, xOff, meanOff, varOff, scaleOff, offsetOff, yOff, R, C, eps); scaleOff/offsetOff -1 = absent
napi_value BnInference(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!getArgs(env, info, 10, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t R, C, scaleOff, offsetOff;
  if (!getInt(env, argv[7], &R) || !getInt(env, argv[8], &C) || !getInt(env, argv[4], &scaleOff) || !getInt(env, argv[5], &offsetOff))
    return nullptr;
  double eps;
  napi_get_value_double(env, argv[9], &eps);
  if (R < 1 || C < 1) return throwErr(env, "fastkernels: bad batch-norm sizes"), nullptr;
  float *x, *m, *v, *y, *sc = nullptr, *of = nullptr;
  if (!ptrAt(env, h, argv[1], R * C, &x) || !ptrAt(env, h, argv[2], C, &m) || !ptrAt(env, h, argv[3], C, &v) ||
      !ptrAt(env, h, argv[6], R * C, &y) || (scaleOff >= 0 && !ptrAt(env, h, argv[4], C, &sc)) ||
      (offsetOff >= 0 && !ptrAt(env, h, argv[5], C, &of)))
    return nullptr;
  bnInference(x, m, v, sc, of, R, C, static_cast<float>(eps), y);
  return undefinedValue(env);
}

// bnTrainForward(heap, xOff, gammaOff, betaOff, yOff, meanOff, varOff, R, C, eps)
napi_value BnTrainForward(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!getArgs(env, info, 10, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t R, C;
  if (!getInt(env, argv[7], &R) || !getInt(env, argv[8], &C)) return nullptr;
  double eps;
  napi_get_value_double(env, argv[9], &eps);
  if (R < 1 || C < 1) return throwErr(env, "fastkernels: bad batch-norm sizes"), nullptr;
  float *x, *g, *b, *y, *m, *v;
  if (!ptrAt(env, h, argv[1], R * C, &x) || !ptrAt(env, h, argv[2], C, &g) || !ptrAt(env, h, argv[3], C, &b) ||
      !ptrAt(env, h, argv[4], R * C, &y) || !ptrAt(env, h, argv[5], C, &m) || !ptrAt(env, h, argv[6], C, &v))
    return nullptr;
  bnTrainForward(x, g, b, R, C, static_cast<float>(eps), y, m, v);
  return undefinedValue(env);
}

// bnTrainBackward(heap, dyOff, xOff, gammaOff, meanOff, varOff, dxOff, dgammaOff, dbetaOff, R, C, eps)
napi_value BnTrainBackward(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!getArgs(env, info, 12, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t R, C;
  if (!getInt(env, argv[9], &R) || !getInt(env, argv[10], &C)) return nullptr;
  double eps;
  napi_get_value_double(env, argv[11], &eps);
  if (R < 1 || C < 1) return throwErr(env, "fastkernels: bad batch-norm sizes"), nullptr;
  float *dy, *x, *g, *m, *v, *dx, *dg, *db;
  if (!ptrAt(env, h, argv[1], R * C, &dy) || !ptrAt(env, h, argv[2], R * C, &x) || !ptrAt(env, h, argv[3], C, &g) ||
      !ptrAt(env, h, argv[4], C, &m) || !ptrAt(env, h, argv[5], C, &v) || !ptrAt(env, h, argv[6], R * C, &dx) ||
      !ptrAt(env, h, argv[7], C, &dg) || !ptrAt(env, h, argv[8], C, &db))
    return nullptr;
  bnTrainBackward(dy, x, g, m, v, R, C, static_cast<float>(eps), dx, dg, db);
  return undefinedValue(env);
}

// actForward(heap, xOff, yOff, n, kind)
napi_value ActForward(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!getArgs(env, info, 5, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t n, kind;
  if (!getInt(env, argv[3], &n) || !getInt(env, argv[4], &kind)) return nullptr;
  if (kind < 0 || kind > 1) return throwErr(env, "fastkernels: unknown forward activation kind"), nullptr;
  float *x, *y;
  if (!ptrAt(env, h, argv[1], n, &x) || !ptrAt(env, h, argv[2], n, &y)) return nullptr;
  actForward(x, n, static_cast<int>(kind), y);
  return undefinedValue(env);
}

// actGrad(heap, dyOff, zOff, outOff, n, kind)
napi_value ActGrad(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!getArgs(env, info, 6, argv)) return nullptr;
  Heap h;
  if (!getHeap(env, argv[0], &h)) return nullptr;
  int64_t n, kind;
  if (!getInt(env, argv[4], &n) || !getInt(env, argv[5], &kind)) return nullptr;
  if (kind < 0 || kind > 2) return throwErr(env, "fastkernels: unknown activation kind"), nullptr;
  float *dy, *z, *out;
  if (!ptrAt(env, h, argv[1], n, &dy) || !ptrAt(env, h, argv[2], n, &z) || !ptrAt(env, h, argv[3], n, &out)) return nullptr;
  actGrad(dy, z, n, static_cast<int>(kind), out);
  return undefinedValue(env);
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, omp_get_max_threads(), &v);
  return v;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!getArgs(env, info, 1, argv)) return nullptr;
  int64_t n;
  if (!getInt(env, argv[0], &n)) return nullptr;
  if (n < 1) return throwErr(env, "fastkernels: thread count must be >= 1"), nullptr;
  omp_set_num_threads(static_cast<int>(n));
  return undefinedValue(env);
}

napi_value GemmName(napi_env env, napi_callback_info) {
  napi_value v;
#ifdef HAVE_DNNL
  const char* name = "oneDNN sgemm";
#else
  const char* name = "builtin gemm";
#endif
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseBackpropFilter", nullptr, DepthwiseBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseBackpropInput", nullptr, DepthwiseBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseForward", nullptr, DepthwiseForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseForwardFused", nullptr, DepthwiseForwardFused, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"biasAct", nullptr, BiasAct, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnInference", nullptr, BnInference, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnTrainForward", nullptr, BnTrainForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnTrainBackward", nullptr, BnTrainBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"actForward", nullptr, ActForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"actGrad", nullptr, ActGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmName", nullptr, GemmName, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
