// The broker's client side: each request on the client ROUTER is parsed,
// validated, answered and, when refused, logged; SUBMIT turns a job spec
// (fls/service/jobs.h) into journalled items and leases.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "broker.h"
#include "fls/service/job_executor.h"
#include "fls/service/zmq_util.h"

namespace fls::service {

ProtocolError FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return {errc::kNotFound, s.message()};
    case Status::Code::kInvalidArgument:
      return {errc::kBadRequest, s.message()};
    default:
      return {errc::kInternal, s.ToString()};
  }
}

namespace {

// An object name a client may give to restore: it becomes a relative path
// under the output directory, so it must not climb out of it.
bool SafeObjectName(const std::string& name) {
  if (name.empty() || name[0] == '/' || name.find('\0') != std::string::npos) return false;
  for (const auto& part : std::filesystem::path(name))
    if (part == "..") return false;
  return true;
}

}  // namespace

void Broker::HandleClient() {
  std::vector<std::string> frames;
  MessageSource source;
  for (int n = 0; n < 256 && RecvFrames(*clients_, &frames, true, &source); ++n) {
    if (frames.empty()) continue;
    monitor_.Note(source.fd);
    const std::string identity = frames[0];
    std::vector<std::string> rest(frames.begin() + 1, frames.end());
    ClientRequest request;
    bool delimited = false;
    ProtocolError error;
    std::vector<std::string> reply;
    if (!ParseClientRequest(rest, config_.max_message_bytes, &request, &delimited, &error) ||
        !ValidateClientBody(request, config_.max_files_per_job, &error)) {
      reply = ErrorReply(error);
    } else if (request.verb == "STATUS" && HoldStatus(identity, delimited, request.body)) {
      continue;  // answered when the job ends or the wait is over
    } else {
      bool ok = true;
      nlohmann::json body;
      try {
        body = HandleRequest(request, &error, &ok);
      } catch (const std::exception& e) {
        // Validation should have caught it; never let a request take the
        // service down.
        ok = false;
        error = {errc::kInternal, std::string("request failed: ") + e.what()};
        spdlog::error("client {} request: {}", request.verb, e.what());
      }
      reply = ok ? OkReply(body) : ErrorReply(error);
    }
    if (reply.size() > 1 && reply[1] == "ERROR") LogRefusal(identity, source, rest, error);
    ReplyToClient(identity, delimited, reply);
  }
}

void Broker::ReplyToClient(const std::string& identity, bool delimited,
                           const std::vector<std::string>& reply) {
  std::vector<std::string> out = {identity};
  if (delimited) out.emplace_back();
  out.insert(out.end(), reply.begin(), reply.end());
  int err = 0;
  if (!SendFrames(*clients_, out, &err))
    spdlog::debug("reply to a client that left: {}", zmq_strerror(err));
}

void Broker::LogRefusal(const std::string& identity, const MessageSource& source,
                        const std::vector<std::string>& frames, const ProtocolError& error) {
  // The verb as sent: the frame after the protocol frame (after the optional
  // delimiter), or "-" when the message was too short to have one.
  std::size_t i = !frames.empty() && frames[0].empty() ? 1 : 0;
  const std::string verb = frames.size() > i + 1 ? LogSafe(frames[i + 1], 32) : "-";
  std::string peer = monitor_.PeerOf(source.fd);
  if (peer.empty()) peer = source.peer_address.empty() ? "in-process" : source.peer_address;
  std::string id_hex;
  for (unsigned char c : identity.substr(0, 16)) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", c);
    id_hex += h;
  }
  spdlog::warn("refused {} from {} (routing id {}): {}: {}", verb, peer, id_hex, error.code,
               LogSafe(error.message, 400));
}

nlohmann::json Broker::HandleRequest(const ClientRequest& r, ProtocolError* error, bool* ok) {
  const auto& b = r.body;
  *ok = false;
  if (r.verb == "PING") {
    *ok = true;
    // The limits, so that a client can check a request before sending it: a
    // frame above 4 x max_message_bytes never gets an answer (PROTOCOL.md).
    return {{"pong", true},
            {"version", FLS_VERSION},
            {"pid", ::getpid()},
            {"max_message_bytes", config_.max_message_bytes},
            {"max_files_per_job", config_.max_files_per_job}};
  }
  if (r.verb == "STATS") {
    *ok = true;
    return StatsBody();
  }
  if (r.verb == "SUBMIT") {
    nlohmann::json reply;
    *ok = Submit(b, &reply, error);
    return reply;
  }
  if (r.verb == "LIST") {
    std::vector<JobRecord> jobs;
    Status s = journal_->List(b.value("state", std::string()), b.value("limit", 100), &jobs);
    if (!s.ok()) {
      *error = FromStatus(s);
      return {};
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& j : jobs) list.push_back(j.ToJson(false));
    *ok = true;
    return {{"jobs", list}};
  }
  const std::int64_t id = b["job_id"].get<std::int64_t>();
  if (r.verb == "STATUS") {
    JobRecord job;
    Status s = journal_->Get(id, b.value("files", false), &job);
    if (!s.ok()) {
      *error = FromStatus(s);
      return {};
    }
    *ok = true;
    return job.ToJson(b.value("files", false));
  }
  if (r.verb == "CANCEL") {
    bool now = false;
    Status s = journal_->RequestCancel(id, &now);
    if (!s.ok()) {
      *error = s.code() == Status::Code::kInvalidArgument
                   ? ProtocolError{errc::kConflict, s.message()}
                   : FromStatus(s);
      return {};
    }
    if (now) {
      Publish(id, {{"state", "cancelled"}});
    } else {
      for (auto& [key, w] : workers_)
        if (w.job_id == id) SendToWorker(w, "CANCEL", {{"job_id", id}});
    }
    *ok = true;
    return {{"job_id", id}, {"state", now ? "cancelled" : "cancelling"}};
  }
  // CLOSE
  Status s = journal_->Close(id);
  if (!s.ok()) {
    *error = s.code() == Status::Code::kInvalidArgument
                 ? ProtocolError{errc::kConflict, s.message()}
                 : FromStatus(s);
    return {};
  }
  *ok = true;
  return {{"job_id", id}, {"closed", true}};
}

