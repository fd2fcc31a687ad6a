// libFuzzer target for the job-service protocol and pack-index parsers.
// Build: cmake -DFLS_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && build/tests/protocol_fuzzer
#include "tests/service/protocol_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fls::service::testing::FuzzProtocolInput(data, size);
  return 0;
}
