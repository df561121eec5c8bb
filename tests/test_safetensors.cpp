// safetensors I/O: round trips (memory and disk, every rank, several dtypes), a
// file written by Python's reference implementation, the atomic writer, and one
// test per way a file can be malformed, each refused with sbgan::error and a
// message that says what is wrong. A truncation sweep and a byte-corruption sweep
// show that no damaged file gets past the reader or raises anything else.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sbgan/io/safetensors.hpp>
#include <sbgan/sbgan.hpp>
#include <string>
#include <vector>

#ifndef SBGAN_GOLDEN_DIR
#error "SBGAN_GOLDEN_DIR must point at tests/golden"
#endif

using namespace sbgan;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<unsigned char>;

// The message of the sbgan::error that f throws, or "" when it throws nothing;
// any other exception escapes and fails the test.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sbgan::error& e) {
    return e.what();
  }
  return "";
}

// A file from a header text and a data buffer; `length` overrides the stored
// header length.
bytes make_file(const std::string& header, const bytes& data, std::uint64_t length = UINT64_MAX) {
  const std::uint64_t n = length == UINT64_MAX ? header.size() : length;
  bytes out(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

bytes zeros_bytes(std::size_t n) { return bytes(n, 0); }

std::string parse_error(const bytes& file) {
  return error_of([&] { (void)io::parse_safetensors(file, "test.safetensors"); });
}

// A fresh directory under the system's temporary directory, removed at the end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("sbgan-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  [[nodiscard]] std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    return names;
  }
};

template <class T>
void require_equal(const Tensor<T>& a, const Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  for (index_t i = 0; i < a.numel(); ++i) REQUIRE(a[i] == b[i]);
}

io::TensorArchive sample_archive() {
  Generator g(3);
  io::TensorArchive a;
  a.put("conv.weight", g.normal<float>(Shape{4, 3, 3, 3}));
  a.put("conv.bias", g.normal<float>(Shape{4}));
  a.put("linear.weight", g.normal<double>(Shape{5, 7}));
  a.put("scalar", full<double>(Shape{}, 0.125));
  a.put("block.norm", g.normal<float>(Shape{2, 3, 4}));
  a.put("empty", Tensor<float>(Shape{0, 5}));
  Tensor<std::int64_t> counters(Shape{3});
  counters[0] = -1;
  counters[1] = (std::int64_t{1} << 62) + 7;  // beyond double's exact integers
  counters[2] = 0;
  a.put("counters", counters);
  a.metadata["format"] = "sbgan-test";
  a.metadata["note"] = "unicode: \xc3\xa9t\xc3\xa9";
  return a;
}

void require_same_archive(const io::TensorArchive& a, const io::TensorArchive& b) {
  REQUIRE(a.metadata == b.metadata);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    INFO(name);
    REQUIRE(b.contains(name));
    const auto& u = b.at(name);
    CHECK(t.dtype == u.dtype);
    CHECK(t.shape == u.shape);
    CHECK(t.bytes == u.bytes);
  }
}

}  // namespace

TEST_CASE("safetensors round trip in memory keeps names, dtypes, shapes, values and metadata", "[safetensors]") {
  const auto a = sample_archive();
  const bytes file = io::serialize_safetensors(a);
  const auto b = io::parse_safetensors(file);
  require_same_archive(a, b);
  require_equal(b.get<float>("conv.weight"), a.get<float>("conv.weight"));
  const auto scalar = b.get<double>("scalar");
  CHECK(scalar.shape().rank() == 0);
  CHECK(scalar[0] == 0.125);
  CHECK(b.get<std::int64_t>("counters")[1] == (std::int64_t{1} << 62) + 7);
  CHECK(b.get<float>("empty").shape() == Shape{0, 5});
  const auto all = b.to_tensors<double>();
  CHECK(all.size() == a.tensors.size());
  CHECK(all.at("block.norm").shape() == Shape{2, 3, 4});
  CHECK(all.at("conv.bias")[2] == static_cast<double>(a.get<float>("conv.bias")[2]));

  // The data starts 8-byte aligned and the widest dtypes come first, so every
  // tensor is aligned to its element size.
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{file[static_cast<std::size_t>(i)]} << (8 * i);
  CHECK(n % 8 == 0);
}

