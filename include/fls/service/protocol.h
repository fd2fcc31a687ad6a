// The wire protocol of the job service (docs/PROTOCOL.md is the specification;
// this file is its parser and builder). Pure functions over frames, so the
// parsers can be unit-tested and fuzzed without sockets.
//
// Client request (DEALER or REQ -> broker ROUTER), after the ROUTER's identity:
//   [""] [FLS-CLIENT/1] [VERB] [JSON body]          the empty delimiter is optional
// Reply: the same envelope, then [FLS-CLIENT/1] ["OK" | "ERROR"] [JSON body].
// Worker messages (DEALER <-> ROUTER), Majordomo style:
//   [""] [FLS-WORKER/1] [COMMAND] [JSON body]       body optional for HEARTBEAT
// Events (PUB): [FLS-EVENT/1] [topic "job.<id>"] [JSON body]
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fls::service {

inline constexpr std::string_view kClientProtocol = "FLS-CLIENT/1";
inline constexpr std::string_view kWorkerProtocol = "FLS-WORKER/1";
inline constexpr std::string_view kEventProtocol = "FLS-EVENT/1";

// Error codes carried in ERROR replies ({"code": ..., "message": ...}).
namespace errc {
inline constexpr const char* kBadFrames = "bad_frames";      // missing or extra frames
inline constexpr const char* kBadProtocol = "bad_protocol";  // wrong name or version
inline constexpr const char* kTooLarge = "too_large";        // above max_message_bytes
inline constexpr const char* kBadJson = "bad_json";          // body is not a JSON object
inline constexpr const char* kUnknownVerb = "unknown_verb";
inline constexpr const char* kBadRequest = "bad_request";      // a field missing or wrong
inline constexpr const char* kPathRejected = "path_rejected";  // outside the allowed roots
inline constexpr const char* kNotFound = "not_found";          // no such job
inline constexpr const char* kConflict = "conflict";           // e.g. CLOSE of a running job
inline constexpr const char* kInternal = "internal";           // journal failure: a bug or I/O
}  // namespace errc

struct ProtocolError {
  std::string code;
  std::string message;
};

// Client verbs.
inline constexpr std::string_view kVerbs[] = {"SUBMIT", "STATUS", "LIST", "CANCEL",
                                              "CLOSE",  "PING",   "STATS"};

// The longest a STATUS may be held with `wait_ms` (PROTOCOL.md, STATUS): a
// client's reply timeout must cover it, so it stays well below a minute.
inline constexpr std::int64_t kMaxStatusWaitMs = 30000;

struct ClientRequest {
  std::string verb;
  nlohmann::json body;  // always an object
};

// `frames` excludes the ROUTER identity frame. On success fills `request` and
// `delimited` (whether the optional empty delimiter was present, so that the
// reply can mirror it). On failure fills `error` and returns false.
bool ParseClientRequest(const std::vector<std::string>& frames, std::uint64_t max_bytes,
                        ClientRequest* request, bool* delimited, ProtocolError* error);

// Validates the body of a request with a known verb: required fields, types
// and ranges (paths are checked later, against the roots). A SUBMIT body is
// a job spec (fls/service/jobs.h); its lists are held to `max_items`.
bool ValidateClientBody(const ClientRequest& request, int max_items, ProtocolError* error);

// Reply frames (without identity/delimiter).
std::vector<std::string> OkReply(const nlohmann::json& body);
std::vector<std::string> ErrorReply(const ProtocolError& error);

struct WorkerMessage {
  std::string command;  // READY HEARTBEAT PROGRESS REPLY DISCONNECT (worker -> broker)
                        // REQUEST HEARTBEAT CANCEL DISCONNECT (broker -> worker)
  nlohmann::json body;  // an object; empty object when the frame was absent
};

// Parses a worker-side message (without identity). False with `error` filled
// for a malformed one; the broker then drops it and logs the error.
bool ParseWorkerMessage(const std::vector<std::string>& frames, std::uint64_t max_bytes,
                        WorkerMessage* message, ProtocolError* error);
std::vector<std::string> WorkerFrames(std::string_view command,
                                      const nlohmann::json& body = nlohmann::json::object());

std::vector<std::string> EventFrames(std::int64_t job_id, const nlohmann::json& body);

}  // namespace fls::service
