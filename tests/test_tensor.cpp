// Tensor storage, views, copies and the counter-based RNG.
#include <catch2/catch.hpp>
#include <cstring>
#include <set>

#include "framework/ops.h"
#include "framework/random.h"
#include "framework/tensor.h"

using namespace stuckat;

TEST_CASE("tensor shape, strides and element access", "[tensor]") {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(t.dim() == 2);
  REQUIRE(t.numel() == 6);
  REQUIRE(t.strides() == Shape{3, 1});
  REQUIRE(t.size(-1) == 3);
  REQUIRE(t.is_contiguous());
  REQUIRE(t.data<float>()[4] == 5.0f);
  REQUIRE_THROWS_AS(t.data<int32_t>(), Error);
  REQUIRE_THROWS_AS(t.size(2), Error);
  REQUIRE(shape_str({2, 3}) == "(2, 3)");
  REQUIRE(shape_str({7}) == "(7,)");
  REQUIRE(Tensor::zeros({0, 4}).numel() == 0);
  REQUIRE_THROWS_AS(Tensor::empty({2, -1}), Error);
}

TEST_CASE("views share storage, clones do not", "[tensor]") {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = t.view({3, -1});
  REQUIRE(v.shape() == Shape{3, 2});
  v.data<float>()[0] = 10;
  REQUIRE(t.data<float>()[0] == 10);
  Tensor c = t.clone();
  c.data<float>()[1] = -1;
  REQUIRE(t.data<float>()[1] == 2);
  REQUIRE_THROWS_AS(t.view({4, 2}), Error);
  REQUIRE_THROWS_AS(t.view({-1, -1}), Error);
}

TEST_CASE("strided tensors are gathered in logical order", "[tensor]") {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  // Hand-made transpose view: shape (3, 2), strides (1, 3).
  Tensor tr = t.detach();
  tr.impl()->shape = {3, 2};
  tr.impl()->strides = {1, 3};
  REQUIRE_FALSE(tr.is_contiguous());
  REQUIRE(tr.contiguous().to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("dtype conversion and fills", "[tensor]") {
  Tensor t = Tensor::from_vector(std::vector<float>{-1.5f, 0.0f, 2.9f}, {3});
  Tensor i = t.to_dtype(DType::I32);
  REQUIRE(i.data<int32_t>()[0] == -1);
  REQUIRE(i.data<int32_t>()[2] == 2);  // truncation toward zero, as static_cast
  REQUIRE(i.to_dtype(DType::F32).to_vector() == std::vector<float>{-1, 0, 2});
  Tensor f = Tensor::full({2, 2}, 3.5f);
  REQUIRE(f.to_vector() == std::vector<float>(4, 3.5f));
  f.zero_();
  REQUIRE(f.to_vector() == std::vector<float>(4, 0.0f));
  REQUIRE(Tensor::full({}, 2.0f).item() == 2.0f);
  REQUIRE(dtype_size(DType::BF16) == 2);
  DType d;
  REQUIRE(dtype_from_name("I16", &d));
  REQUIRE(d == DType::I16);
  REQUIRE_FALSE(dtype_from_name("F64", &d));
}

TEST_CASE("select_index, slice_rows, sub_inplace and add_into on hand-computed values", "[tensor]") {
  // x (2, 3, 2): value 100*n + 10*c + j.
  std::vector<float> v;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int j = 0; j < 2; ++j) v.push_back(static_cast<float>(100 * n + 10 * c + j));
  const Tensor x = Tensor::from_vector(v, {2, 3, 2});
  const Tensor ch = select_index(x, 1, {2, 0});
  CHECK(ch.shape() == Shape{2, 2, 2});
  CHECK(ch.to_vector() == std::vector<float>{20, 21, 0, 1, 120, 121, 100, 101});
  CHECK(select_index(x, 0, {1}).to_vector() == std::vector<float>{100, 101, 110, 111, 120, 121});
  CHECK_THROWS(select_index(x, 1, {3}));
  Tensor d = Tensor::from_vector(std::vector<float>{5.0f, 1.5f, -2.0f}, {3});
  sub_inplace(d, Tensor::from_vector(std::vector<float>{1.0f, 2.0f, -2.0f}, {3}));
  CHECK(d.to_vector() == std::vector<float>{4.0f, -0.5f, 0.0f});
  Tensor big = Tensor::zeros({4, 2});
  Tensor rows = slice_rows(big, 1, 3);  // a view: writing it writes big's rows 1 and 2
  add_into(rows, Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}, {2, 2}),
           Tensor::from_vector(std::vector<float>{10.0f, 20.0f, 30.0f, 40.0f}, {2, 2}));
  CHECK(big.to_vector() == std::vector<float>{0, 0, 11, 22, 33, 44, 0, 0});
  CHECK_THROWS(add_into(rows, Tensor::zeros({2, 2}), Tensor::zeros({2, 3})));
  // add_tiled_into: three blocks of 2 plus the tile (1, 2), in place on b.
  Tensor blocks = Tensor::from_vector(std::vector<float>{10, 20, 30, 40, 50, 60}, {3, 2});
  add_tiled_into(blocks, Tensor::from_vector(std::vector<float>{1, 2}, {1, 2}), blocks);
  CHECK(blocks.to_vector() == std::vector<float>{11, 22, 31, 42, 51, 62});
  CHECK_THROWS(add_tiled_into(blocks, Tensor::zeros({4}), blocks));  // 4 does not divide 6
}

