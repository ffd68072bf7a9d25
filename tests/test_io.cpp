// Checkpoint I/O: safetensors bytes checked against the format written out by hand, hostile files
// refused with a message naming the file, half-precision words widened against hand-computed
// values, and model state saved and loaded by name.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/float16_words.h"
#include "framework/io/safetensors.h"

using namespace stuckat;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  fs::path dir;
  TempDir() {
    static int counter = 0;
    dir = fs::temp_directory_path() / ("stuckat_test_io_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The 8-byte little-endian length, built byte by byte (independent of the host's byte order).
std::string le_u64(uint64_t n) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return s;
}

std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

std::string tensor_bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.nbytes());
}

// A tensor of any dtype whose bytes follow a pattern that differs per tensor (seed).
Tensor patterned(const Shape& shape, DType dtype, int seed) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* p = static_cast<unsigned char*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<unsigned char>(i * 37 + seed * 101 + 11);
  return t;
}

Tensor u16_words(DType dtype, const std::vector<uint16_t>& words, const Shape& shape) {
  Tensor t = Tensor::empty(shape, dtype);
  REQUIRE(t.nbytes() == words.size() * 2);
  std::memcpy(t.raw_data(), words.data(), t.nbytes());
  return t;
}

// Tensor::from_vector with a braced list is ambiguous between its f32 and i32 overloads.
Tensor floats(const std::vector<float>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }

Tensor i64_tensor(const std::vector<int64_t>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::I64);
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::memcpy(t.raw_data(), values.data(), t.nbytes());
  return t;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs `read` and requires an InputError whose message names `path` and mentions `topic`.
template <typename F> void require_input_error(const std::string& path, const std::string& topic, F read) {
  try {
    read();
    FAIL("no InputError for a file that " << topic);
  } catch (const InputError& e) {
    INFO(e.what());
    CHECK(contains(e.what(), path));
    CHECK(contains(e.what(), topic));
  }
}

