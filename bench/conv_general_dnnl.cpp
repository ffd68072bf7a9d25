// CPU grouped / depthwise / dilated conv2d against oneDNN (Debian's libdnnl-dev, the library
// PyTorch calls on the CPU): stuckat::cpu::conv2d_general_forward / _backward (the fast float path)
// beside oneDNN's convolution primitives on the same OpenMP thread count, on the depthwise shapes of
// torchvision's MobileNetV2 at 32x32 inputs plus grouped and dilated shapes.
// oneDNN runs three ways: NCHW memory throughout (as our tensors are laid out); its own blocked
// formats (format_tag::any) with the reorders from and to NCHW counted in its time; and the
// blocked primitive alone, without the reorders. Before any timing, each shape's outputs (forward:
// y; backward: dx, dw, db) are compared across all of them; a max abs difference above 1e-4 of the
// output's largest magnitude stops the program. Times are the best of --runs after --warmups.
// Built only when oneDNN is found (bench/CMakeLists.txt); nothing else depends on it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#if __has_include(<oneapi/dnnl/dnnl.hpp>)
#include <oneapi/dnnl/dnnl.hpp>
#else
#include <dnnl.hpp>
#endif

#include "framework/parallel.h"
#include "framework/random.h"
#include "kernels/cpu/conv2d_general.h"

using namespace stuckat;
using dnnl::memory;
using Args = std::unordered_map<int, memory>;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::vector<float> uniform(int64_t n, uint64_t seed) {
  RandomStream rng(seed, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.next_uniform(-1.0f, 1.0f);
  return v;
}

struct Case {
  std::string name;
  int64_t c_in, c_out, h, w, k, stride, pad, dilation, groups;
};

// Best of `runs` calls of f after `warmups` calls, in milliseconds.
double best_ms(const std::function<void()>& f, int warmups, int runs) {
  for (int i = 0; i < warmups; ++i) f();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < runs; ++i) {
    const double t0 = now();
    f();
    best = std::min(best, now() - t0);
  }
  return 1e3 * best;
}

// max |a - b| / max |b| (b the oneDNN result).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

struct Step {
  dnnl::primitive p;
  Args args;
};

void run(std::vector<Step>& steps, dnnl::stream& s) {
  for (Step& st : steps) st.p.execute(s, st.args);
  s.wait();
}

// Reorders `from` into a new memory of descriptor `to` (appending the step) unless the layouts
// already agree; returns the memory the primitive should use.
memory convert(const memory& from, const memory::desc& to, const dnnl::engine& eng, std::vector<Step>& steps) {
  if (from.get_desc() == to) return from;
  memory m(to, eng);
  steps.push_back({dnnl::reorder(from, m), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, m}}});
  return m;
}
// The reverse: `computed` (in the primitive's layout) back to the user's `to`.
void convert_back(const memory& computed, const memory& to, std::vector<Step>& steps) {
  if (computed.get_desc() == to.get_desc()) return;
  steps.push_back({dnnl::reorder(computed, to), {{DNNL_ARG_FROM, computed}, {DNNL_ARG_TO, to}}});
}
memory result_memory(const memory& user, const memory::desc& md, const dnnl::engine& eng) {
  return md == user.get_desc() ? user : memory(md, eng);
}

std::string impl_name(const dnnl::primitive_desc_base& pd) { return pd.impl_info_str(); }

struct Row {
  std::string name;
  double ours, nchw, blocked_with, blocked_alone, diff;
  std::string impl_nchw, impl_blocked;
};

