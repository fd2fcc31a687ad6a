#include "backend_self_test.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fls/backend_entries.h"
#include "fls/crc32c.h"
#include "fls/matrix.h"

namespace fls {
namespace {

// Canary bytes after every block: more than one 64-byte vector, and odd, so
// that every block starts at an odd address.
constexpr std::size_t kGap = 67;
constexpr std::uint8_t kCanary = 0xA5;
constexpr std::size_t kNone = ~std::size_t{0};

// Three stripes in the backend's own shape: enough for a reconstruct batch
// that mixes loss patterns; two for the fixed shapes.
constexpr std::size_t kStripes = 3;
constexpr std::size_t kFixedStripes = 2;

// Matrices of other shapes than the backend's own: the unrolled kernels
// (k = 4, 8, 12), generic k (7, 17), 1 to 8 outputs (two passes at 7 and 8).
// Block lengths: 37 (one partial vector), 130 (one 128-byte step and a
// tail), 200 (a 128-byte step, a 64-byte one and a tail).
struct FixedShape {
  std::size_t k, r, len;
};
constexpr FixedShape kFixedShapes[] = {
    {4, 1, 37}, {8, 5, 200}, {12, 6, 37}, {7, 8, 130}, {17, 3, 130}};

std::string Str(std::size_t v) { return std::to_string(v); }

std::string Hex(unsigned v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, v);
  return buf;
}

std::string List(const std::vector<int>& shards) {
  if (shards.empty()) return "none";
  std::string s;
  for (int i : shards) {
    if (!s.empty()) s += ',';
    s += std::to_string(i);
  }
  return s;
}

// Deterministic bytes (xorshift64*), so that a failure reproduces exactly.
class Bytes {
 public:
  explicit Bytes(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull | 1) {}
  std::uint8_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return static_cast<std::uint8_t>((s_ * 0x2545F4914F6CDD1Dull) >> 56);
  }

 private:
  std::uint64_t s_;
};

// `count` blocks of `len` bytes in one arena, each followed by kGap canary
// bytes (block 0 also preceded by one).
class Blocks {
 public:
  Blocks(std::size_t count, std::size_t len)
      : len_(len), arena_(1 + count * (len + kGap), kCanary) {
    for (std::size_t i = 0; i < count; ++i) ptrs_.push_back(arena_.data() + 1 + i * (len + kGap));
  }
  void Fill(std::uint64_t seed) {
    Bytes bytes(seed);
    for (std::uint8_t* p : ptrs_)
      for (std::size_t i = 0; i < len_; ++i) p[i] = bytes.Next();
  }
  std::uint8_t* operator[](std::size_t i) const { return ptrs_[i]; }
  const std::vector<std::uint8_t*>& ptrs() const { return ptrs_; }
  std::vector<const std::uint8_t*> const_ptrs() const { return {ptrs_.begin(), ptrs_.end()}; }
  // The first block whose surrounding canary bytes changed, or kNone.
  std::size_t Trampled() const {
    if (arena_[0] != kCanary) return 0;
    for (std::size_t i = 0; i < ptrs_.size(); ++i)
      for (std::size_t g = 0; g < kGap; ++g)
        if (ptrs_[i][len_ + g] != kCanary) return i;
    return kNone;
  }

 private:
  std::size_t len_;
  std::vector<std::uint8_t> arena_;
  std::vector<std::uint8_t*> ptrs_;
};

// "" when equal; else "LABEL: byte B is 0x.., the reference backend gives
// 0x..". `label` is called only then, so passing blocks cost no strings.
template <typename Label>
std::string Compare(const std::uint8_t* got, const std::uint8_t* want, std::size_t len,
                    const Label& label) {
  for (std::size_t b = 0; b < len; ++b)
    if (got[b] != want[b])
      return label() + ": byte " + Str(b) + " is " + Hex(got[b], 2) +
             ", the reference backend gives " + Hex(want[b], 2);
  return "";
}

template <typename Label>
std::string CompareCrc(std::uint32_t got, const std::uint8_t* block, std::size_t len,
                       const Label& label) {
  const std::uint32_t want = Crc32c(block, len);
  if (got == want) return "";
  return label() + ": block CRC32C is " + Hex(got, 8) + ", expected " + Hex(want, 8);
}

}  // namespace

// A friend of Backend (fls/backend.h), so that it can drive the backend's
// matrix primitive with matrices of other shapes than its codec's.
class BackendSelfTest {
 public:
  explicit BackendSelfTest(Backend& backend) : b_(backend) {
    // The oracle in the same shape; ReferenceBackendEntry's maker cannot fail.
    const Status made = ReferenceBackendEntry().make(backend.shared_codec(), {}, &ref_);
    (void)made;
  }