// Two parameters and a buffer, named like a PyTorch state_dict, standing in for a real model.
class TinyNet : public Module {
 public:
  Tensor weight, bias, count;
  TinyNet() {
    weight = register_parameter("weight", Tensor::zeros({2, 3}));
    bias = register_parameter("bias", Tensor::zeros({2}));
    count = register_buffer("count", Tensor::zeros({}, DType::I64));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace

TEST_CASE("every dtype round-trips byte for byte with metadata", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("all.safetensors");
  NamedTensors tensors = {
      {"f32", patterned({2, 3}, DType::F32, 1)},  {"f16", patterned({5}, DType::F16, 2)},
      {"bf16", patterned({3, 1}, DType::BF16, 3)}, {"i16", patterned({7}, DType::I16, 4)},
      {"i32", patterned({1, 2, 2}, DType::I32, 5)}, {"i64", patterned({3}, DType::I64, 6)},
      {"u8", patterned({9}, DType::U8, 7)},        {"scalar", patterned({}, DType::F32, 8)},
      {"empty", patterned({0, 4}, DType::F32, 9)},
  };
  const std::map<std::string, std::string> metadata = {
      {"model", "tiny"}, {"config", "{\"lr\": 0.1}"}, {"unicode", "gr\xC3\xBC\xC3\x9F"}, {"empty", ""}};
  write_safetensors(path, tensors, metadata);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  SafetensorsContent back = read_safetensors(path);
  CHECK(back.metadata == metadata);
  REQUIRE(back.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    // Written in order without gaps, so file order (by offset) is the order given.
    CHECK(back.tensors[i].first == tensors[i].first);
    CHECK(back.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(back.tensors[i].second.shape() == tensors[i].second.shape());
    CHECK(tensor_bytes(back.tensors[i].second) == tensor_bytes(tensors[i].second));
  }
}

TEST_CASE("a file written byte by byte by hand is read as the format says", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("hand.safetensors");
  // JSON key order differs from data order ("n" sorts before "w" but its bytes come second).
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("n":{"dtype":"I16","shape":[1,1],"data_offsets":[8,10]},)"
      R"("__metadata__":{"model":"tiny"}})";
  // 1.0f = 0x3F800000, -2.0f = 0xC0000000, int16 -2 = 0xFFFE; all little-endian.
  const std::string data("\x00\x00\x80\x3F"
                         "\x00\x00\x00\xC0"
                         "\xFE\xFF",
                         10);
  write_bytes(path, safetensors_bytes(header, data));

  SafetensorsContent c = read_safetensors(path);
  CHECK(c.metadata == std::map<std::string, std::string>{{"model", "tiny"}});
  REQUIRE(c.tensors.size() == 2);
  CHECK(c.tensors[0].first == "w");
  CHECK(c.tensors[0].second.dtype() == DType::F32);
  CHECK(c.tensors[0].second.shape() == Shape{2});
  CHECK(c.tensors[0].second.data<float>()[0] == 1.0f);
  CHECK(c.tensors[0].second.data<float>()[1] == -2.0f);
  CHECK(c.tensors[1].first == "n");
  CHECK(c.tensors[1].second.shape() == Shape{1, 1});
  CHECK(c.tensors[1].second.data<int16_t>()[0] == -2);

  SafetensorsHeader h = read_safetensors_header(path);
  CHECK(h.data_start == 8 + header.size());
  REQUIRE(h.entries.size() == 2);
  CHECK(h.entries[1].name == "n");
  CHECK(h.entries[1].begin == 8);
  CHECK(h.entries[1].end == 10);
}

TEST_CASE("our header length is a multiple of 8 and the header is the JSON the format asks for", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("layout.safetensors");
  write_safetensors(path, {{"a", floats({1.f, 2.f, 3.f}, {3})}, {"b", patterned({5}, DType::U8, 1)}},
                    {{"k", "v"}});
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 3 * 4 + 5);  // 3 f32 + 5 u8, no gaps, nothing after
  const std::string header = bytes.substr(8, n);
  const size_t last = header.find_last_not_of(' ');
  CHECK(header[last] == '}');  // only space padding after the JSON object
  nlohmann::json j = nlohmann::json::parse(header);
  CHECK(j["a"]["dtype"] == "F32");
  CHECK(j["a"]["shape"] == nlohmann::json::array({3}));
  CHECK(j["a"]["data_offsets"] == nlohmann::json::array({0, 12}));
  CHECK(j["b"]["dtype"] == "U8");
  CHECK(j["b"]["data_offsets"] == nlohmann::json::array({12, 17}));
  CHECK(j["__metadata__"] == nlohmann::json{{"k", "v"}});
  // Data section: 1.0f 2.0f 3.0f little-endian, then the u8 bytes.
  CHECK(bytes.substr(8 + n, 12) == std::string("\x00\x00\x80\x3F\x00\x00\x00\x40\x00\x00\x40\x40", 12));
}

TEST_CASE("writing replaces a file atomically and reports unwritable paths", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("replace.safetensors");
  write_safetensors(path, {{"x", floats({1.f}, {1})}}, {});
  write_safetensors(path, {{"y", floats({2.f, 3.f}, {2})}}, {});
  CHECK_FALSE(fs::exists(path + ".tmp"));
  SafetensorsContent c = read_safetensors(path);
  REQUIRE(c.tensors.size() == 1);
  CHECK(c.tensors[0].first == "y");
  CHECK(c.metadata.empty());

  const std::string bad = tmp.file("no/such/dir/x.safetensors");
  try {
    write_safetensors(bad, {{"x", floats({1.f}, {1})}}, {});
    FAIL("writing into a missing directory succeeded");
  } catch (const InputError&) {
    FAIL("a write failure is not bad input");
  } catch (const Error& e) {
    CHECK(contains(e.what(), bad));
  }
  CHECK_THROWS_AS(write_safetensors(tmp.file("dup"), {{"x", Tensor::zeros({1})}, {"x", Tensor::zeros({1})}}, {}),
                  Error);
}

TEST_CASE("hostile or broken safetensors files give an InputError naming the file", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("bad.safetensors");
  auto entry = [](const std::string& name, const std::string& body) { return "\"" + name + "\":{" + body + "}"; };
  const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::string eight(8, '\x01');
  struct Case {
    const char* what;     // the kind of damage
    std::string bytes;    // whole file
    const char* topic;    // a word the message must contain
  };
  const std::vector<Case> cases = {
      {"is empty", "", "too short"},
      {"has 7 bytes", std::string(7, '\0'), "too short"},
      {"declares an absurd header", le_u64(uint64_t(1) << 40) + "{}", "limit"},
      {"declares a header just over 100 MB", le_u64(100'000'001) + "{}", "limit"},
      {"declares a header longer than the file", le_u64(200) + "{}", "header"},
      {"has a header that is not JSON", safetensors_bytes("{not json", ""), "JSON"},
      {"has a header that is a JSON array", safetensors_bytes("[1, 2]", ""), "object"},
      {"has invalid UTF-8 in the header", safetensors_bytes("{\"a\xFF\":1}", ""), "JSON"},
      {"has an entry that is a number", safetensors_bytes(R"({"a":5})", eight), "object"},
      {"lacks dtype", safetensors_bytes("{" + entry("a", R"("shape":[2],"data_offsets":[0,8])") + "}", eight), "dtype"},
      {"has a numeric dtype",
       safetensors_bytes("{" + entry("a", R"("dtype":4,"shape":[2],"data_offsets":[0,8])") + "}", eight), "dtype"},
      {"has an unknown dtype",
       safetensors_bytes("{" + entry("a", R"("dtype":"F64","shape":[1],"data_offsets":[0,8])") + "}", eight), "F64"},
      {"lacks shape", safetensors_bytes("{" + entry("a", R"("dtype":"F32","data_offsets":[0,8])") + "}", eight),
       "shape"},
      {"has a shape that is a string",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":"2","data_offsets":[0,8])") + "}", eight), "shape"},
      {"has a negative dimension",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])") + "}", eight),
       "non-negative"},
      {"has a fractional dimension",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])") + "}", eight),
       "non-negative"},
      {"has a dimension past int64",
       safetensors_bytes("{" + entry("a", R"("dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0])") + "}",
                         ""),
       "non-negative"},
      // 2^32 * 2^32 wraps to 0 in 64 bits and would match data_offsets [0, 0].
      {"has a shape whose product wraps to zero",
       safetensors_bytes(
           "{" + entry("a", R"("dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0])") + "}", ""),
       "overflow"},
      {"has a zero dimension after an overflowing product",
       safetensors_bytes(
           "{" + entry("a", R"("dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0])") + "}", ""),
       "overflow"},
      {"has a byte size that overflows",
       safetensors_bytes("{" + entry("a", R"("dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,0])") + "}",
                         ""),
       "overflow"},
      {"lacks data_offsets", safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[2])") + "}", eight),
       "data_offsets"},
      {"has one data offset",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[8])") + "}", eight),
       "data_offsets"},
      {"has a negative data offset",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[0],"data_offsets":[-1,-1])") + "}", eight),
       "data_offsets"},
      {"has data offsets that end before they begin",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[8,0])") + "}", eight),
       "end before"},
      {"has data offsets past the data section",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[4],"data_offsets":[0,16])") + "}", eight),
       "beyond"},
      {"has a byte size that does not match the shape",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[3],"data_offsets":[0,8])") + "}", eight),
       "expected 12"},
      {"has overlapping tensors",
       safetensors_bytes("{" + entry("a", f32x2) + "," +
                             entry("b", R"("dtype":"F32","shape":[2],"data_offsets":[4,12])") + "}",
                         std::string(12, '\x01')),
       "overlap"},
      {"hides an empty tensor inside another",
       safetensors_bytes("{" + entry("a", f32x2) + "," +
                             entry("b", R"("dtype":"F32","shape":[0],"data_offsets":[4,4])") + "}",
                         eight),
       "overlap"},
      {"has a gap between tensors",
       safetensors_bytes("{" + entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[0,4])") + "," +
                             entry("b", R"("dtype":"F32","shape":[1],"data_offsets":[8,12])") + "}",
                         std::string(12, '\x01')),
       "unused"},
      {"has bytes after the last tensor", safetensors_bytes("{" + entry("a", f32x2) + "}", eight + "xx"), "after"},
      {"has data but no tensors", safetensors_bytes("{}", eight), "after"},
      {"has a metadata value that is a number",
       safetensors_bytes(R"({"__metadata__":{"epoch":3}})", ""), "epoch"},
      {"has metadata that is an array", safetensors_bytes(R"({"__metadata__":["a"]})", ""), "__metadata__"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      write_bytes(path, c.bytes);
      require_input_error(path, c.topic, [&] { read_safetensors(path); });
      require_input_error(path, c.topic, [&] { read_safetensors_header(path); });
    }
  }
  SECTION("does not exist") {
    require_input_error(tmp.file("missing.safetensors"), "cannot open",
                        [&] { read_safetensors(tmp.file("missing.safetensors")); });
  }
  SECTION("is a directory") {
    require_input_error(tmp.dir.string(), "not a regular file", [&] { read_safetensors(tmp.dir.string()); });
  }
}

