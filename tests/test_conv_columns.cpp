// The CUDA conv2d kernels' per-thread bodies (kernels/cuda/conv_columns.h), run on the CPU for
// every thread a launch would start, against plain loops written from the layout definitions:
// im2col and the two permutes exactly, col2im and the direct convolution within the float
// rounding of their sums. So the index arithmetic of the GPU path is checked on every build,
// GPU or not; the [cuda] tests check the launches on a device.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "framework/random.h"
#include "kernels/cuda/conv_columns.h"

using namespace stuckat;
using cuda::ConvDims;
using cuda::kCoTile;

namespace {

std::vector<float> random_values(int64_t n, RandomStream& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.next_uniform(-1.0f, 1.0f);
  return v;
}

// Shapes: stride 1, 2 and 3, padding 0 to wider than a tap, odd sizes, 1x1, more channels than
// one direct-convolution tile.
std::vector<cpu::Conv2dShape> shapes() {
  return {{2, 3, 7, 9, 5, 3, 3, 1, 1}, {3, 2, 11, 8, 19, 3, 3, 2, 1}, {1, 4, 6, 6, 3, 5, 5, 1, 2},
          {2, 5, 9, 7, 4, 1, 1, 2, 0}, {1, 3, 7, 6, 9, 3, 3, 3, 2},  {2, 1, 28, 28, 6, 5, 5, 1, 2},
          {2, 6, 14, 14, 16, 5, 5, 1, 0}};
}

std::string describe(const cpu::Conv2dShape& s) {
  return "n " + std::to_string(s.n) + " c_in " + std::to_string(s.c_in) + " " + std::to_string(s.h) + "x" +
         std::to_string(s.w) + " c_out " + std::to_string(s.c_out) + " k " + std::to_string(s.kh) + "x" +
         std::to_string(s.kw) + " stride " + std::to_string(s.stride) + " pad " + std::to_string(s.pad);
}

// x at input position (ni, ci, iy, ix), 0 outside: the value column entry reads.
float x_at(const std::vector<float>& x, const cpu::Conv2dShape& s, int64_t ni, int64_t ci, int64_t iy, int64_t ix) {
  if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) return 0.0f;
  return x[static_cast<size_t>(((ni * s.c_in + ci) * s.h + iy) * s.w + ix)];
}

// col[(ci*kh + ky)*kw + kx][(ni*ho + oy)*wo + ox] = x at (ni, ci, oy*stride - pad + ky, ox*stride - pad + kx).
std::vector<float> plain_im2col(const std::vector<float>& x, const cpu::Conv2dShape& s) {
  const int64_t ho = s.h_out(), wo = s.w_out(), m = s.n * ho * wo;
  std::vector<float> col(static_cast<size_t>(s.c_in * s.kh * s.kw * m));
  for (int64_t ci = 0; ci < s.c_in; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx)
        for (int64_t ni = 0; ni < s.n; ++ni)
          for (int64_t oy = 0; oy < ho; ++oy)
            for (int64_t ox = 0; ox < wo; ++ox)
              col[static_cast<size_t>(((ci * s.kh + ky) * s.kw + kx) * m + (ni * ho + oy) * wo + ox)] =
                  x_at(x, s, ni, ci, oy * s.stride - s.pad + ky, ox * s.stride - s.pad + kx);
  return col;
}

