// Fault masks as files: written and read back bit-exactly, checkpoint-borne masks reproduce the
// spec-generated maps, masks from a file inject exactly what the same specs inject, stacking
// obeys the later-wins rule on every 16-bit word, and bad mask files give one InputError.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "faults/fault_aware_sgd.h"
#include "faults/fault_map.h"
#include "faults/fault_mask_io.h"
#include "faults/fault_spec.h"
#include "faults/faulty_model.h"
#include "base/weight_format.h"
#include "base/error.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/random.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

std::string temp_path(const std::string& name) {
  return std::string(P_tmpdir) + "/stuckat_test_fault_masks_" + name;
}

// The reference map of `specs` for one layer: add_faults_ref applied in order.
FaultMap reference_map(const std::vector<FaultSpec>& specs, const std::string& layer, const Tensor& w) {
  FaultMap m(w.numel());
  for (const FaultSpec& s : specs)
    if (s.layer == layer || s.layer == "all")
      add_faults_ref(make_fault_draw(s, layer), 0, w.numel(), w.data<float>(), m.and_mask.data(), m.or_mask.data());
  return m;
}

Tensor layer_weight(const Module& model, const std::string& layer) {
  for (const auto& [name, t] : model.named_parameters())
    if (name == layer + ".weight") return t;
  FAIL("no layer " << layer);
  return {};
}

// A safetensors file holding the given tensors.
std::string write_file(const std::string& name, const NamedTensorList& tensors) {
  const std::string path = temp_path(name);
  write_safetensors(path, tensors, {});
  return path;
}

}  // namespace

TEST_CASE("fault masks written to a file read back bit-exactly", "[faults]") {
  auto model = make_model(parse_model_name("lenet5"), 1);
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=conv2,bit=15,stuck=1,rate=0.05,seed=3"),
                                        parse_fault_spec("layer=fc1,bit=random,stuck=mix:1:1,rate=0.1,seed=4")};
  NamedTensorList tensors;
  for (const char* layer : {"conv2", "fc1"})
    for (auto& kv : fault_mask_tensors(layer, reference_map(specs, layer, layer_weight(*model, layer))))
      tensors.push_back(kv);
  const std::string path = write_file("roundtrip.safetensors", tensors);
  const LayerFaultMaps maps = read_fault_masks(path, *model, "--fault-masks");
  REQUIRE(maps.size() == 2);
  for (const char* layer : {"conv2", "fc1"}) {
    const FaultMap ref = reference_map(specs, layer, layer_weight(*model, layer));
    CHECK(maps.at(layer).and_mask == ref.and_mask);
    CHECK(maps.at(layer).or_mask == ref.or_mask);
    CHECK(ref.count_faulty() > 0);
  }
  std::remove(path.c_str());
}

TEST_CASE("masks from a file inject exactly what their specs inject", "[faults]") {
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=conv1,bit=14,stuck=1,rate=0.2,seed=1"),
                                        parse_fault_spec("layer=fc2,bit=3,stuck=0,rate=0.3,seed=2")};
  const WeightFormat q = parse_weight_format("q4.11");
  auto by_spec = make_model(parse_model_name("lenet5"), 7);
  auto by_file = make_model(parse_model_name("lenet5"), 7);
  NamedTensorList tensors;
  for (const char* layer : {"conv1", "fc2"})
    for (auto& kv : fault_mask_tensors(layer, reference_map(specs, layer, layer_weight(*by_spec, layer))))
      tensors.push_back(kv);
  const std::string path = write_file("inject.safetensors", tensors);

  FaultInjection a(*by_spec, q, specs, /*quantize_all_layers=*/true);
  FaultInjection b(*by_file, q, {}, /*quantize_all_layers=*/true, read_fault_masks(path, *by_file, "--fault-masks"));
  const auto sa = a.apply(), sb = b.apply();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    CHECK(sa[i].faulty == sb[i].faulty);
    CHECK(sa[i].changed == sb[i].changed);
  }
  const auto pa = by_spec->named_parameters(), pb = by_file->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    CHECK(std::memcmp(pa[i].second.raw_data(), pb[i].second.raw_data(), pa[i].second.numel() * 4) == 0);
  }

  // Fault-aware training starts from the same maps whichever way they came.
  auto m1 = make_model(parse_model_name("lenet5"), 7), m2 = make_model(parse_model_name("lenet5"), 7);
  SgdOptions sgd;
  sgd.lr = 0.01f;
  FaultAwareSgd o1(*m1, sgd, q, specs, FaultMode::KeepBit);
  FaultAwareSgd o2(*m2, sgd, q, {}, FaultMode::KeepBit, 0.0f, read_fault_masks(path, *m2, "--fault-masks"));
  REQUIRE(o1.layers().size() == o2.layers().size());
  for (size_t i = 0; i < o1.layers().size(); ++i) {
    CHECK(o1.layers()[i].map.and_mask == o2.layers()[i].map.and_mask);
    CHECK(o1.layers()[i].map.or_mask == o2.layers()[i].map.or_mask);
  }
  // Its state carries the masks under the checkpoint's names.
  int found = 0;
  for (const auto& [name, t] : o1.state()) found += is_fault_mask_name(name) && is_checkpoint_extra(name);
  CHECK(found == 4);  // conv1 and fc2 have stuck bits; the other layers are only quantized
  std::remove(path.c_str());
}