TEST_CASE("every truncation and byte flip of a valid file is read or refused, never crashes", "[io]") {
  TempDir tmp;
  const std::string good_path = tmp.file("good.safetensors");
  const std::string path = tmp.file("damaged.safetensors");
  write_safetensors(good_path, {{"a", patterned({3}, DType::F32, 1)}, {"b", patterned({2, 2}, DType::I16, 2)}},
                    {{"k", "v"}});
  const std::string good = read_bytes(good_path);
  // Every byte removed from the end breaks the exact coverage of the data section.
  for (size_t len = 0; len < good.size(); ++len) {
    write_bytes(path, good.substr(0, len));
    INFO("truncated to " << len << " bytes");
    CHECK_THROWS_AS(read_safetensors(path), InputError);
  }
  // Flipped header bytes may still form a valid file (e.g. a changed name); anything else must
  // be an InputError rather than a crash, a foreign exception or an out-of-bounds read.
  const uint64_t header_end = 8 + (static_cast<unsigned char>(good[0]) | static_cast<unsigned char>(good[1]) << 8);
  for (size_t pos = 0; pos < header_end; ++pos) {
    for (unsigned char value : {0x00, 0x22, 0x30, 0x7D, 0xFF}) {
      std::string damaged = good;
      damaged[pos] = static_cast<char>(value);
      write_bytes(path, damaged);
      try {
        read_safetensors(path);
      } catch (const InputError&) {
      } catch (const std::exception& e) {
        FAIL("byte " << pos << " set to " << int(value) << " gave a non-input error: " << e.what());
      }
    }
  }
}

