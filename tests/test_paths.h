// Where the tests find the `fls` executable and tests/data/, decided at run
// time rather than compiled in: an absolute build path in a -D flag would
// make every test object differ between two clones of the repository, and CI
// (a fresh clone on the same machine each time) could never hit the compiler
// cache for them.
//   FLS_BINARY         $FLS_BINARY, else `fls` in the parent directory of the
//                      running test executable (build/tests/x -> build/fls)
//   FLS_TEST_DATA_DIR  $FLS_TEST_DATA_DIR (CTest sets it), else tests/data
//                      two levels above the test executable (build/ inside the
//                      source tree)
// Thread-safety: the paths are computed once, on first use, under a static
// initializer.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace fls::testing {

inline std::string TestExecutableDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<std::size_t>(n));
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

inline std::string PathFromEnvOr(const char* var, const std::string& fallback) {
  const char* v = std::getenv(var);
  std::string path = v != nullptr && *v != 0 ? std::string(v) : fallback;
  if (::access(path.c_str(), F_OK) != 0)
    std::fprintf(stderr, "test_paths: %s = %s does not exist (set %s)\n", var, path.c_str(), var);
  return path;
}

inline const char* FlsBinaryPath() {
  static const std::string path = PathFromEnvOr("FLS_BINARY", TestExecutableDir() + "/../fls");
  return path.c_str();
}

inline const char* TestDataDir() {
  static const std::string path =
      PathFromEnvOr("FLS_TEST_DATA_DIR", TestExecutableDir() + "/../../tests/data");
  return path.c_str();
}

}  // namespace fls::testing

#define FLS_BINARY (::fls::testing::FlsBinaryPath())
#define FLS_TEST_DATA_DIR (::fls::testing::TestDataDir())