  // "" when everything agrees with the reference; else what differed first.
  std::string Run() {
    const std::size_t k = b_.codec().k(), m = b_.codec().m();
    // The reference's time grows with k x m x length: wide codes get shorter
    // blocks. 330 bytes: a 64-byte vector, two 128-byte steps (state carried
    // from one to the next) and a tail.
    std::vector<std::size_t> lens = {1, 37, 200, 330};
    if (k * m > 64) lens = {1, 37, 130};
    for (std::size_t len : lens)
      if (std::string f = OwnShape(len); !f.empty()) return f;
    for (const FixedShape& shape : kFixedShapes)
      if (std::string f = Fixed(shape); !f.empty()) return f;
    return "";
  }

 private:
  std::string OwnShape(std::size_t len);
  std::string Rebuild(const Blocks& data, const Blocks& parity, std::size_t len,
                      const std::vector<std::vector<int>>& lost, const std::vector<int>& wanted);
  std::string Fixed(const FixedShape& shape);

  std::string OwnName(std::size_t len) const {
    return Str(b_.codec().k()) + "+" + Str(b_.codec().m()) + " (its own shape), block " + Str(len) +
           " bytes";
  }

  Backend& b_;
  std::unique_ptr<Backend> ref_;
};

std::string BackendSelfTest::OwnShape(std::size_t len) {
  const std::size_t k = b_.codec().k(), m = b_.codec().m(), n = k + m;
  Blocks data(kStripes * k, len), parity(kStripes * m, len);
  data.Fill(len * 257 + n);
  const auto inputs = data.const_ptrs();
  Status s = ref_->Encode({kStripes, len, inputs, parity.ptrs(), {}});
  if (!s.ok()) return "the reference backend's encode " + OwnName(len) + ": " + s.ToString();

  for (bool crcs : {false, true}) {
    const std::string what = (crcs ? "encode with block CRCs " : "encode ") + OwnName(len);
    Blocks out(kStripes * m, len);
    std::vector<std::uint32_t> block_crcs(crcs ? kStripes * n : 0);
    s = b_.Encode({kStripes, len, inputs, out.ptrs(), block_crcs});
    if (!s.ok()) return what + " returned " + s.ToString();
    for (std::size_t i = 0; i < kStripes * m; ++i) {
      auto at = [&] {
        return what + ", stripe " + Str(i / m) + ", parity shard " + Str(k + i % m);
      };
      if (std::string f = Compare(out[i], parity[i], len, at); !f.empty()) return f;
    }
    if (std::size_t t = out.Trampled(); t != kNone)
      return what + ": wrote outside its output blocks, next to parity block " + Str(t);
    for (std::size_t i = 0; i < block_crcs.size(); ++i) {
      const std::size_t st = i / n, shard = i % n;
      const std::uint8_t* block = shard < k ? data[st * k + shard] : parity[st * m + shard - k];
      auto at = [&] { return what + ", stripe " + Str(st) + ", shard " + Str(shard); };
      if (std::string f = CompareCrc(block_crcs[i], block, len, at); !f.empty()) return f;
    }
  }

  // Loss patterns: the first m data shards; the last data shard with all
  // parity but the first; all parity; then one batch of three patterns.
  const int ki = static_cast<int>(k), ni = static_cast<int>(n);
  std::vector<int> first_data, last_data, all_parity;
  for (int i = 0; i < std::min(ki, static_cast<int>(m)); ++i) first_data.push_back(i);
  last_data.push_back(ki - 1);
  for (int i = ki + 1; i < ni; ++i) last_data.push_back(i);
  for (int i = ki; i < ni; ++i) all_parity.push_back(i);
  for (const auto& lost : {first_data, last_data, all_parity})
    if (std::string f = Rebuild(data, parity, len, {lost, lost, lost}, lost); !f.empty()) return f;
  std::vector<int> two = {0};
  if (m >= 2) two.push_back(ni - 1);
  return Rebuild(data, parity, len, {{0}, two, {}}, {0});
}

// Reconstructs `wanted` in every stripe s of (data, parity) with shards
// lost[s] missing, and compares with the original shards.
std::string BackendSelfTest::Rebuild(const Blocks& data, const Blocks& parity, std::size_t len,
                                     const std::vector<std::vector<int>>& lost,
                                     const std::vector<int>& wanted) {
  const std::size_t k = b_.codec().k(), m = b_.codec().m(), n = k + m, w = wanted.size();
  auto original = [&](std::size_t st, std::size_t shard) -> const std::uint8_t* {
    return shard < k ? data[st * k + shard] : parity[st * m + shard - k];
  };
  std::string what = "reconstruct " + OwnName(len) + ", lost shards";
  std::vector<const std::uint8_t*> shards(kStripes * n);
  for (std::size_t st = 0; st < kStripes; ++st) {
    what += (st == 0 ? " " : " / ") + List(lost[st]);
    for (std::size_t i = 0; i < n; ++i) shards[st * n + i] = original(st, i);
    for (int i : lost[st]) shards[st * n + i] = nullptr;
  }
  what += " (stripes 0 / 1 / 2), wanted " + List(wanted);
  Blocks out(kStripes * w, len);
  Status s = b_.Reconstruct({kStripes, len, shards, wanted, out.ptrs()});
  if (!s.ok()) return what + " returned " + s.ToString();
  for (std::size_t i = 0; i < kStripes * w; ++i) {
    const std::size_t st = i / w, shard = static_cast<std::size_t>(wanted[i % w]);
    auto at = [&] { return what + ", stripe " + Str(st) + ", shard " + Str(shard); };
    if (std::string f = Compare(out[i], original(st, shard), len, at); !f.empty()) return f;
  }
  if (std::size_t t = out.Trampled(); t != kNone)
    return what + ": wrote outside its output blocks, next to output block " + Str(t);
  return "";
}

