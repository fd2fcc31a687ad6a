#include "store_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "fls/byte_size.h"

namespace fls::bench {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const char* suffix) {
  const std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string KindOf(const fs::path& p, bool dir) {
  if (dir) return "dir";
  const std::string name = p.filename().string();
  if (EndsWith(name, ".chunk")) return "chunk";
  if (EndsWith(name, ".manifest")) return "manifest";
  if (EndsWith(name, ".member")) return "member";
  // The targets' control files: identities are measured apart by the space
  // bench; the temporaries-scan marker is empty (no data block).
  if (name.rfind(".fls-", 0) == 0) return "control";
  return "other";
}

Status Add(const fs::path& p, SpaceUsage* u) {
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0)
    return Status::IOError("lstat " + p.string() + ": " + std::strerror(errno));
  KindUsage& k = u->kinds[KindOf(p, S_ISDIR(st.st_mode))];
  const std::uint64_t alloc = static_cast<std::uint64_t>(st.st_blocks) * 512;
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  ++k.entries;
  k.allocated += alloc;
  k.apparent += size;
  u->allocated += alloc;
  u->apparent += size;
  if (!S_ISDIR(st.st_mode)) ++u->files;
  return Status::Ok();
}

}  // namespace

Status WriteSeededFile(const std::string& path, std::uint64_t size, std::uint64_t seed) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot create '" + path + "'");
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::vector<std::uint64_t> buf(1 << 17);  // 1 MiB
  for (std::uint64_t left = size; left > 0;) {
    const std::uint64_t n = std::min<std::uint64_t>(left, buf.size() * 8);
    for (std::size_t i = 0; i < (n + 7) / 8; ++i) buf[i] = rng();
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    left -= n;
  }
  out.close();
  return out ? Status::Ok() : Status::IOError("cannot write '" + path + "'");
}

nlohmann::json SpaceUsage::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, k] : kinds)
    j[name] = {{"entries", k.entries}, {"allocated", k.allocated}, {"apparent", k.apparent}};
  return j;
}

SpaceUsage SpaceUsage::Since(const SpaceUsage& before) const {
  auto minus = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  SpaceUsage d;
  for (const auto& [name, k] : kinds) {
    KindUsage b;
    if (auto it = before.kinds.find(name); it != before.kinds.end()) b = it->second;
    d.kinds[name] = {minus(k.entries, b.entries), minus(k.allocated, b.allocated),
                     minus(k.apparent, b.apparent)};
    d.allocated += d.kinds[name].allocated;
    d.apparent += d.kinds[name].apparent;
  }
  d.files = minus(files, before.files);
  return d;
}

Status MeasureSpace(const std::vector<std::string>& roots, SpaceUsage* u) {
  *u = SpaceUsage();
  for (const std::string& root : roots) {
    std::error_code ec;
    if (!fs::exists(root, ec)) continue;  // a target the command never created
    FLS_RETURN_IF_ERROR(Add(root, u));
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) FLS_RETURN_IF_ERROR(Add(it->path(), u));
    if (ec) return Status::IOError("walking " + root + ": " + ec.message());
  }
  return Status::Ok();
}

Status CompareFiles(const std::string& expected, const std::string& actual) {
  std::ifstream a(expected, std::ios::binary), b(actual, std::ios::binary);
  if (!a) return Status::IOError("cannot open '" + expected + "'");
  if (!b) return Status::IOError("cannot open restored file '" + actual + "'");
  std::vector<char> x(1 << 20), y(1 << 20);
  for (std::uint64_t off = 0;;) {
    a.read(x.data(), static_cast<std::streamsize>(x.size()));
    b.read(y.data(), static_cast<std::streamsize>(y.size()));
    const std::size_t na = static_cast<std::size_t>(a.gcount());
    const std::size_t nb = static_cast<std::size_t>(b.gcount());
    const std::size_t n = std::min(na, nb);
    const auto diff = std::mismatch(x.begin(), x.begin() + n, y.begin());
    if (diff.first != x.begin() + n)
      return Status::Corruption("'" + actual + "' differs from '" + expected + "' at byte " +
                                std::to_string(off + (diff.first - x.begin())));
    if (na != nb)
      return Status::Corruption("'" + actual + "' is " + (na > nb ? "shorter" : "longer") +
                                " than '" + expected + "' (from byte " + std::to_string(off + n) +
                                ")");
    if (na == 0) return Status::Ok();
    off += n;
  }
}

Status ParseSizeSum(const std::string& text, std::uint64_t* bytes) {
  const auto plus = text.find('+');
  std::uint64_t base = 0, extra = 0;
  FLS_RETURN_IF_ERROR(ParseByteSize(text.substr(0, plus), &base));
  if (plus != std::string::npos) {
    const std::string rest = text.substr(plus + 1);
    if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos ||
        rest.size() > 18)
      return Status::InvalidArgument("'" + text + "' is not SIZE or SIZE+N (e.g. 1M+1)");
    extra = std::stoull(rest);
  }
  *bytes = base + extra;
  return Status::Ok();
}

}  // namespace fls::bench