TEST_CASE("conv2d_add_into on the CPU by hand, into a row block and in place on its addend", "[tensor]") {
  // x (2, 1, 2, 2) = 1..8, w (1, 1, 2, 2) = (1, 0, 0, 2): one output per image, x00 + 2 * x11.
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  const Tensor w = Tensor::from_vector(std::vector<float>{1, 0, 0, 2}, {1, 1, 2, 2});
  const Tensor addend = Tensor::from_vector(std::vector<float>{100, 200}, {2, 1, 1, 1});
  Tensor big = Tensor::zeros({4, 1, 1, 1});
  Tensor rows = slice_rows(big, 1, 3);
  conv2d_add_into(rows, x, w, addend, 1, 0);
  CHECK(big.to_vector() == std::vector<float>{0, 109, 221, 0});  // 100 + 1 + 8, 200 + 5 + 16
  Tensor own = addend.clone();
  conv2d_add_into(own, x, w, own, 1, 0);  // out is the addend: read before it is overwritten
  CHECK(own.to_vector() == std::vector<float>{109, 221});
  Tensor wrong = Tensor::zeros({2, 1, 2, 2});
  CHECK_THROWS(conv2d_add_into(wrong, x, w, addend, 1, 0));
}

TEST_CASE("cuda tensors are refused without a GPU", "[tensor][cuda]") {
  if (cuda_available()) {
    Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
    REQUIRE(t.to(Device::CUDA).to(Device::CPU).to_vector() == t.to_vector());
  } else {
    REQUIRE_THROWS_AS(Tensor::empty({3}, DType::F32, Device::CUDA), Error);
  }
}

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  // tests/kat_vectors of the Random123 distribution: counter, key -> output.
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  } kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (auto& k : kats) {
    uint32_t c[4] = {k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]};
    Philox4x32::block(c, k.key);
    for (int i = 0; i < 4; ++i) REQUIRE(c[i] == k.out[i]);
  }
}

TEST_CASE("random streams are pure functions of (seed, stream, position)", "[random]") {
  RandomStream a(7, 3), b(7, 3), c(8, 3), d(7, 4);
  std::vector<uint32_t> va, vb, vc, vd;
  for (int i = 0; i < 10; ++i) {
    va.push_back(a.next_u32());
    vb.push_back(b.next_u32());
    vc.push_back(c.next_u32());
    vd.push_back(d.next_u32());
  }
  REQUIRE(va == vb);
  REQUIRE(va != vc);
  REQUIRE(va != vd);
  // The 6th word is word 1 of block 1 of philox_words(seed, stream, 1).
  uint32_t w[4];
  philox_words(7, 3, 1, w);
  REQUIRE(va[5] == w[1]);

  RandomStream u(1, 1);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    float x = u.next_uniform();
    REQUIRE(x >= 0.0f);
    REQUIRE(x < 1.0f);
    sum += x;
  }
  // Mean of 1e5 U(0,1) draws: standard error 0.29/sqrt(1e5) ~ 0.0009; allow 5 sigma.
  REQUIRE(std::abs(sum / 100000 - 0.5) < 0.0046);
}

TEST_CASE("random_permutation is a seeded permutation", "[random]") {
  auto p = random_permutation(1000, 5, 9);
  std::set<int64_t> s(p.begin(), p.end());
  REQUIRE(s.size() == 1000);
  REQUIRE(*s.begin() == 0);
  REQUIRE(*s.rbegin() == 999);
  REQUIRE(p == random_permutation(1000, 5, 9));
  REQUIRE(p != random_permutation(1000, 6, 9));
  // next_below is unbiased: counts of 0..2 over 30000 draws each near 10000 (sd ~ 82).
  RandomStream r(3, 3);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) ++counts[r.next_below(3)];
  for (int c : counts) REQUIRE(std::abs(c - 10000) < 500);
}