TEST_CASE("binary16 and bfloat16 words widen to the right f32 values", "[io]") {
  // Hand-computed from the bit layouts: f16 = 1 sign, 5 exponent (bias 15), 10 mantissa bits.
  CHECK(f16_word_to_float(0x3C00) == 1.0f);
  CHECK(f16_word_to_float(0xC000) == -2.0f);
  CHECK(f16_word_to_float(0x3555) == 1365.0f / 4096.0f);         // (1 + 341/1024) * 2^-2
  CHECK(f16_word_to_float(0x7BFF) == 65504.0f);                  // largest finite
  CHECK(f16_word_to_float(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
  CHECK(f16_word_to_float(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
  CHECK(f16_word_to_float(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(f16_word_to_float(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(f16_word_to_float(0x0000) == 0.0f);
  CHECK_FALSE(std::signbit(f16_word_to_float(0x0000)));
  CHECK(std::signbit(f16_word_to_float(0x8000)));
  CHECK(f16_word_to_float(0x7C00) == INFINITY);
  CHECK(f16_word_to_float(0xFC00) == -INFINITY);
  CHECK(std::isnan(f16_word_to_float(0x7E00)));
  CHECK(std::isnan(f16_word_to_float(0x7C01)));  // signalling-NaN pattern must not become inf

  // bf16 is the top 16 bits of an f32: 1 sign, 8 exponent (bias 127), 7 mantissa bits.
  CHECK(bf16_word_to_float(0x3F80) == 1.0f);
  CHECK(bf16_word_to_float(0xC020) == -2.5f);
  CHECK(bf16_word_to_float(0x4049) == 3.140625f);  // (1 + 73/128) * 2
  CHECK(bf16_word_to_float(0x0001) == std::ldexp(1.0f, -133));
  CHECK(bf16_word_to_float(0x7F80) == INFINITY);
  CHECK(std::isnan(bf16_word_to_float(0x7FC0)));

  Tensor halves = half_words_to_f32(u16_words(DType::F16, {0x3C00, 0xC000, 0x0001}, {3}));
  CHECK(halves.dtype() == DType::F32);
  CHECK(halves.to_vector() == std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)});
}

TEST_CASE("a checkpoint loads into a freshly built model through the layers' own handles", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("tiny.safetensors");
  TinyNet saved;
  saved.weight.copy_(floats({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}));
  saved.bias.copy_(floats({-1.f, 0.5f}, {2}));
  saved.count.data<int64_t>()[0] = 1234567890123LL;
  const std::map<std::string, std::string> metadata = {{"model", "tiny"}, {"epoch", "7"}};
  save_checkpoint(path, saved, metadata);
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(read_checkpoint_metadata(path) == metadata);

  TinyNet fresh;
  const Tensor layer_handle = fresh.weight;  // what a layer would hold
  CHECK(load_checkpoint(path, fresh) == metadata);
  CHECK(layer_handle.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(fresh.bias.to_vector() == std::vector<float>{-1, 0.5f});
  CHECK(fresh.count.data<int64_t>()[0] == 1234567890123LL);
  CHECK(fresh.weight.requires_grad());
}

TEST_CASE("checkpoint metadata stuckat reads back is checked at load, naming the file and the key", "[io]") {
  TempDir tmp;
  TinyNet saved;
  for (const char* quant : {"qq", "q99.99", "q4.12"}) {  // q4.12: 17 bits, not a 16-bit word
    const std::string path = tmp.file(std::string("quant_") + quant + ".safetensors");
    save_checkpoint(path, saved, {{"model", "tiny"}, {"quant", quant}});
    CHECK_THROWS_WITH(read_checkpoint_metadata(path), Catch::Contains(path) && Catch::Contains("'quant'") &&
                                                         Catch::Contains(quant) && !Catch::Contains("--quant"));
    TinyNet fresh;
    CHECK_THROWS_AS(load_checkpoint(path, fresh), InputError);
  }
  const std::string good = tmp.file("quant_ok.safetensors");
  save_checkpoint(good, saved, {{"model", "tiny"}, {"quant", "maxabs"}});
  CHECK(read_checkpoint_metadata(good).at("quant") == "maxabs");
}

TEST_CASE("an f32 model loads F16/BF16 weights and an I64 buffer loads I32", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("half.safetensors");
  write_safetensors(path,
                    {{"weight", u16_words(DType::F16, {0x3C00, 0xC000, 0x7C00, 0x0001, 0x8000, 0x3800}, {2, 3})},
                     {"bias", u16_words(DType::BF16, {0x3F80, 0xC020}, {2})},
                     {"count", Tensor::from_vector(std::vector<int32_t>{-5}, {})}},
                    {{"model", "tiny"}});
  TinyNet net;
  load_checkpoint(path, net);
  CHECK(net.weight.to_vector() == std::vector<float>{1.0f, -2.0f, INFINITY, std::ldexp(1.0f, -24), -0.0f, 0.5f});
  CHECK(net.bias.to_vector() == std::vector<float>{1.0f, -2.5f});
  CHECK(net.count.data<int64_t>()[0] == -5);
}

TEST_CASE("a checkpoint that does not fit lists every missing, unexpected and mismatched tensor", "[io]") {
  TempDir tmp;
  const std::string path = tmp.file("other.safetensors");
  write_safetensors(path,
                    {{"weight", Tensor::zeros({3, 2})},
                     {"count", Tensor::zeros({})},
                     {"extra.weight", Tensor::zeros({1})}},
                    {{"model", "other"}});
  TinyNet net;
  net.weight.fill_(7.0f);
  try {
    load_checkpoint(path, net, "tiny");
    FAIL("a mismatched checkpoint loaded");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(contains(msg, "checkpoint " + path + " (saved from model other) does not fit model tiny: "));
    CHECK(contains(msg, "missing bias"));
    CHECK(contains(msg, "unexpected extra.weight"));
    CHECK(contains(msg, "shape of weight is (2, 3) in the model but (3, 2) in the file"));
    CHECK(contains(msg, "dtype of count is I64 in the model but F32 in the file"));
  }
  // A refused load leaves the model as it was.
  CHECK(net.weight.to_vector() == std::vector<float>(6, 7.0f));
  // Without a model name the message still names the file.
  require_input_error(path, "does not fit the model", [&] { load_checkpoint(path, net); });
}

// Cross-check with the Python `safetensors` package; run by scripts/safetensors_interop.py, which
// sets the environment variables below (hidden from a plain run: it needs files from Python).
TEST_CASE("interop: read the file safetensors.torch.save_file wrote, write one for load_file", "[.interop]") {
  const char* from_python = std::getenv("STUCKAT_INTEROP_FROM_PYTHON");
  const char* for_python = std::getenv("STUCKAT_INTEROP_FOR_PYTHON");
  REQUIRE(from_python != nullptr);
  REQUIRE(for_python != nullptr);

  // The script writes these exact values (see make_python_tensors there).
  SafetensorsContent c = read_safetensors(from_python);
  CHECK(c.metadata.at("model") == "interop");
  CHECK(c.metadata.at("writer") == "safetensors.torch");
  std::map<std::string, Tensor> byname(c.tensors.begin(), c.tensors.end());
  REQUIRE(byname.size() == 4);
  const Tensor& f32 = byname.at("f32");
  CHECK(f32.shape() == Shape{2, 3});
  CHECK(f32.to_vector() == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f});
  const Tensor& f16 = byname.at("f16");
  REQUIRE(f16.dtype() == DType::F16);
  CHECK(half_words_to_f32(f16).to_vector() ==
        std::vector<float>{1.0f, -2.0f, INFINITY, std::ldexp(1.0f, -24), 65504.0f});
  const Tensor& bf16 = byname.at("bf16");
  REQUIRE(bf16.dtype() == DType::BF16);
  CHECK(half_words_to_f32(bf16).to_vector() == std::vector<float>{1.0f, -2.5f, 3.140625f});
  const Tensor& i64 = byname.at("nested.i64");
  REQUIRE(i64.dtype() == DType::I64);
  CHECK(i64.shape() == Shape{3, 1});
  CHECK(i64.data<int64_t>()[0] == -(int64_t(1) << 40));
  CHECK(i64.data<int64_t>()[1] == 0);
  CHECK(i64.data<int64_t>()[2] == 7);

  // The script checks these exact values after safetensors.torch.load_file.
  Tensor u8 = Tensor::empty({4}, DType::U8);
  for (int i = 0; i < 4; ++i) u8.data<uint8_t>()[i] = static_cast<uint8_t>(250 + i);
  Tensor i16 = Tensor::empty({2}, DType::I16);
  i16.data<int16_t>()[0] = -32768;
  i16.data<int16_t>()[1] = 12345;
  write_safetensors(for_python,
                    {{"conv1.weight", floats({0.25f, -0.75f, 2.0f, 1e-3f}, {1, 1, 2, 2})},
                     {"half", u16_words(DType::F16, {0x3C00, 0xC000, 0x0001}, {3})},
                     {"brain", u16_words(DType::BF16, {0x3F80, 0xC020}, {2})},
                     {"i16", i16},
                     {"labels", Tensor::from_vector(std::vector<int32_t>{3, -1}, {2})},
                     {"bn.num_batches_tracked", i64_tensor({42}, {})},
                     {"pixels", u8},
                     {"empty", Tensor::zeros({0, 3})}},
                    {{"model", "interop"}, {"writer", "stuckat"}});
}

TEST_CASE("a file written atomically replaces the old one whole, and a failed write leaves it", "[io]") {
  TempDir t;
  const std::string path = t.file("report.json");
  auto read = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  write_file_atomically(path, "first");
  CHECK(read(path) == "first");
  write_file_atomically(path, "second, longer");
  CHECK(read(path) == "second, longer");
  CHECK_FALSE(fs::exists(temporary_path(path)));
  // A folder where the file should go: the rename fails, the error names the flag and the file.
  const std::string blocked = t.file("taken");
  fs::create_directories(fs::path(blocked) / "inside");
  CHECK_THROWS_WITH(write_file_atomically(blocked, "x", "--json"), Catch::Contains("taken") && Catch::Contains("rename"));
  CHECK(fs::is_directory(blocked));
  CHECK_FALSE(fs::exists(temporary_path(blocked)));  // the failed rename leaves no temporary behind
  // No folder for the temporary file: nothing is written, and the message names --json.
  CHECK_THROWS_WITH(write_file_atomically(t.file("no/such/dir/out.json"), "x", "--json"),
                    Catch::Contains("--json") && Catch::Contains("out.json"));
  CHECK(read(path) == "second, longer");
}
