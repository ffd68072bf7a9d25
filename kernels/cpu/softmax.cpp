// Softmax / log-softmax over one axis on the CPU: the reference loops (test oracle, one (o, i)
// pair at a time) and the fast float path (a block of inner positions at a time, or one
// contiguous row when the axis is the last dimension). See softmax.h for the formulas.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

namespace stuckat::cpu {
namespace {
// Below this many elements an OpenMP fork costs more than the loop itself.
constexpr int64_t kParallelMinElements = 1 << 15;
// Inner positions one task of the fast path handles together.
constexpr int64_t kBlock = 256;

// The fast path on one outer index o and inner positions [i0, i0 + len).
void forward_block(const float* x, float* y, const SoftmaxShape& s, bool log, int64_t o, int64_t i0, int64_t len) {
  float m[kBlock], sum[kBlock];
  const float* xo = x + o * s.axis * s.inner + i0;
  float* yo = y + o * s.axis * s.inner + i0;
  for (int64_t i = 0; i < len; ++i) m[i] = xo[i];
  for (int64_t k = 1; k < s.axis; ++k) {
    const float* row = xo + k * s.inner;
    for (int64_t i = 0; i < len; ++i) m[i] = row[i] > m[i] ? row[i] : m[i];
  }
  for (int64_t i = 0; i < len; ++i) sum[i] = 0.0f;
  for (int64_t k = 0; k < s.axis; ++k) {
    const float* xr = xo + k * s.inner;
    float* yr = yo + k * s.inner;
    for (int64_t i = 0; i < len; ++i) {
      const float e = std::exp(xr[i] - m[i]);
      if (!log) yr[i] = e;
      sum[i] += e;
    }
  }
  if (log) {
    for (int64_t i = 0; i < len; ++i) sum[i] = std::log(sum[i]);  // now log(sum)
    for (int64_t k = 0; k < s.axis; ++k) {
      const float* xr = xo + k * s.inner;
      float* yr = yo + k * s.inner;
      for (int64_t i = 0; i < len; ++i) yr[i] = (xr[i] - m[i]) - sum[i];
    }
  } else {
    for (int64_t i = 0; i < len; ++i) sum[i] = 1.0f / sum[i];  // now 1 / sum
    for (int64_t k = 0; k < s.axis; ++k) {
      float* yr = yo + k * s.inner;
      for (int64_t i = 0; i < len; ++i) yr[i] *= sum[i];
    }
  }
}

// The fast path on one contiguous row of n values (the axis is the last dimension).
void forward_row(const float* x, float* y, int64_t n, bool log) {
  float m = x[0];
  for (int64_t k = 1; k < n; ++k) m = x[k] > m ? x[k] : m;
  float sum = 0.0f;
  for (int64_t k = 0; k < n; ++k) {
    const float e = std::exp(x[k] - m);
    if (!log) y[k] = e;
    sum += e;
  }
  if (log) {
    const float ls = std::log(sum);
    for (int64_t k = 0; k < n; ++k) y[k] = (x[k] - m) - ls;
  } else {
    const float inv = 1.0f / sum;
    for (int64_t k = 0; k < n; ++k) y[k] *= inv;
  }
}

void backward_block(const float* y, const float* dy, float* dx, const SoftmaxShape& s, bool log, int64_t o,
                    int64_t i0, int64_t len) {
  float sum[kBlock];
  const int64_t base = o * s.axis * s.inner + i0;
  for (int64_t i = 0; i < len; ++i) sum[i] = 0.0f;
  for (int64_t k = 0; k < s.axis; ++k) {
    const float* yr = y + base + k * s.inner;
    const float* gr = dy + base + k * s.inner;
    if (log)
      for (int64_t i = 0; i < len; ++i) sum[i] += gr[i];
    else
      for (int64_t i = 0; i < len; ++i) sum[i] += gr[i] * yr[i];
  }
  for (int64_t k = 0; k < s.axis; ++k) {
    const float* yr = y + base + k * s.inner;
    const float* gr = dy + base + k * s.inner;
    float* dr = dx + base + k * s.inner;
    if (log)
      for (int64_t i = 0; i < len; ++i) dr[i] = gr[i] - std::exp(yr[i]) * sum[i];
    else
      for (int64_t i = 0; i < len; ++i) dr[i] = yr[i] * (gr[i] - sum[i]);
  }
}

// The backward on one contiguous row of n values.
void backward_row(const float* y, const float* dy, float* dx, int64_t n, bool log) {
  float sum = 0.0f;
  if (log) {
    for (int64_t k = 0; k < n; ++k) sum += dy[k];
    for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] - std::exp(y[k]) * sum;
  } else {
    for (int64_t k = 0; k < n; ++k) sum += dy[k] * y[k];
    for (int64_t k = 0; k < n; ++k) dx[k] = y[k] * (dy[k] - sum);
  }
}

// Runs block(o, i0, len) over every outer index and block of inner positions.
template <typename Block> void for_blocks(const SoftmaxShape& s, const Block& block) {
  const int64_t blocks = (s.inner + kBlock - 1) / kBlock;
  const int64_t tasks = s.outer * blocks;
#pragma omp parallel for schedule(static) if (s.numel() >= kParallelMinElements)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i0 = t % blocks * kBlock;
    block(t / blocks, i0, std::min(kBlock, s.inner - i0));
  }
}
}  // namespace