TEST_CASE("safetensors converts dtypes on reading", "[safetensors]") {
  io::TensorArchive a;
  Generator g(4);
  const auto f = g.normal<float>(Shape{2, 3});
  a.put("f", f);
  const auto b = io::parse_safetensors(io::serialize_safetensors(a));
  const auto d = b.get<double>("f");  // F32 to double is exact
  for (index_t i = 0; i < f.numel(); ++i) CHECK(d[i] == static_cast<double>(f[i]));

  // F16 and BF16, hand-encoded: 1, −2, 2⁻²⁴ (the smallest subnormal), +∞; and BF16 1.5, −0.
  const bytes half{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c};
  const bytes bf16{0xc0, 0x3f, 0x00, 0x80};
  bytes data = half;
  data.insert(data.end(), bf16.begin(), bf16.end());
  const auto c = io::parse_safetensors(make_file(
      R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
      data));
  const auto h = c.get<float>("h");
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(h[3]));
  const auto bb = c.get<double>("b");
  CHECK(bb[0] == 1.5);
  CHECK(bb[1] == 0.0);
  CHECK(std::signbit(bb[1]));
}

TEST_CASE("safetensors round trip on disk, written atomically", "[safetensors]") {
  TempDir dir("safetensors-roundtrip");
  const fs::path file = dir.path / "model.safetensors";
  const auto a = sample_archive();
  io::write_safetensors(file, a);
  require_same_archive(a, io::read_safetensors(file));
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});  // no temporary left behind

  // Replacing the file: the new contents, still no temporary.
  io::TensorArchive b;
  b.put("only", full<float>(Shape{2}, 1.5f));
  io::write_safetensors(file, b);
  require_same_archive(b, io::read_safetensors(file));
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  // The file on disk is byte for byte what serialize_safetensors gives.
  std::ifstream in(file, std::ios::binary);
  const bytes on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(on_disk == io::serialize_safetensors(b));
}

TEST_CASE("safetensors reads a file written by Python's safetensors package", "[safetensors]") {
  // tools/golden/safetensors_fixture.py, with the pip package.
  const auto a = io::read_safetensors(fs::path(SBGAN_GOLDEN_DIR) / "safetensors_python" / "fixture.safetensors");
  CHECK(a.metadata.at("written_by") == "safetensors (Python)");
  CHECK(a.metadata.at("epoch") == "7");
  CHECK(a.tensors.size() == 8);

  const auto m = a.get<float>("f32_matrix");
  REQUIRE(m.shape() == Shape{2, 3});
  for (index_t i = 0; i < 6; ++i) CHECK(m[i] == static_cast<float>(i) * 0.5f - 1.0f);

  const auto s = a.get<double>("f64_scalar");
  CHECK(s.shape().rank() == 0);
  CHECK(s[0] == 3.25);

  const auto h = a.get<double>("f16_vector");
  REQUIRE(h.shape() == Shape{5});
  CHECK(h[0] == 1.0);
  CHECK(h[1] == -2.0);
  CHECK(h[2] == 0.5);
  CHECK(h[3] == 65504.0);
  CHECK(h[4] == std::ldexp(1.0, -24));

  const auto i64 = a.get<std::int64_t>("i64_vector");
  CHECK(i64[0] == -3);
  CHECK(i64[1] == 0);
  CHECK(i64[2] == std::int64_t{1} << 40);
  const auto i32 = a.get<std::int32_t>("i32_vector");
  CHECK(i32[0] == -7);
  CHECK(i32[1] == 123456);

  const auto u8 = a.get<float>("u8_image");
  REQUIRE(u8.shape() == Shape{1, 2, 2, 2});
  for (index_t i = 0; i < 8; ++i) CHECK(u8[i] == static_cast<float>(i));

  CHECK(a.get<float>("empty").shape() == Shape{0, 3});

  // Rank 5 is a valid file entry, but not an sbgan tensor.
  CHECK(a.at("rank5").shape == std::vector<std::int64_t>{1, 1, 1, 1, 2});
  CHECK_THAT(error_of([&] { (void)a.get<float>("rank5"); }), Contains("rank 5"));
  CHECK_THAT(error_of([&] { (void)a.get<float>("absent"); }), Contains("no tensor named 'absent'"));
}

// ---------------------------------------------------------------------------------
// Malformed files: one test per defect.