template <typename I>
void check_shape(const cpu::Conv2dShape& s) {
  INFO(describe(s) << (sizeof(I) == 4 ? " int32" : " int64"));
  RandomStream rng(static_cast<uint64_t>(s.n * 1000 + s.c_in * 100 + s.c_out), 3);
  const ConvDims<I> d = cuda::conv_dims<I>(s);
  const int64_t ho = s.h_out(), wo = s.w_out(), p = ho * wo, m = s.n * p, k = s.c_in * s.kh * s.kw;
  const std::vector<float> x = random_values(s.n * s.c_in * s.h * s.w, rng);

  // im2col: thread (c, ci) for every column and input channel.
  std::vector<float> col(static_cast<size_t>(k * m), -7.0f);
  for (int64_t ci = 0; ci < s.c_in; ++ci)
    for (int64_t c = 0; c < m; ++c) cuda::im2col_thread<I>(x.data(), col.data(), d, static_cast<I>(c), static_cast<I>(ci));
  CHECK(col == plain_im2col(x, s));

  // The permutes, in runs of 8 channels as the kernels launch them.
  const std::vector<float> ycol = random_values(s.c_out * m, rng), bias = random_values(s.c_out, rng);
  std::vector<float> y(static_cast<size_t>(s.c_out * m), -7.0f), y_plain(y.size());
  std::vector<float> dycol(y.size(), -7.0f), dycol_plain(y.size());
  for (int64_t c = 0; c < m; ++c)
    for (int64_t co = 0; co < s.c_out; co += 8) {
      const I end = static_cast<I>(std::min<int64_t>(co + 8, s.c_out));
      cuda::ycol_to_y_thread<I>(ycol.data(), bias.data(), y.data(), d, static_cast<I>(c), static_cast<I>(co), end);
      cuda::dy_to_dycol_thread<I>(ycol.data(), dycol.data(), d, static_cast<I>(c), static_cast<I>(co), end);
    }
  for (int64_t ni = 0; ni < s.n; ++ni)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t q = 0; q < p; ++q) {
        const size_t nchw = static_cast<size_t>((ni * s.c_out + co) * p + q), cm = static_cast<size_t>(co * m + ni * p + q);
        y_plain[nchw] = ycol[cm] + bias[static_cast<size_t>(co)];
        dycol_plain[cm] = ycol[nchw];  // here ycol stands in for dy (n, c_out, ho, wo)
      }
  CHECK(y == y_plain);
  CHECK(dycol == dycol_plain);

  // col2im: the adjoint of im2col, dx[e] = sum of the column entries that read input element e.
  const std::vector<float> dcol = random_values(k * m, rng);
  std::vector<double> dx_plain(x.size(), 0.0), dx_abs(x.size(), 0.0);
  for (int64_t ci = 0; ci < s.c_in; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx)
        for (int64_t ni = 0; ni < s.n; ++ni)
          for (int64_t oy = 0; oy < ho; ++oy)
            for (int64_t ox = 0; ox < wo; ++ox) {
              const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const double v = dcol[static_cast<size_t>(((ci * s.kh + ky) * s.kw + kx) * m + (ni * ho + oy) * wo + ox)];
              const size_t e = static_cast<size_t>(((ni * s.c_in + ci) * s.h + iy) * s.w + ix);
              dx_plain[e] += v;
              dx_abs[e] += std::abs(v);
            }
  std::vector<float> dx(x.size(), -7.0f);
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) cuda::col2im_thread<I>(dcol.data(), dx.data(), d, static_cast<I>(i));
  // A float sum of t terms is within t * 2^-24 of the exact sum, relative to the sum of |terms|
  // (t <= kh*kw = 25 here); 1e-6 of that sum covers it.
  for (size_t e = 0; e < dx.size(); ++e) {
    INFO("dx element " << e << ": got " << dx[e] << " want " << dx_plain[e]);
    REQUIRE(std::abs(dx[e] - dx_plain[e]) <= 1e-6 * dx_abs[e] + 1e-30);
  }

  // Direct convolution: each tile of kCoTile channels staged as the kernel stages it.
  const std::vector<float> w = random_values(s.c_out * k, rng);
  std::vector<float> yd(static_cast<size_t>(s.c_out * m), -7.0f), tile(static_cast<size_t>(kCoTile * k));
  for (int64_t co0 = 0; co0 < s.c_out; co0 += kCoTile) {
    std::fill(tile.begin(), tile.end(), -7.0f);
    for (int64_t i = 0; i < kCoTile * k; ++i) cuda::load_filter_tile<I>(w.data(), tile.data(), d, static_cast<I>(co0), static_cast<I>(i));
    for (int64_t c = 0; c < m; ++c)
      cuda::direct_conv_thread<I>(x.data(), tile.data(), bias.data(), yd.data(), d, static_cast<I>(c), static_cast<I>(co0));
    // The compile-time 3x3 and 5x5 variants the kernel launches for those sizes: the same bits.
    std::vector<float> fixed(yd.size(), -7.0f);
    for (int64_t c = 0; c < m; ++c) {
      const I ci = static_cast<I>(c), c0 = static_cast<I>(co0);
      if (s.kh == 3 && s.kw == 3) cuda::direct_conv_thread<I, 3, 3>(x.data(), tile.data(), bias.data(), fixed.data(), d, ci, c0);
      if (s.kh == 5 && s.kw == 5) cuda::direct_conv_thread<I, 5, 5>(x.data(), tile.data(), bias.data(), fixed.data(), d, ci, c0);
    }
    if ((s.kh == 3 && s.kw == 3) || (s.kh == 5 && s.kw == 5))
      for (int64_t c = 0; c < m; ++c)
        for (int64_t t = co0; t < std::min<int64_t>(co0 + kCoTile, s.c_out); ++t) {
          const size_t at = static_cast<size_t>(((c / p) * s.c_out + t) * p + c % p);
          REQUIRE(std::memcmp(&fixed[at], &yd[at], sizeof(float)) == 0);
        }
    // The stride-1 row variant (cuda::kPos outputs per thread), for every thread of its grid.
    if (s.stride == 1 && ((s.kh == 3 && s.kw == 3) || (s.kh == 5 && s.kw == 5))) {
      std::vector<float> rows(yd.size(), -7.0f);
      const int64_t threads = s.n * ho * ((wo + cuda::kPos - 1) / cuda::kPos);
      for (int64_t c4 = 0; c4 < threads; ++c4) {
        const I ci = static_cast<I>(c4), c0 = static_cast<I>(co0);
        if (s.kh == 3) cuda::direct_conv_row_thread<I, 3, 3>(x.data(), tile.data(), bias.data(), rows.data(), d, ci, c0);
        if (s.kh == 5) cuda::direct_conv_row_thread<I, 5, 5>(x.data(), tile.data(), bias.data(), rows.data(), d, ci, c0);
      }
      for (int64_t c = 0; c < m; ++c)
        for (int64_t t = co0; t < std::min<int64_t>(co0 + kCoTile, s.c_out); ++t) {
          const size_t at = static_cast<size_t>(((c / p) * s.c_out + t) * p + c % p);
          INFO("row variant at position " << c << " channel " << t);
          REQUIRE(std::memcmp(&rows[at], &yd[at], sizeof(float)) == 0);
        }
    }
  }
  for (int64_t ni = 0; ni < s.n; ++ni)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double sum = 0, abs_sum = 0;
          for (int64_t ci = 0; ci < s.c_in; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const double t = static_cast<double>(w[static_cast<size_t>(((co * s.c_in + ci) * s.kh + ky) * s.kw + kx)]) *
                                 x_at(x, s, ni, ci, oy * s.stride - s.pad + ky, ox * s.stride - s.pad + kx);
                sum += t;
                abs_sum += std::abs(t);
              }
          sum += bias[static_cast<size_t>(co)];
          abs_sum += std::abs(bias[static_cast<size_t>(co)]);
          const float got = yd[static_cast<size_t>(((ni * s.c_out + co) * ho + oy) * wo + ox)];
          INFO("y at image " << ni << " channel " << co << " (" << oy << ", " << ox << "): got " << got << " want " << sum);
          // K + 1 <= 101 rounded additions: within 101 * 2^-24 < 1e-5 of the sum of |terms|.
          REQUIRE(std::abs(got - sum) <= 1e-5 * abs_sum + 1e-30);
        }

  // With an addend (ConvDims::addend) every write site stores addend + the value it stored
  // without one, bit for bit (one float addition).
  const std::vector<float> addend = random_values(s.c_out * m, rng);
  ConvDims<I> da = d;
  da.addend = addend.data();
  std::vector<float> ya(y.size(), -7.0f), yda(yd.size(), -7.0f), rowsa(yd.size(), -7.0f);
  for (int64_t c = 0; c < m; ++c)
    for (int64_t co = 0; co < s.c_out; co += 8)
      cuda::ycol_to_y_thread<I>(ycol.data(), bias.data(), ya.data(), da, static_cast<I>(c), static_cast<I>(co),
                                static_cast<I>(std::min<int64_t>(co + 8, s.c_out)));
  const bool rows_variant = s.stride == 1 && ((s.kh == 3 && s.kw == 3) || (s.kh == 5 && s.kw == 5));
  for (int64_t co0 = 0; co0 < s.c_out; co0 += kCoTile) {
    for (int64_t i = 0; i < kCoTile * k; ++i) cuda::load_filter_tile<I>(w.data(), tile.data(), d, static_cast<I>(co0), static_cast<I>(i));
    for (int64_t c = 0; c < m; ++c)
      cuda::direct_conv_thread<I>(x.data(), tile.data(), bias.data(), yda.data(), da, static_cast<I>(c), static_cast<I>(co0));
    for (int64_t c4 = 0; rows_variant && c4 < s.n * ho * ((wo + cuda::kPos - 1) / cuda::kPos); ++c4) {
      const I ci = static_cast<I>(c4), c0 = static_cast<I>(co0);
      if (s.kh == 3) cuda::direct_conv_row_thread<I, 3, 3>(x.data(), tile.data(), bias.data(), rowsa.data(), da, ci, c0);
      if (s.kh == 5) cuda::direct_conv_row_thread<I, 5, 5>(x.data(), tile.data(), bias.data(), rowsa.data(), da, ci, c0);
    }
  }
  for (size_t i = 0; i < addend.size(); ++i) {
    INFO("output " << i);
    const float want_permute = addend[i] + y[i], want_direct = addend[i] + yd[i];
    REQUIRE(std::memcmp(&ya[i], &want_permute, sizeof(float)) == 0);
    REQUIRE(std::memcmp(&yda[i], &want_direct, sizeof(float)) == 0);
    if (rows_variant) REQUIRE(std::memcmp(&rowsa[i], &want_direct, sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("CUDA conv2d thread bodies equal plain loops (run on the CPU)", "[kernels][conv]") {
  for (const cpu::Conv2dShape& s : shapes()) {
    check_shape<int32_t>(s);
    check_shape<int64_t>(s);
  }
}
