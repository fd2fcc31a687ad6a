// libFuzzer target: ParseServiceConfig on arbitrary YAML text. An accepted
// config's store section must survive its JSON round trip (the broker sends
// it to workers that way).
#include <cstdint>
#include <string>

#include "fls/service/config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fls::service::ServiceConfig config;
  const fls::Status s = fls::service::ParseServiceConfig(text, "fuzz.yaml", &config);
  if (!s.ok()) {
    FLS_FUZZ_CHECK(!s.ToString().empty());
    return 0;
  }
  fls::service::StoreConfig again;
  FLS_FUZZ_CHECK(fls::service::StoreConfig::FromJson(config.store.ToJson(), &again).ok());
  FLS_FUZZ_CHECK(again.ToJson() == config.store.ToJson());
  (void)fls::service::IsLoopbackEndpoint(config.client_endpoint);
  return 0;
}
