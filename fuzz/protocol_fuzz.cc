// libFuzzer target: the service's wire decoders. The input is split into
// frames at "\n--\n"; the first byte chooses the decoder (client request,
// worker message, or StoreConfig::FromJson on a REQUEST body as a worker
// receives it). Errors must carry a code and a message.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/service/config.h"
#include "fls/service/protocol.h"
#include "fuzz_util.h"

using fls::service::ProtocolError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0] % 3;
  const std::vector<std::string> frames = fls::fuzz::SplitFrames(data + 1, size - 1);
  constexpr std::uint64_t kMaxBytes = 1 << 16;
  if (selector == 0) {
    fls::service::ClientRequest request;
    bool delimited = false;
    ProtocolError error;
    if (!fls::service::ParseClientRequest(frames, kMaxBytes, &request, &delimited, &error)) {
      FLS_FUZZ_CHECK(!error.code.empty() && !error.message.empty());
      (void)fls::service::ErrorReply(error);
      return 0;
    }
    FLS_FUZZ_CHECK(request.body.is_object());
    ProtocolError body_error;
    if (!fls::service::ValidateClientBody(request, 100, &body_error))
      FLS_FUZZ_CHECK(!body_error.code.empty() && !body_error.message.empty());
    (void)fls::service::OkReply(request.body);
  } else if (selector == 1) {
    fls::service::WorkerMessage message;
    ProtocolError error;
    if (!fls::service::ParseWorkerMessage(frames, kMaxBytes, &message, &error)) {
      FLS_FUZZ_CHECK(!error.code.empty() && !error.message.empty());
      return 0;
    }
    FLS_FUZZ_CHECK(message.body.is_object());
    (void)fls::service::WorkerFrames(message.command, message.body);
  } else {
    const nlohmann::json j = nlohmann::json::parse(frames[0], nullptr, false);
    if (j.is_discarded()) return 0;
    fls::service::StoreConfig config;
    const fls::Status s = fls::service::StoreConfig::FromJson(j, &config);
    if (!s.ok()) FLS_FUZZ_CHECK(!s.ToString().empty());
  }
  return 0;
}