TEST_CASE("stacking fault maps: the later stuck bit wins on every word", "[faults]") {
  // Hand-computed: bit 3 stuck at 0, then stuck at 1 -> stuck at 1 (and keeps it, or sets it).
  FaultMap base(1), later(1);
  base.and_mask[0] = static_cast<uint16_t>(~0x0008);
  later.and_mask[0] = 0xFFFF;
  later.or_mask[0] = 0x0008;
  stack_fault_map(base, later);
  CHECK(base.and_mask[0] == 0xFFFF);
  CHECK(base.or_mask[0] == 0x0008);
  // Random valid mask pairs (or & ~and == 0): ((w & a1) | o1) & a2 | o2 == (w & a) | o for all w.
  const int pairs = 64;
  FaultMap b(pairs), l(pairs);
  for (int i = 0; i < pairs; ++i) {
    uint32_t r[4];
    philox_words(11, 0, static_cast<uint64_t>(i), r);
    const uint16_t stuck1 = static_cast<uint16_t>(r[0] & r[1]), stuck0 = static_cast<uint16_t>(r[1] & ~r[0]);
    const uint16_t later1 = static_cast<uint16_t>(r[2] & r[3]), later0 = static_cast<uint16_t>(r[3] & ~r[2]);
    b.and_mask[i] = static_cast<uint16_t>(~stuck0);
    b.or_mask[i] = stuck1;
    l.and_mask[i] = static_cast<uint16_t>(~later0);
    l.or_mask[i] = later1;
  }
  FaultMap s = b;
  stack_fault_map(s, l);
  for (int i = 0; i < pairs; ++i) {
    CHECK((s.or_mask[i] & static_cast<uint16_t>(~s.and_mask[i])) == 0);
    for (uint32_t w = 0; w < 65536; w += 1) {
      const uint16_t seq = static_cast<uint16_t>((((w & b.and_mask[i]) | b.or_mask[i]) & l.and_mask[i]) | l.or_mask[i]);
      const uint16_t one = static_cast<uint16_t>((w & s.and_mask[i]) | s.or_mask[i]);
      if (seq != one) FAIL("pair " << i << " word " << w);
    }
  }
}

TEST_CASE("bad fault mask files give one InputError", "[faults]") {
  auto model = make_model(parse_model_name("lenet5"), 1);
  const int64_t n = layer_weight(*model, "conv2").numel();
  const FaultMap clean(n);
  const NamedTensorList good = fault_mask_tensors("conv2", clean);
  auto message_of = [&](const NamedTensorList& tensors) {
    const std::string path = write_file("bad.safetensors", tensors);
    std::string msg;
    try {
      read_fault_masks(path, *model, "--fault-masks");
    } catch (const InputError& e) {
      msg = e.what();
    }
    std::remove(path.c_str());
    return msg;
  };
  CHECK_THAT(message_of({{"conv2.weight", layer_weight(*model, "conv2")}}), Catch::Contains("holds no fault masks"));
  CHECK_THAT(message_of({{"fault_and.conv9", good[0].second}, {"fault_or.conv9", good[1].second}}),
             Catch::Contains("not a conv or linear layer"));
  CHECK_THAT(message_of({good[0]}), Catch::Contains("has fault_and.conv2 but not fault_or.conv2"));
  CHECK_THAT(message_of({{"fault_and.conv2", Tensor::zeros({n - 1}, DType::I16)}, good[1]}),
             Catch::Contains("entries, but layer conv2 has"));
  CHECK_THAT(message_of({{"fault_and.conv2", Tensor::zeros({n}, DType::F32)}, good[1]}), Catch::Contains("expected I16"));
  CHECK_THROWS_AS(read_fault_masks(temp_path("missing.safetensors"), *model, "--fault-masks"), InputError);

  // A bit set in `or` but cleared in `and` reads as stuck at 1.
  FaultMap odd(n);
  odd.and_mask[5] = 0x0000;
  odd.or_mask[5] = 0x8000;
  const std::string path = write_file("odd.safetensors", fault_mask_tensors("conv2", odd));
  const LayerFaultMaps maps = read_fault_masks(path, *model, "--fault-masks");
  CHECK(maps.at("conv2").and_mask[5] == 0x8000);
  CHECK(maps.at("conv2").or_mask[5] == 0x8000);
  std::remove(path.c_str());
}