bool Broker::Submit(const nlohmann::json& body, nlohmann::json* reply, ProtocolError* error) {
  JobSpec spec;
  if (Status s = JobSpecFromJson(body, &spec); !s.ok()) {
    *error = {errc::kBadRequest, s.message()};
    return false;
  }
  JobPlan plan;
  if (!std::visit([&](auto& kind_spec) { return Plan(&kind_spec, &plan, error); }, spec))
    return false;
  const std::size_t max_items = static_cast<std::size_t>(config_.max_files_per_job);
  if (plan.items.size() > max_items) {
    *error = {errc::kTooLarge, "job has " + std::to_string(plan.items.size()) +
                                   " items; the limit is " + std::to_string(max_items)};
    return false;
  }
  const std::string kind(JobKindName(KindOf(spec)));
  std::int64_t id = 0;
  Status s = journal_->Submit(kind, JobSpecToJson(spec), plan.items, plan.leases, &id);
  if (!s.ok()) {
    spdlog::error("SUBMIT not journalled: {}", s.ToString());
    *error = FromStatus(s);
    return false;
  }
  spdlog::info("job {} queued: {} with {} item(s)", id, kind, plan.items.size());
  Publish(id, {{"state", "queued"}, {"kind", kind}, {"items_total", plan.items.size()}});
  dispatch_needed_ = true;
  *reply = {{"job_id", id}, {"state", "queued"}, {"items", plan.items.size()}};
  return true;
}

// Archive: every path resolved below a source root and walked; one item per
// file, one lease per object name.
bool Broker::Plan(ArchiveSpec* spec, JobPlan* plan, ProtocolError* error) {
  const std::size_t max_items = static_cast<std::size_t>(config_.max_files_per_job);
  const std::string prefix = spec->name_prefix.value_or(std::string());
  if (!prefix.empty() && (prefix[0] == '/' || !SafeObjectName(prefix + "x"))) {
    *error = {errc::kBadRequest,
              "name_prefix '" + prefix + "' must not be absolute or contain '..'"};
    return false;
  }
  if (Status c = CheckControlCharacters(prefix); !c.ok()) {
    *error = {errc::kBadRequest, "name_prefix: " + c.message()};
    return false;
  }
  std::vector<std::string>& items = plan->items;
  std::vector<std::string> resolved_paths;
  for (const std::string& p : spec->paths) {
    std::string resolved;
    Status s = policy_.ResolveSource(p, &resolved);
    if (s.ok())
      s = policy_.ExpandSource(resolved, max_items - std::min(max_items, items.size()), &items);
    if (!s.ok()) {
      *error = {s.code() == Status::Code::kInvalidArgument ? errc::kPathRejected : errc::kNotFound,
                s.message()};
      return false;
    }
    resolved_paths.push_back(resolved);
  }
  spec->paths = std::move(resolved_paths);
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  for (const auto& f : items) plan->leases.push_back(ArchiveObjectName(prefix, f));
  return true;
}

// Restore: the output resolved below an output root and leased as a whole;
// one item per object name.
bool Broker::Plan(RestoreSpec* spec, JobPlan* plan, ProtocolError* error) {
  std::string out;
  Status s = policy_.ResolveOutput(spec->output, &out);
  if (!s.ok()) {
    *error = {errc::kPathRejected, s.message()};
    return false;
  }
  spec->output = out;
  for (const std::string& name : spec->objects) {
    if (!SafeObjectName(name)) {
      *error = {errc::kPathRejected, "object name '" + name + "' would leave the output directory"};
      return false;
    }
    plan->items.push_back(name);
  }
  plan->leases.push_back("output:" + out);
  return true;
}

// Verify writes nothing: no leases.
bool Broker::Plan(VerifySpec* spec, JobPlan* plan, ProtocolError*) {
  if (spec->objects) plan->items = *spec->objects;
  return true;
}

bool Broker::Plan(RepairSpec* spec, JobPlan* plan, ProtocolError*) {
  if (spec->objects) plan->items = *spec->objects;
  plan->leases = plan->items.empty() ? std::vector<std::string>{"*"} : plan->items;
  // A repair of everything is a sweep; it records to the service's health
  // database (never a path a client names).
  spec->health_db.reset();
  spec->scheduled.reset();
  if (plan->items.empty()) {
    spec->health_db = config_.HealthDbPath();
    if (!spec->sweep) spec->sweep = SweepSpec();
    if (spec->deep) spec->sweep->deep = spec->deep;
  }
  return true;
}

bool Broker::Plan(StatsSpec*, JobPlan*, ProtocolError*) { return true; }

// A delete holds its names, so that no repair of them runs at once (the
// library's maintenance lock also keeps sweeps out).
bool Broker::Plan(DeleteSpec* spec, JobPlan* plan, ProtocolError*) {
  plan->items = spec->objects;
  plan->leases = plan->items;
  return true;
}

// Compaction moves packed files between packs: it holds the whole store.
bool Broker::Plan(CompactSpec* spec, JobPlan* plan, ProtocolError*) {
  spec->scheduled.reset();
  plan->items = {"store"};
  plan->leases = {"*"};
  return true;
}

}  // namespace fls::service
