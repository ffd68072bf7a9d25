// Fault masks generated on the GPU equal the CPU reference bit for bit (same counter-based
// draws), for stacked specs, a random bit, an SA0/SA1 mix, target=nonzero and a shard offset.
// SKIPs (with a warning) when built without CUDA or when no GPU is present.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "faults/fault_map.h"
#include "faults/fault_spec.h"
#include "faults/weight_codec.h"
#include "base/weight_format.h"
#include "base/device.h"
#include "framework/ops.h"
#include "framework/random.h"
#include "framework/tensor.h"
#include "tests/gpu_available.h"
#include "tests/random_tensor.h"
#include "faults/cuda/fault_map_cuda.h"

using namespace stuckat;

TEST_CASE("CUDA fault masks equal the CPU reference bit for bit", "[faults][cuda]") {
  if (!have_gpu("CUDA fault masks")) return;
  const int64_t n = 1000003, split = 400001;  // not a multiple of the block size; two shards
  std::vector<float> w(static_cast<size_t>(n));
  RandomStream rng(5, 5);
  for (auto& x : w) x = rng.next_uniform() < 0.3f ? 0.0f : rng.next_uniform(-1.0f, 1.0f);
  const std::vector<FaultSpec> specs = {parse_fault_spec("bit=random,stuck=mix:1.75:9.04,rate=0.05,seed=3"),
                                        parse_fault_spec("bit=15,stuck=1,rate=0.01,seed=4"),
                                        parse_fault_spec("bit=7,stuck=0,rate=0.2,seed=5,target=nonzero")};
  FaultMap ref(n);
  for (const FaultSpec& s : specs)
    add_faults_ref(make_fault_draw(s, "features.3"), 0, n, w.data(), ref.and_mask.data(), ref.or_mask.data());
  REQUIRE(ref.count_faulty() > 0);

  Tensor wt = Tensor::empty({n});
  std::memcpy(wt.data<float>(), w.data(), w.size() * sizeof(float));
  Tensor gw = wt.to(Device::CUDA);
  Tensor and_host = Tensor::empty({n}, DType::I16), or_host = Tensor::empty({n}, DType::I16);
  for (int64_t i = 0; i < n; ++i) and_host.data<int16_t>()[i] = -1, or_host.data<int16_t>()[i] = 0;  // 0xFFFF, 0
  Tensor ga = and_host.to(Device::CUDA), go = or_host.to(Device::CUDA);
  auto* and_dev = reinterpret_cast<uint16_t*>(ga.raw_data());
  auto* or_dev = reinterpret_cast<uint16_t*>(go.raw_data());
  const float* w_dev = gw.data<float>();
  for (const FaultSpec& s : specs) {
    const FaultDraw d = make_fault_draw(s, "features.3");
    add_faults_cuda(d, 0, split, w_dev, and_dev, or_dev);
    add_faults_cuda(d, split, n - split, w_dev + split, and_dev + split, or_dev + split);
  }
  const Tensor and_back = ga.to(Device::CPU), or_back = go.to(Device::CPU);
  REQUIRE(std::memcmp(and_back.raw_data(), ref.and_mask.data(), static_cast<size_t>(n) * 2) == 0);
  REQUIRE(std::memcmp(or_back.raw_data(), ref.or_mask.data(), static_cast<size_t>(n) * 2) == 0);
}
