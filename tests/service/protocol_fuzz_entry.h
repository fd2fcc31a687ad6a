// One fuzz input through every parser of the job-service protocol: the
// bytes are cut into frames at each 0xFF byte, then fed to the client and
// worker parsers and body validation, and whole to the pack-index parser.
// Used by a GoogleTest that replays a deterministic random corpus (the
// libFuzzer targets for these parsers are fuzz/protocol_fuzz.cc and
// fuzz/pack_index_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fls/service/protocol.h"
#include "fls/pack.h"

namespace fls::service::testing {

inline void FuzzProtocolInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> frames(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0xFF)
      frames.emplace_back();
    else
      frames.back().push_back(static_cast<char>(data[i]));
  }
  ClientRequest r;
  bool delimited = false;
  ProtocolError e;
  if (ParseClientRequest(frames, 1 << 20, &r, &delimited, &e)) ValidateClientBody(r, 100, &e);
  WorkerMessage w;
  ParseWorkerMessage(frames, 1 << 20, &w, &e);
  std::vector<PackEntry> entries;
  std::uint64_t needed = 0;
  const std::string whole(reinterpret_cast<const char*>(data), size);
  ParsePackTail(whole, whole.size(), "fuzz", &entries, &needed);
}

}  // namespace fls::service::testing