std::string BackendSelfTest::Fixed(const FixedShape& shape) {
  const std::size_t k = shape.k, r = shape.r, len = shape.len, stripes = kFixedStripes;
  const std::string name =
      Str(r) + " x " + Str(k) + " fixed coefficients, block " + Str(len) + " bytes";
  GfMatrix rows(r, k);
  Bytes coefficients(k * 31 + r);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < k; ++j) rows.at(i, j) = coefficients.Next();
  rows.at(0, 0) = 0;  // the edge coefficients 0 and 1
  rows.at(r - 1, k - 1) = 1;
  Blocks in(stripes * k, len), want(stripes * r, len);
  in.Fill(k * 1009 + r * 17 + len);
  const auto inputs = in.const_ptrs();
  MatrixApply work{&rows, stripes, len, inputs.data(), want.ptrs().data()};
  Status s = ref_->Apply(work);
  if (!s.ok()) return "the reference backend's matrix apply, " + name + ": " + s.ToString();

  for (bool crcs : {false, true}) {
    const std::string what = (crcs ? "matrix apply with block CRCs, " : "matrix apply, ") + name;
    Blocks out(stripes * r, len);
    work.outputs = out.ptrs().data();
    std::vector<std::uint32_t> block_crcs(crcs ? stripes * (k + r) : 0);
    s = crcs ? b_.ApplyWithCrcs(work, block_crcs) : b_.Apply(work);
    if (!s.ok()) return what + " returned " + s.ToString();
    for (std::size_t i = 0; i < stripes * r; ++i) {
      auto at = [&] { return what + ", stripe " + Str(i / r) + ", output " + Str(i % r); };
      if (std::string f = Compare(out[i], want[i], len, at); !f.empty()) return f;
    }
    if (std::size_t t = out.Trampled(); t != kNone)
      return what + ": wrote outside its output blocks, next to output block " + Str(t);
    for (std::size_t i = 0; i < block_crcs.size(); ++i) {
      const std::size_t st = i / (k + r), b = i % (k + r);
      const std::uint8_t* block = b < k ? in[st * k + b] : want[st * r + b - k];
      auto at = [&] { return what + ", stripe " + Str(st) + ", block " + Str(b); };
      if (std::string f = CompareCrc(block_crcs[i], block, len, at); !f.empty()) return f;
    }
  }
  return "";
}

Status SelfTestBackend(Backend& backend, std::string_view host_detail) {
  const std::string failure = BackendSelfTest(backend).Run();
  if (failure.empty()) return Status::Ok();
  return Status::Unavailable(
      "backend '" + std::string(backend.name()) +
      "' failed its known-answer self-test and refuses to start: " + failure +
      "; runs on: " + std::string(host_detail) + "; CPU features: " + CpuFeatureDescription() +
      "; compiler: " + CompilerDescription());
}

std::string CompilerDescription() {
#if defined(__clang__)
  std::string s = "clang " __clang_version__;
#elif defined(__GNUC__)
  std::string s = "GCC " __VERSION__;
#else
  std::string s = "compiler " __VERSION__;
#endif
  while (!s.empty() && s.back() == ' ') s.pop_back();
#ifdef FLS_CUDA_COMPILER_VERSION
  s += ", nvcc " FLS_CUDA_COMPILER_VERSION;
#endif
  return s;
}

std::string CpuFeatureDescription() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  std::string s;
  auto add = [&s](const char* name, bool has) {
    if (!has) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add("sse4.2", __builtin_cpu_supports("sse4.2"));
  add("pclmul", __builtin_cpu_supports("pclmul"));
  add("avx2", __builtin_cpu_supports("avx2"));
  add("avx512f", __builtin_cpu_supports("avx512f"));
  add("avx512bw", __builtin_cpu_supports("avx512bw"));
  add("avx512vl", __builtin_cpu_supports("avx512vl"));
#if FLS_HAVE_GFNI  // compilers that build the gfni kernels know these names
  add("gfni", __builtin_cpu_supports("gfni"));
  add("vpclmulqdq", __builtin_cpu_supports("vpclmulqdq"));
#endif
  const BackendEntry gfni = GfniBackendEntry();
  if (gfni.compiled) {
    std::string probe;
    if (!gfni.probe(&probe)) probe = "unusable, " + probe;
    s += "; gfni probe: " + probe;
  }
  return s.empty() ? "x86-64 baseline" : s;
#else
  return "not x86-64";
#endif
}

}  // namespace fls
