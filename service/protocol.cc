#include "fls/service/protocol.h"

#include <algorithm>

#include "fls/service/jobs.h"

namespace fls::service {
namespace {

bool Fail(ProtocolError* error, const char* code, std::string message) {
  error->code = code;
  error->message = std::move(message);
  return false;
}

bool ParseBody(const std::string& text, nlohmann::json* body, ProtocolError* error) {
  if (text.empty()) {
    *body = nlohmann::json::object();
    return true;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(error, errc::kBadJson, "body is not valid JSON");
  if (!j.is_object()) return Fail(error, errc::kBadJson, "body must be a JSON object");
  *body = std::move(j);
  return true;
}

bool RequireJobId(const nlohmann::json& b, ProtocolError* error) {
  if (!b.contains("job_id")) return Fail(error, errc::kBadRequest, "field 'job_id' is required");
  if (!b["job_id"].is_number_integer() || b["job_id"].get<std::int64_t>() < 1)
    return Fail(error, errc::kBadRequest, "field 'job_id' must be a positive integer");
  return true;
}

}  // namespace

bool ParseClientRequest(const std::vector<std::string>& frames, std::uint64_t max_bytes,
                        ClientRequest* request, bool* delimited, ProtocolError* error) {
  // Known before anything else, so that even an error reply mirrors it.
  *delimited = !frames.empty() && frames[0].empty();
  std::uint64_t total = 0;
  for (const auto& f : frames) total += f.size();
  if (total > max_bytes)
    return Fail(error, errc::kTooLarge,
                "message of " + std::to_string(total) + " bytes is above the limit of " +
                    std::to_string(max_bytes));
  std::size_t i = 0;
  if (*delimited) i = 1;
  if (frames.size() - i < 2)
    return Fail(
        error, errc::kBadFrames,
        "a request needs frames [\"\"] [" + std::string(kClientProtocol) + "] [VERB] [BODY]");
  if (frames.size() - i > 3)
    return Fail(error, errc::kBadFrames, "a request has at most 3 frames after the delimiter");
  if (frames[i] != kClientProtocol) {
    if (frames[i].rfind("FLS-CLIENT/", 0) == 0)
      return Fail(error, errc::kBadProtocol,
                  "protocol version '" + frames[i].substr(0, 32) + "' is not supported (this is " +
                      std::string(kClientProtocol) + ")");
    return Fail(error, errc::kBadProtocol,
                "first frame must be '" + std::string(kClientProtocol) + "'");
  }
  const std::string& verb = frames[i + 1];
  if (std::find(std::begin(kVerbs), std::end(kVerbs), verb) == std::end(kVerbs))
    return Fail(error, errc::kUnknownVerb, "unknown verb '" + verb.substr(0, 32) + "'");
  request->verb = verb;
  return ParseBody(frames.size() - i == 3 ? frames[i + 2] : std::string(), &request->body, error);
}

bool ValidateClientBody(const ClientRequest& r, int max_items, ProtocolError* error) {
  const auto& b = r.body;
  if (r.verb == "PING" || r.verb == "STATS") return true;
  if (r.verb == "STATUS" || r.verb == "CANCEL" || r.verb == "CLOSE") {
    if (!RequireJobId(b, error)) return false;
    if (r.verb == "STATUS" && b.contains("files") && !b["files"].is_boolean())
      return Fail(error, errc::kBadRequest, "field 'files' must be true or false");
    if (r.verb == "STATUS" && b.contains("wait_ms") &&
        (!b["wait_ms"].is_number_integer() || b["wait_ms"].get<std::int64_t>() < 0 ||
         b["wait_ms"].get<std::int64_t>() > kMaxStatusWaitMs))
      return Fail(
          error, errc::kBadRequest,
          "field 'wait_ms' must be an integer from 0 to " + std::to_string(kMaxStatusWaitMs));
    return true;
  }
  if (r.verb == "LIST") {
    if (b.contains("state") && !b["state"].is_string())
      return Fail(error, errc::kBadRequest, "field 'state' must be a string");
    if (b.contains("limit") &&
        (!b["limit"].is_number_integer() || b["limit"].get<std::int64_t>() < 1 ||
         b["limit"].get<std::int64_t>() > 100000))
      return Fail(error, errc::kBadRequest, "field 'limit' must be an integer from 1 to 100000");
    return true;
  }
  // SUBMIT: a job spec. Its list is held to the limit before its entries
  // are read, so that an oversized one is too_large whatever it holds.
  if (!b.contains("kind") || !b["kind"].is_string())
    return Fail(error, errc::kBadRequest, "field 'kind' is required (" + JobKindList() + ")");
  JobKind kind;
  if (Status s = ParseJobKind(b["kind"].get_ref<const std::string&>(), &kind); !s.ok())
    return Fail(error, errc::kBadRequest, s.message());
  const char* list = kind == JobKind::kArchive ? "paths" : "objects";
  if (b.contains(list) && b[list].is_array() &&
      b[list].size() > static_cast<std::size_t>(max_items))
    return Fail(error, errc::kTooLarge,
                std::string("field '") + list + "' has " + std::to_string(b[list].size()) +
                    " entries; the limit is " + std::to_string(max_items));
  JobSpec spec;
  if (Status s = JobSpecFromJson(kind, b, &spec); !s.ok())
    return Fail(error, errc::kBadRequest, s.message());
  return true;
}

std::vector<std::string> OkReply(const nlohmann::json& body) {
  return {std::string(kClientProtocol), "OK", body.dump()};
}

std::vector<std::string> ErrorReply(const ProtocolError& error) {
  nlohmann::json body = {{"code", error.code}, {"message", error.message}};
  return {std::string(kClientProtocol), "ERROR",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

bool ParseWorkerMessage(const std::vector<std::string>& frames, std::uint64_t max_bytes,
                        WorkerMessage* message, ProtocolError* error) {
  std::uint64_t total = 0;
  for (const auto& f : frames) total += f.size();
  if (total > max_bytes) return Fail(error, errc::kTooLarge, "worker message too large");
  if (frames.size() < 3 || frames.size() > 4 || !frames[0].empty())
    return Fail(error, errc::kBadFrames, "worker message needs [\"\"] [protocol] [command] [body]");
  if (frames[1] != kWorkerProtocol)
    return Fail(error, errc::kBadProtocol,
                "first frame must be '" + std::string(kWorkerProtocol) + "'");
  message->command = frames[2];
  return ParseBody(frames.size() == 4 ? frames[3] : std::string(), &message->body, error);
}

std::vector<std::string> WorkerFrames(std::string_view command, const nlohmann::json& body) {
  return {std::string(), std::string(kWorkerProtocol), std::string(command),
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

std::vector<std::string> EventFrames(std::int64_t job_id, const nlohmann::json& body) {
  return {std::string(kEventProtocol), "job." + std::to_string(job_id),
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace fls::service