TEST_CASE("safetensors refuses a file too short for the header length", "[safetensors][malformed]") {
  CHECK_THAT(parse_error(bytes{}), Contains("too short for the 8-byte header length"));
  CHECK_THAT(parse_error(bytes{1, 0, 0}), Contains("too short for the 8-byte header length"));
}

TEST_CASE("safetensors refuses a header length beyond the end of the file", "[safetensors][malformed]") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(header, zeros_bytes(4), header.size() + 100)), Contains("runs past the end of the file"));
  CHECK_THAT(parse_error(make_file(header, zeros_bytes(4), UINT64_MAX - 1)), Contains("exceeds the 100 MB limit"));
  CHECK_THAT(parse_error(make_file("", {}, 0)), Contains("header is empty"));
}

TEST_CASE("safetensors refuses a truncated file", "[safetensors][malformed]") {
  const bytes good = io::serialize_safetensors(sample_archive());
  // Cut in the data: the last tensor no longer fits.
  const bytes cut(good.begin(), good.end() - 3);
  CHECK_THAT(parse_error(cut), Contains("truncated"));
  // Cut in the header.
  const bytes in_header(good.begin(), good.begin() + 20);
  CHECK_THAT(parse_error(in_header), Contains("runs past the end of the file"));

  // On disk too.
  TempDir dir("safetensors-truncated");
  const fs::path file = dir.path / "cut.safetensors";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size()));
  }
  CHECK_THAT(error_of([&] { (void)io::read_safetensors(file); }), Contains("truncated"));
  CHECK_THAT(error_of([&] { (void)io::read_safetensors(file); }), Contains(file.string()));
}

TEST_CASE("safetensors refuses every truncation of a valid file", "[safetensors][malformed]") {
  const bytes good = io::serialize_safetensors(sample_archive());
  for (std::size_t size = 0; size < good.size(); ++size) {
    INFO("truncated to " << size << " of " << good.size() << " bytes");
    const bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
    CHECK_FALSE(parse_error(cut).empty());
  }
}

TEST_CASE("safetensors refuses a header that is not valid JSON", "[safetensors][malformed]") {
  CHECK_THAT(parse_error(make_file(R"({"a": {"dtype": "F32", )", {})), Contains("not valid JSON"));
  CHECK_THAT(parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x)", zeros_bytes(4))),
             Contains("not valid JSON"));
  CHECK_THAT(parse_error(make_file("{\"\xff\xfe\":1}", {})), Contains("not valid JSON"));  // not UTF-8
  CHECK_THAT(parse_error(make_file("[1, 2]", {})), Contains("not a JSON object"));
  CHECK_THAT(parse_error(make_file(R"({"a": 5})", {})), Contains("tensor 'a' must be an object"));
}

TEST_CASE("safetensors refuses duplicate tensor names", "[safetensors][malformed]") {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  CHECK_THAT(parse_error(make_file(header, zeros_bytes(8))), Contains("repeats the key 'a'"));
}

TEST_CASE("safetensors refuses overlapping offsets", "[safetensors][malformed]") {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  const std::string message = parse_error(make_file(header, zeros_bytes(12)));
  CHECK_THAT(message, Contains("tensor 'b' (bytes 4 to 12) overlaps tensor 'a' (bytes 0 to 8)"));
  // Two tensors on the same bytes.
  const std::string same =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_THAT(parse_error(make_file(same, zeros_bytes(8))), Contains("overlaps"));
}

TEST_CASE("safetensors refuses out-of-range offsets", "[safetensors][malformed]") {
  const std::string past = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_THAT(parse_error(make_file(past, zeros_bytes(4))), Contains("ends at byte 8 of the data, but the file holds only 4"));
  const std::string reversed = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})";
  CHECK_THAT(parse_error(make_file(reversed, zeros_bytes(8))), Contains("precedes begin"));
  const std::string negative = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})";
  CHECK_THAT(parse_error(make_file(negative, zeros_bytes(4))), Contains("data_offsets begin is negative"));
  const std::string huge = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}})";
  CHECK_THAT(parse_error(make_file(huge, zeros_bytes(4))), Contains("is not an integer"));
  const std::string one = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})";
  CHECK_THAT(parse_error(make_file(one, zeros_bytes(4))), Contains("data_offsets must be [begin, end]"));
}

