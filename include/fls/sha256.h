// Sha256: incremental SHA-256 through OpenSSL's EVP interface.
// Thread-safety: one object per thread.
#pragma once

#include <cstddef>
#include <string>

namespace fls {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, std::size_t n);
  // 64 lower-case hex digits; the object is spent afterwards.
  std::string FinishHex();

 private:
  void* ctx_;
};

}  // namespace fls