void print_rows(const char* title, const std::vector<Row>& rows) {
  std::printf("\n%s\n", title);
  std::printf("%-28s %9s %11s %13s %12s %8s %9s  %s | %s\n", "shape", "ours ms", "dnnl nchw", "dnnl blk+reo",
              "dnnl blk", "ours/nchw", "max rdiff", "oneDNN impl nchw", "blocked");
  for (const Row& r : rows)
    std::printf("%-28s %9.3f %11.3f %13.3f %12.3f %8.2fx %9.1e  %s | %s\n", r.name.c_str(), r.ours, r.nchw,
                r.blocked_with, r.blocked_alone, r.ours / r.nchw, r.diff, r.impl_nchw.c_str(),
                r.impl_blocked.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU grouped/depthwise conv2d: stuckat's fast path against oneDNN"};
  int threads = 2, warmups = 2, runs = 5;
  int64_t batch = 256;
  bool backward = true;
  std::string only;
  app.add_option("--threads", threads, "OpenMP threads for both");
  app.add_option("--batch", batch);
  app.add_option("--warmups", warmups);
  app.add_option("--runs", runs, "timed runs per measurement (the best is printed)");
  app.add_option("--backward", backward, "also time the backward (dx, dw, db)");
  app.add_option("--only", only, "run only shapes whose name contains this");
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);  // one OpenMP runtime (libgomp) serves both libraries

  // MobileNetV2 (torchvision) at 32x32 inputs: its depthwise 3x3 convs; then grouped and dilated.
  // name: c_in, c_out, h, w, k, stride, pad, dilation, groups
  const std::vector<Case> cases = {
      {"dw 32x32 c32 s1", 32, 32, 32, 32, 3, 1, 1, 1, 32},
      {"dw 16x16 c96 s2", 96, 96, 16, 16, 3, 2, 1, 1, 96},
      {"dw 8x8 c144 s1", 144, 144, 8, 8, 3, 1, 1, 1, 144},
      {"dw 8x8 c144 s2", 144, 144, 8, 8, 3, 2, 1, 1, 144},
      {"dw 4x4 c192 s1", 192, 192, 4, 4, 3, 1, 1, 1, 192},
      {"dw 4x4 c384 s1", 384, 384, 4, 4, 3, 1, 1, 1, 384},
      {"dw 2x2 c576 s2", 576, 576, 2, 2, 3, 2, 1, 1, 576},
      {"dw 1x1 c960 s1", 960, 960, 1, 1, 3, 1, 1, 1, 960},
      {"g4 16x16 64->64", 64, 64, 16, 16, 3, 1, 1, 1, 4},
      {"g32 8x8 128->128", 128, 128, 8, 8, 3, 1, 1, 1, 32},
      {"dw dil2 16x16 c32", 32, 32, 16, 16, 3, 1, 2, 2, 32},
      {"dense dil2 16x16 32->32", 32, 32, 16, 16, 3, 1, 2, 2, 1},
  };

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const auto f32 = memory::data_type::f32;
  const auto any = memory::format_tag::any;
  std::vector<Row> forward_rows, backward_rows;

  for (const Case& c : cases) {
    if (!only.empty() && c.name.find(only) == std::string::npos) continue;
    const cpu::ConvGeneralShape s{batch,    c.c_in,   c.h,   c.w,   c.c_out,    c.k,        c.k,     c.stride,
                                  c.stride, c.pad,    c.pad, c.pad, c.pad,      c.dilation, c.dilation, c.groups};
    const int64_t ho = s.h_out(), wo = s.w_out(), cig = s.c_in_group(), cog = s.c_out_group();
    const int64_t nx = batch * c.c_in * c.h * c.w, ny = batch * c.c_out * ho * wo, nw = c.c_out * cig * c.k * c.k;
    std::vector<float> x = uniform(nx, 1), w = uniform(nw, 2), b = uniform(c.c_out, 3), dy = uniform(ny, 4);

    const memory::dims xd{batch, c.c_in, c.h, c.w}, yd{batch, c.c_out, ho, wo}, bd{c.c_out};
    const memory::dims wd = c.groups > 1 ? memory::dims{c.groups, cog, cig, c.k, c.k} : memory::dims{c.c_out, cig, c.k, c.k};
    const auto wtag = c.groups > 1 ? memory::format_tag::goihw : memory::format_tag::oihw;
    const memory::dims strides{c.stride, c.stride}, dil{c.dilation - 1, c.dilation - 1}, pads{c.pad, c.pad};
    const memory::desc x_md(xd, f32, memory::format_tag::nchw), y_md(yd, f32, memory::format_tag::nchw),
        w_md(wd, f32, wtag), b_md(bd, f32, memory::format_tag::x);
    const memory::desc x_any(xd, f32, any), y_any(yd, f32, any), w_any(wd, f32, any);

    // User memories over our vectors (NCHW), and oneDNN's outputs.
    std::vector<float> y_nchw(ny), y_blk(ny), y_ours(ny);
    memory x_m(x_md, eng, x.data()), w_m(w_md, eng, w.data()), b_m(b_md, eng, b.data()), dy_m(y_md, eng, dy.data());
    memory yn_m(y_md, eng, y_nchw.data()), yb_m(y_md, eng, y_blk.data());

    using fwd = dnnl::convolution_forward;
    const auto alg = dnnl::algorithm::convolution_direct;
    const fwd::primitive_desc fpd_n(
        fwd::desc(dnnl::prop_kind::forward_training, alg, x_md, w_md, b_md, y_md, strides, dil, pads, pads), eng);
    const fwd::primitive_desc fpd_b(
        fwd::desc(dnnl::prop_kind::forward_training, alg, x_any, w_any, b_md, y_any, strides, dil, pads, pads), eng);

    std::vector<Step> fwd_nchw{{fwd(fpd_n), {{DNNL_ARG_SRC, x_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_BIAS, b_m},
                                             {DNNL_ARG_DST, yn_m}}}};
    std::vector<Step> fwd_blk, fwd_blk_alone;
    const memory xb = convert(x_m, fpd_b.src_desc(), eng, fwd_blk);
    const memory wb = convert(w_m, fpd_b.weights_desc(), eng, fwd_blk);
    const memory ybb = result_memory(yb_m, fpd_b.dst_desc(), eng);
    fwd_blk.push_back({fwd(fpd_b), {{DNNL_ARG_SRC, xb}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_BIAS, b_m}, {DNNL_ARG_DST, ybb}}});
    fwd_blk_alone.push_back(fwd_blk.back());
    convert_back(ybb, yb_m, fwd_blk);

    // Same outputs first.
    cpu::conv2d_general_forward(x.data(), w.data(), b.data(), y_ours.data(), s);
    run(fwd_nchw, strm);
    run(fwd_blk, strm);
    const double fdiff = std::max({relative_difference(y_ours, y_nchw), relative_difference(y_ours, y_blk),
                                   relative_difference(y_blk, y_nchw)});
    if (!(fdiff < 1e-4)) {
      std::fprintf(stderr, "%s: forward outputs differ (max relative difference %.3g)\n", c.name.c_str(), fdiff);
      return 1;
    }
    Row fr{c.name, 0, 0, 0, 0, fdiff, impl_name(fpd_n), impl_name(fpd_b)};
    fr.ours = best_ms([&] { cpu::conv2d_general_forward(x.data(), w.data(), b.data(), y_ours.data(), s); }, warmups, runs);
    fr.nchw = best_ms([&] { run(fwd_nchw, strm); }, warmups, runs);
    fr.blocked_with = best_ms([&] { run(fwd_blk, strm); }, warmups, runs);
    fr.blocked_alone = best_ms([&] { run(fwd_blk_alone, strm); }, warmups, runs);
    forward_rows.push_back(fr);
    std::fprintf(stderr, "forward %s done\n", c.name.c_str());

    if (!backward) continue;
    // Backward: dx (backward-data) and dw, db (backward-weights), against our one backward call.
    std::vector<float> dx_ours(nx), dw_ours(nw), db_ours(c.c_out);
    std::vector<float> dx_n(nx), dw_n(nw), db_n(c.c_out), dx_b(nx), dw_b(nw), db_b(c.c_out);
    memory dxn_m(x_md, eng, dx_n.data()), dwn_m(w_md, eng, dw_n.data()), dbn_m(b_md, eng, db_n.data());
    memory dxb_m(x_md, eng, dx_b.data()), dwb_m(w_md, eng, dw_b.data()), dbb_m(b_md, eng, db_b.data());

    using bwd_d = dnnl::convolution_backward_data;
    using bwd_w = dnnl::convolution_backward_weights;
    const bwd_d::primitive_desc dpd_n(bwd_d::desc(alg, x_md, w_md, y_md, strides, dil, pads, pads), eng, fpd_n);
    const bwd_w::primitive_desc wpd_n(bwd_w::desc(alg, x_md, w_md, b_md, y_md, strides, dil, pads, pads), eng, fpd_n);
    const bwd_d::primitive_desc dpd_b(bwd_d::desc(alg, x_any, w_any, y_any, strides, dil, pads, pads), eng, fpd_b);
    const bwd_w::primitive_desc wpd_b(bwd_w::desc(alg, x_any, w_any, b_md, y_any, strides, dil, pads, pads), eng,
                                      fpd_b);

    std::vector<Step> bwd_nchw{
        {bwd_d(dpd_n), {{DNNL_ARG_DIFF_DST, dy_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DIFF_SRC, dxn_m}}},
        {bwd_w(wpd_n),
         {{DNNL_ARG_SRC, x_m}, {DNNL_ARG_DIFF_DST, dy_m}, {DNNL_ARG_DIFF_WEIGHTS, dwn_m}, {DNNL_ARG_DIFF_BIAS, dbn_m}}}};
    std::vector<Step> bwd_blk, bwd_blk_alone;
    {
      const memory dyb = convert(dy_m, dpd_b.diff_dst_desc(), eng, bwd_blk);
      const memory wbd = convert(w_m, dpd_b.weights_desc(), eng, bwd_blk);
      const memory dxbb = result_memory(dxb_m, dpd_b.diff_src_desc(), eng);
      bwd_blk.push_back({bwd_d(dpd_b), {{DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_WEIGHTS, wbd}, {DNNL_ARG_DIFF_SRC, dxbb}}});
      bwd_blk_alone.push_back(bwd_blk.back());
      convert_back(dxbb, dxb_m, bwd_blk);
      const memory xbw = convert(x_m, wpd_b.src_desc(), eng, bwd_blk);
      const memory dybw = wpd_b.diff_dst_desc() == dyb.get_desc() ? dyb : convert(dy_m, wpd_b.diff_dst_desc(), eng, bwd_blk);
      const memory dwbb = result_memory(dwb_m, wpd_b.diff_weights_desc(), eng);
      const memory dbbb = result_memory(dbb_m, wpd_b.diff_bias_desc(), eng);
      bwd_blk.push_back({bwd_w(wpd_b),
                         {{DNNL_ARG_SRC, xbw}, {DNNL_ARG_DIFF_DST, dybw}, {DNNL_ARG_DIFF_WEIGHTS, dwbb},
                          {DNNL_ARG_DIFF_BIAS, dbbb}}});
      bwd_blk_alone.push_back(bwd_blk.back());
      convert_back(dwbb, dwb_m, bwd_blk);
      convert_back(dbbb, dbb_m, bwd_blk);
    }
    auto ours_backward = [&] {
      cpu::conv2d_general_backward(x.data(), w.data(), dy.data(), dx_ours.data(), dw_ours.data(), db_ours.data(), s);
    };
    ours_backward();
    run(bwd_nchw, strm);
    run(bwd_blk, strm);
    const double bdiff = std::max({relative_difference(dx_ours, dx_n), relative_difference(dx_ours, dx_b),
                      relative_difference(dw_ours, dw_n), relative_difference(dw_ours, dw_b),
                      relative_difference(db_ours, db_n), relative_difference(db_ours, db_b)});
    if (!(bdiff < 1e-4)) {
      std::fprintf(stderr, "%s: backward outputs differ (max relative difference %.3g)\n", c.name.c_str(), bdiff);
      return 1;
    }
    Row br{c.name, 0, 0, 0, 0, bdiff, impl_name(dpd_n) + "+" + impl_name(wpd_n),
           impl_name(dpd_b) + "+" + impl_name(wpd_b)};
    br.ours = best_ms(ours_backward, warmups, runs);
    br.nchw = best_ms([&] { run(bwd_nchw, strm); }, warmups, runs);
    br.blocked_with = best_ms([&] { run(bwd_blk, strm); }, warmups, runs);
    br.blocked_alone = best_ms([&] { run(bwd_blk_alone, strm); }, warmups, runs);
    backward_rows.push_back(br);
    std::fprintf(stderr, "backward %s done\n", c.name.c_str());
  }

  std::printf("batch %lld, %d threads, best of %d after %d warm-ups; oneDNN %d.%d.%d\n",
              static_cast<long long>(batch), threads, runs, warmups, dnnl::version()->major, dnnl::version()->minor,
              dnnl::version()->patch);
  print_rows("forward (y = conv(x, w) + b)", forward_rows);
  if (backward) print_rows("backward (dx, dw, db; oneDNN: backward-data + backward-weights)", backward_rows);
  return 0;
}