template <typename T> void softmax_forward_ref(const T* x, T* y, const SoftmaxShape& s, bool log) {
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const T* xp = x + o * s.axis * s.inner + i;
      T* yp = y + o * s.axis * s.inner + i;
      T m = xp[0];
      for (int64_t k = 1; k < s.axis; ++k) m = std::max(m, xp[k * s.inner]);
      T sum = 0;
      for (int64_t k = 0; k < s.axis; ++k) sum += std::exp(xp[k * s.inner] - m);
      for (int64_t k = 0; k < s.axis; ++k) {
        const T shifted = xp[k * s.inner] - m;
        yp[k * s.inner] = log ? shifted - std::log(sum) : std::exp(shifted) / sum;
      }
    }
  }
}

template <typename T> void softmax_backward_ref(const T* y, const T* dy, T* dx, const SoftmaxShape& s, bool log) {
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t base = o * s.axis * s.inner + i;
      T sum = 0;  // sum dy (log-softmax) or sum dy * y (softmax)
      for (int64_t k = 0; k < s.axis; ++k) {
        const int64_t j = base + k * s.inner;
        sum += log ? dy[j] : dy[j] * y[j];
      }
      for (int64_t k = 0; k < s.axis; ++k) {
        const int64_t j = base + k * s.inner;
        dx[j] = log ? dy[j] - std::exp(y[j]) * sum : y[j] * (dy[j] - sum);
      }
    }
  }
}

template void softmax_forward_ref<float>(const float*, float*, const SoftmaxShape&, bool);
template void softmax_forward_ref<double>(const double*, double*, const SoftmaxShape&, bool);
template void softmax_backward_ref<float>(const float*, const float*, float*, const SoftmaxShape&, bool);
template void softmax_backward_ref<double>(const double*, const double*, double*, const SoftmaxShape&, bool);

void softmax_forward(const float* x, float* y, const SoftmaxShape& s, bool log) {
  if (s.numel() == 0) return;
  if (s.inner == 1) {
#pragma omp parallel for schedule(static) if (s.numel() >= kParallelMinElements)
    for (int64_t o = 0; o < s.outer; ++o) forward_row(x + o * s.axis, y + o * s.axis, s.axis, log);
    return;
  }
  for_blocks(s, [&](int64_t o, int64_t i0, int64_t len) { forward_block(x, y, s, log, o, i0, len); });
}

void softmax_backward(const float* y, const float* dy, float* dx, const SoftmaxShape& s, bool log) {
  if (s.numel() == 0) return;
  if (s.inner == 1) {
#pragma omp parallel for schedule(static) if (s.numel() >= kParallelMinElements)
    for (int64_t o = 0; o < s.outer; ++o) backward_row(y + o * s.axis, dy + o * s.axis, dx + o * s.axis, s.axis, log);
    return;
  }
  for_blocks(s, [&](int64_t o, int64_t i0, int64_t len) { backward_block(y, dy, dx, s, log, o, i0, len); });
}

}  // namespace stuckat::cpu