TEST_CASE("safetensors refuses data bytes that belong to no tensor", "[safetensors][malformed]") {
  const std::string gap =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  CHECK_THAT(parse_error(make_file(gap, zeros_bytes(12))), Contains("data bytes 4 to 8 belong to no tensor"));
  const std::string trailing = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(trailing, zeros_bytes(8))), Contains("trailing bytes belong to no tensor"));
}

TEST_CASE("safetensors refuses an unknown dtype", "[safetensors][malformed]") {
  const std::string header = R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(header, zeros_bytes(4))), Contains("tensor 'a' has an unknown dtype \"Q7\""));
  const std::string number = R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(number, zeros_bytes(4))), Contains("dtype must be a string"));
}

TEST_CASE("safetensors refuses a shape that does not match the byte count", "[safetensors][malformed]") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})";
  CHECK_THAT(parse_error(make_file(header, zeros_bytes(20))),
             Contains("shape [2, 3] of F32 needs 24 bytes, data_offsets give 20"));
  const std::string negative = R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(negative, zeros_bytes(4))), Contains("shape entry is negative"));
  const std::string fraction = R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})";
  CHECK_THAT(parse_error(make_file(fraction, zeros_bytes(4))), Contains("shape entry is not an integer"));
  const std::string overflow =
      R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})";
  CHECK_THAT(parse_error(make_file(overflow, zeros_bytes(8))), Contains("too large"));
}

TEST_CASE("safetensors refuses malformed entries and metadata", "[safetensors][malformed]") {
  CHECK_THAT(parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", zeros_bytes(4))),
             Contains("needs the fields dtype, shape and data_offsets"));
  CHECK_THAT(parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", zeros_bytes(4))),
             Contains("unknown field 'x'"));
  CHECK_THAT(parse_error(make_file(R"({"__metadata__":{"k":3}})", {})), Contains("value of 'k' must be a string"));
  CHECK_THAT(parse_error(make_file(R"({"__metadata__":[1]})", {})), Contains("__metadata__ must map strings"));
}

TEST_CASE("safetensors survives corrupted bytes: every damage is parsed or refused", "[safetensors][malformed]") {
  const bytes good = io::serialize_safetensors(sample_archive());
  std::mt19937 engine(9);
  std::uniform_int_distribution<std::size_t> position(0, good.size() - 1);
  std::uniform_int_distribution<int> value(0, 255);
  int refused = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    bytes damaged = good;
    for (int k = 0; k < 1 + trial % 3; ++k) damaged[position(engine)] = static_cast<unsigned char>(value(engine));
    if (!parse_error(damaged).empty()) ++refused;  // anything but sbgan::error fails the test
  }
  CHECK(refused > 0);
}

TEST_CASE("safetensors reports files that cannot be read", "[safetensors]") {
  TempDir dir("safetensors-missing");
  CHECK_THAT(error_of([&] { (void)io::read_safetensors(dir.path / "absent.safetensors"); }), Contains("does not exist"));
  CHECK_THAT(error_of([&] { (void)io::read_safetensors(dir.path); }), Contains("not a regular file"));
}

TEST_CASE("safetensors writer refuses bad archives and leaves the existing file alone", "[safetensors]") {
  TempDir dir("safetensors-refused");
  const fs::path file = dir.path / "keep.safetensors";
  const auto a = sample_archive();
  io::write_safetensors(file, a);

  io::TensorArchive bad;
  CHECK_THAT(error_of([&] { bad.put("__metadata__", full<float>(Shape{1}, 1.0f)); }), Contains("cannot name a tensor"));
  bad.tensors["inconsistent"] = io::StoredTensor{io::Dtype::F32, {2, 2}, bytes(12)};
  CHECK_THAT(error_of([&] { io::write_safetensors(file, bad); }), Contains("holds 12 bytes, its shape [2, 2] needs 16"));
  require_same_archive(a, io::read_safetensors(file));
  CHECK(dir.entries() == std::vector<std::string>{"keep.safetensors"});

  // A directory that does not exist: an error, nothing written.
  CHECK_THAT(error_of([&] { io::write_safetensors(dir.path / "no" / "such.safetensors", a); }),
             Contains("cannot create a temporary file"));
}
