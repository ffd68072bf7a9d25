// relu_pool_channel_delta (channel_delta.h): checks, then the CPU loop or the CUDA kernel.
#include "sweep/channel_delta.h"

#include "base/error.h"
#include "sweep/cuda/channel_delta_cuda.h"

namespace stuckat::sweep {

namespace {

// The dims of relu_pool_channel_delta for k selected channels, with its input checks.
ChannelDeltaDims channel_delta_dims(const Tensor& x, const Tensor& clean_out, const LayerGeometry& g, int64_t k,
                                    int64_t pool_k, int64_t pool_stride, bool pool_first, const Tensor& ref) {
  const int rank = g.conv ? 4 : 2;
  STUCKAT_CHECK(x.dim() == rank && clean_out.dim() == rank && x.size(0) == clean_out.size(0) && x.is_contiguous() &&
                    clean_out.is_contiguous() && ref.is_contiguous() && x.dtype() == DType::F32 &&
                    clean_out.dtype() == DType::F32 && ref.dtype() == DType::F32 && x.device() == clean_out.device() &&
                    x.device() == ref.device(),
                "relu_pool_channel_delta: x {} and clean output {} must be contiguous f32 {} tensors on one device",
                shape_str(x.shape()), shape_str(clean_out.shape()), g.conv ? "(n, c, h, w)" : "(n, features)");
  ChannelDeltaDims d;
  d.n = x.size(0);
  d.k = k;
  d.c = clean_out.size(1);
  d.in = x.size(1);
  d.conv = g.conv;
  if (g.conv) {
    d.h = x.size(2), d.w = x.size(3), d.kh = g.kh, d.kw = g.kw, d.stride = g.stride, d.pad = g.pad;
    d.ho = clean_out.size(2), d.wo = clean_out.size(3);
  }
  STUCKAT_CHECK(pool_k >= 0 && (pool_k == 0 || g.conv) && (pool_k == 0 || (pool_stride >= 1 && pool_k <= d.ho && pool_k <= d.wo)),
                "relu_pool_channel_delta: pool {} stride {} on a {}x{} plane", pool_k, pool_stride, d.ho, d.wo);
  d.pool_k = pool_k;
  d.pool_stride = pool_k > 0 ? pool_stride : 1;
  d.pool_first = pool_k > 0 && pool_first;
  d.ph = pool_k > 0 ? (d.ho - pool_k) / pool_stride + 1 : d.ho;
  d.pw = pool_k > 0 ? (d.wo - pool_k) / pool_stride + 1 : d.wo;
  STUCKAT_CHECK(ref.numel() == d.n * d.c * d.ph * d.pw, "relu_pool_channel_delta: {} reference values for {} x {} x {}x{}",
                ref.numel(), d.n, d.c, d.ph, d.pw);
  return d;
}

// A list's shape against the dims (k channels), and its packing for `device` when it has changes.
void check_list(const PackedChanges& changes, const ChannelDeltaDims& d, bool conv, Device device) {
  STUCKAT_CHECK(changes.out == d.k && changes.per_out == d.in * d.kh * d.kw && changes.geometry.conv == conv &&
                    changes.geometry.kh == d.kh && changes.geometry.kw == d.kw,
                "relu_pool_channel_delta: changes packed for {} x {} weights, the layer's {} selected channels have {}",
                changes.out, changes.per_out, d.k, d.in * d.kh * d.kw);
  STUCKAT_CHECK(changes.list.empty() || (changes.starts.defined() && changes.starts.device() == device),
                "relu_pool_channel_delta: the changes are not packed for {}", device_name(device));
}

}  // namespace

Tensor relu_pool_channel_delta(const Tensor& x, const Tensor& clean_out, const LayerGeometry& g,
                               const PackedChanges& changes, const std::vector<int64_t>& channels, int64_t pool_k,
                               int64_t pool_stride, bool pool_first, const Tensor& ref) {
  const ChannelDeltaDims d = channel_delta_dims(x, clean_out, g, static_cast<int64_t>(channels.size()), pool_k,
                                                pool_stride, pool_first, ref);
  check_list(changes, d, g.conv, x.device());
  for (int64_t c : channels) STUCKAT_CHECK(c >= 0 && c < d.c, "relu_pool_channel_delta: channel {} of {}", c, d.c);
  const bool any = !changes.list.empty();
  const int32_t* starts = any ? changes.starts.data<int32_t>() : nullptr;
  const int32_t* tap = any ? changes.tap.data<int32_t>() : nullptr;
  const float* delta = any ? changes.delta.data<float>() : nullptr;

  Tensor out = g.conv || pool_k > 0 ? Tensor::empty({d.n, d.k, d.ph, d.pw}, DType::F32, x.device())
                                    : Tensor::empty({d.n, d.k}, DType::F32, x.device());
  float* o = out.data<float>();
  const int64_t total = out.numel();
  if (x.device() == Device::CUDA) {
    channel_delta_cuda(x.data<float>(), clean_out.data<float>(), ref.data<float>(), channels.data(), starts, tap, delta,
                       d, o);
    return out;
  }
  const float* xp = x.data<float>();
  const float* cp = clean_out.data<float>();
  const float* rp = ref.data<float>();
  const int64_t* ch = channels.data();
  // The index type the GPU takes for these sizes, so the tests check the variant it runs.
  auto run = [&](auto index) {
    using I = decltype(index);
#pragma omp parallel for schedule(static) if (total >= (1 << 16))
    for (int64_t e = 0; e < total; ++e) {
      const I at = static_cast<I>(e);
      o[e] = channel_delta_at<I>(xp, cp, rp, starts, tap, delta, d, at, static_cast<I>(ch[channel_delta_slot<I>(d, at)]));
    }
  };
  if (channel_delta_fits_int32(d))
    run(int32_t{});
  else
    run(int64_t{});
  return out;
}

Tensor relu_pool_channel_delta_stacked(const Tensor& x, const Tensor& clean_out, const LayerGeometry& g,
                                       const std::vector<const PackedChanges*>& lists, int64_t pool_k,
                                       int64_t pool_stride, bool pool_first, const Tensor& ref) {
  const ChannelDeltaDims d =
      channel_delta_dims(x, clean_out, g, clean_out.size(1), pool_k, pool_stride, pool_first, ref);
  const int64_t blocks = static_cast<int64_t>(lists.size()), per = d.n * d.c * d.ph * d.pw;
  for (const PackedChanges* l : lists)
    if (l) check_list(*l, d, g.conv, x.device());
  Tensor out = g.conv || pool_k > 0 ? Tensor::empty({blocks * d.n, d.c, d.ph, d.pw}, DType::F32, x.device())
                                    : Tensor::empty({blocks * d.n, d.c}, DType::F32, x.device());
  // A list's grouped arrays, or nulls (no list, or no changes: its block or channels are 0).
  auto arrays = [](const PackedChanges* l) {
    const bool any = l && !l->list.empty();
    return std::make_tuple(any ? l->starts.data<int32_t>() : nullptr, any ? l->tap.data<int32_t>() : nullptr,
                           any ? l->delta.data<float>() : nullptr);
  };
  if (x.device() == Device::CUDA) {
    for (int64_t p0 = 0; p0 < blocks; p0 += kStackedBlocks) {
      const int64_t p1 = std::min<int64_t>(blocks, p0 + kStackedBlocks);
      StackedChangeLists l{};
      for (int64_t p = p0; p < p1; ++p)
        std::tie(l.starts[p - p0], l.tap[p - p0], l.delta[p - p0]) = arrays(lists[static_cast<size_t>(p)]);
      channel_delta_stacked_cuda(x.data<float>(), clean_out.data<float>(), ref.data<float>(), l, p1 - p0, d,
                                 out.data<float>() + p0 * per);
    }
    return out;
  }
  const float* xp = x.data<float>();
  const float* cp = clean_out.data<float>();
  const float* rp = ref.data<float>();
  float* o = out.data<float>();
  for (int64_t p = 0; p < blocks; ++p) {
    const auto [starts, tap, delta] = arrays(lists[static_cast<size_t>(p)]);
    auto run = [&, starts = starts, tap = tap, delta = delta](auto index) {  // the index type the GPU takes
      using I = decltype(index);
#pragma omp parallel for schedule(static) if (per >= (1 << 16))
      for (int64_t e = 0; e < per; ++e)
        o[p * per + e] = channel_delta_all_at<I>(xp, cp, rp, starts, tap, delta, d, static_cast<I>(e));
    };
    if (channel_delta_fits_int32(d))
      run(int32_t{});
    else
      run(int64_t{});
  }
  return out;
}

}  // namespace stuckat::sweep
