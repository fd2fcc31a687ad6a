#include "fls/service/protocol.h"

#include <algorithm>

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

bool StringList(const nlohmann::json& b, const char* key, bool required, int max_items,
                ProtocolError* error) {
  if (!b.contains(key)) {
    if (required)
      return Fail(error, errc::kBadRequest, std::string("field '") + key + "' is required");
    return true;
  }
  const auto& v = b[key];
  if (!v.is_array())
    return Fail(error, errc::kBadRequest,
                std::string("field '") + key + "' must be a list of strings");
  if (required && v.empty())
    return Fail(error, errc::kBadRequest, std::string("field '") + key + "' must not be empty");
  if (v.size() > static_cast<std::size_t>(max_items))
    return Fail(error, errc::kTooLarge,
                std::string("field '") + key + "' has " + std::to_string(v.size()) +
                    " entries; the limit is " + std::to_string(max_items));
  for (const auto& s : v)
    if (!s.is_string() || s.get_ref<const std::string&>().empty() ||
        s.get_ref<const std::string&>().find('\0') != std::string::npos)
      return Fail(error, errc::kBadRequest,
                  std::string("field '") + key + "' must hold non-empty strings");
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
  // SUBMIT
  if (!b.contains("kind") || !b["kind"].is_string())
    return Fail(error, errc::kBadRequest,
                "field 'kind' is required (archive, restore, verify, repair, stats)");
  const std::string& kind = b["kind"].get_ref<const std::string&>();
  if (std::find(std::begin(kJobKinds), std::end(kJobKinds), kind) == std::end(kJobKinds))
    return Fail(error, errc::kBadRequest, "unknown job kind '" + kind.substr(0, 32) + "'");
  if (kind == "archive") {
    if (!StringList(b, "paths", true, max_items, error)) return false;
    for (const char* key : {"k", "m"})
      if (b.contains(key) && (!b[key].is_number_integer() || b[key].get<std::int64_t>() < 1 ||
                              b[key].get<std::int64_t>() > 255))
        return Fail(error, errc::kBadRequest, std::string("field '") + key + "' must be 1 to 255");
    if (b.contains("name_prefix") && !b["name_prefix"].is_string())
      return Fail(error, errc::kBadRequest, "field 'name_prefix' must be a string");
    if (b.contains("checksum") && !b["checksum"].is_boolean())
      return Fail(error, errc::kBadRequest, "field 'checksum' must be true or false");
  } else if (kind == "restore") {
    if (!StringList(b, "objects", true, max_items, error)) return false;
    if (!b.contains("output") || !b["output"].is_string())
      return Fail(error, errc::kBadRequest,
                  "field 'output' (a directory under an output root) is required");
  } else if (kind == "verify" || kind == "repair") {
    if (!StringList(b, "objects", false, max_items, error)) return false;
    if (b.contains("deep") && !b["deep"].is_boolean())
      return Fail(error, errc::kBadRequest, "field 'deep' must be true or false");
    if (b.contains("sweep")) {
      const auto& sw = b["sweep"];
      if (kind != "repair" || !sw.is_object())
        return Fail(error, errc::kBadRequest, "field 'sweep' is an object of repair jobs only");
      for (const auto& [key, v] : sw.items()) {
        if ((key == "verify_only" || key == "deep") && v.is_boolean()) continue;
        if (key == "rate_bytes_per_s" && v.is_number_unsigned()) continue;
        return Fail(error, errc::kBadRequest,
                    "field 'sweep." + key.substr(0, 32) +
                        "' unknown or mistyped (verify_only, deep: booleans; rate_bytes_per_s: "
                        "a non-negative integer)");
      }
    }
  }
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
