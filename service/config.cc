#include "fls/service/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fls/byte_size.h"
#include "fls/json_int.h"

namespace fls::service {
namespace {

// Carries the file name and builds "FILE:LINE:COL: key 'x': why" errors.
struct Ctx {
  std::string file;
  Status Error(const YAML::Node& node, const std::string& key, const std::string& why) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null())
      return Status::InvalidArgument(fmt::format("{}: key '{}': {}", file, key, why));
    return Status::InvalidArgument(
        fmt::format("{}:{}:{}: key '{}': {}", file, mark.line + 1, mark.column + 1, key, why));
  }
};

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// Every key of `map` must be in `allowed`: a typo must not be silently ignored.
Status CheckKeys(const Ctx& ctx, const YAML::Node& map, const std::string& prefix,
                 const std::set<std::string>& allowed) {
  if (!map.IsMap()) return ctx.Error(map, prefix, "must be a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return ctx.Error(kv.first, Join(prefix, key), "unknown key (expected one of: " + list + ")");
    }
  }
  return Status::Ok();
}

Status GetString(const Ctx& ctx, const YAML::Node& node, const std::string& key, std::string* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be a string");
  *out = node.Scalar();
  if (out->empty()) return ctx.Error(node, key, "must not be empty");
  return Status::Ok();
}

Status GetInt(const Ctx& ctx, const YAML::Node& node, const std::string& key, long long lo,
              long long hi, long long* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be an integer");
  const std::string& s = node.Scalar();
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size())
    return ctx.Error(node, key, "must be an integer (got '" + s + "')");
  if (v < lo || v > hi)
    return ctx.Error(node, key,
                     "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         " (got " + s + ")");
  *out = v;
  return Status::Ok();
}

template <typename T>
Status GetIntAs(const Ctx& ctx, const YAML::Node& node, const std::string& key, long long lo,
                long long hi, T* out) {
  long long v = 0;
  FLS_RETURN_IF_ERROR(GetInt(ctx, node, key, lo, hi, &v));
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status GetSize(const Ctx& ctx, const YAML::Node& node, const std::string& key, std::uint64_t lo,
               std::uint64_t hi, std::uint64_t* out) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be a size such as 4096, 64K, 10M");
  std::uint64_t v = 0;
  Status s = ParseByteSize(node.Scalar(), &v);
  if (!s.ok()) return ctx.Error(node, key, s.message());
  if (v < lo || v > hi)
    return ctx.Error(node, key,
                     "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         " bytes (got " + node.Scalar() + ")");
  *out = v;
  return Status::Ok();
}

Status GetStringList(const Ctx& ctx, const YAML::Node& node, const std::string& key,
                     std::vector<std::string>* out) {
  if (!node.IsSequence()) return ctx.Error(node, key, "must be a list of strings");
  out->clear();
  for (std::size_t i = 0; i < node.size(); ++i) {
    std::string v;
    FLS_RETURN_IF_ERROR(GetString(ctx, node[i], key + "[" + std::to_string(i) + "]", &v));
    out->push_back(v);
  }
  return Status::Ok();
}

Status GetBool(const Ctx& ctx, const YAML::Node& node, const std::string& key, bool* out) {
  if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
    *out = node.Scalar() == "true";
    return Status::Ok();
  }
  return ctx.Error(node, key, "must be true or false");
}

// "500ms", "30s", "10m", "24h", "7d".
Status GetDuration(const Ctx& ctx, const YAML::Node& node, const std::string& key,
                   std::int64_t* ms) {
  const std::string s = node.IsScalar() ? node.Scalar() : "";
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = s.substr(used);
  const std::map<std::string, std::int64_t> units = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  if (used == s.size() && v == 0) {  // a bare 0: off
    *ms = 0;
    return Status::Ok();
  }
  auto it = units.find(unit);
  if (used == 0 || v < 0 || it == units.end() || v > (std::int64_t{1} << 40) / it->second)
    return ctx.Error(node, key,
                     "must be a duration such as 500ms, 30s, 10m, 24h or 7d (got '" + s + "')");
  *ms = v * it->second;
  return Status::Ok();
}

Status ParseCompact(const Ctx& ctx, const YAML::Node& n, CompactConfig* c) {
  FLS_RETURN_IF_ERROR(CheckKeys(ctx, n, "compact", {"interval", "min_dead_percent"}));
  if (n["interval"])
    FLS_RETURN_IF_ERROR(GetDuration(ctx, n["interval"], "compact.interval", &c->interval_ms));
  if (n["interval"] && c->interval_ms > 0 && c->interval_ms < 100)
    return ctx.Error(n["interval"], "compact.interval", "must be 0 (off) or at least 100ms");
  if (n["min_dead_percent"]) {
    double v = -1;
    try {
      v = n["min_dead_percent"].as<double>();
    } catch (const std::exception&) {
    }
    if (!(v >= 0 && v <= 100))
      return ctx.Error(n["min_dead_percent"], "compact.min_dead_percent",
                       "must be a number from 0 to 100");
    c->min_dead_percent = v;
  }
  return Status::Ok();
}

Status ParseSweep(const Ctx& ctx, const YAML::Node& n, SweepConfig* c) {
  FLS_RETURN_IF_ERROR(
      CheckKeys(ctx, n, "sweep", {"interval", "rate", "deep", "verify_only", "db"}));
  if (n["interval"])
    FLS_RETURN_IF_ERROR(GetDuration(ctx, n["interval"], "sweep.interval", &c->interval_ms));
  if (n["interval"] && c->interval_ms > 0 && c->interval_ms < 100)
    return ctx.Error(n["interval"], "sweep.interval", "must be 0 (off) or at least 100ms");
  if (n["rate"])
    FLS_RETURN_IF_ERROR(
        GetSize(ctx, n["rate"], "sweep.rate", 0, std::uint64_t{1} << 50, &c->rate_bytes_per_s));
  if (n["deep"]) FLS_RETURN_IF_ERROR(GetBool(ctx, n["deep"], "sweep.deep", &c->deep));
  if (n["verify_only"])
    FLS_RETURN_IF_ERROR(GetBool(ctx, n["verify_only"], "sweep.verify_only", &c->verify_only));
  if (n["db"]) FLS_RETURN_IF_ERROR(GetString(ctx, n["db"], "sweep.db", &c->db_path));
  return Status::Ok();
}

// Whether the mount point exists is checked when the service mounts it
// (the directory may be made between a check of the file and the start).
Status ParseMount(const Ctx& ctx, const YAML::Node& n, MountConfig* c) {
  FLS_RETURN_IF_ERROR(CheckKeys(ctx, n, "mount", {"path", "cache", "relist", "allow_other"}));
  if (!n["path"]) return ctx.Error(n, "mount.path", "is required (the mount point)");
  FLS_RETURN_IF_ERROR(GetString(ctx, n["path"], "mount.path", &c->path));
  if (n["cache"])
    FLS_RETURN_IF_ERROR(
        GetSize(ctx, n["cache"], "mount.cache", 0, std::uint64_t{1} << 40, &c->cache_bytes));
  if (n["relist"]) {
    std::int64_t ms = 0;
    FLS_RETURN_IF_ERROR(GetDuration(ctx, n["relist"], "mount.relist", &ms));
    if (ms % 1000 != 0 || ms > 86400000)
      return ctx.Error(n["relist"], "mount.relist",
                       "must be 0 (only at start) or whole seconds up to 24h (such as 30s)");
    c->relist_seconds = static_cast<int>(ms / 1000);
  }
  if (n["allow_other"])
    FLS_RETURN_IF_ERROR(GetBool(ctx, n["allow_other"], "mount.allow_other", &c->allow_other));
  return Status::Ok();
}

Status ParseService(const Ctx& ctx, const YAML::Node& n, ServiceConfig* c) {
  FLS_RETURN_IF_ERROR(
      CheckKeys(ctx, n, "service",
                {"client_endpoint", "worker_endpoint", "event_endpoint", "in_process_workers",
                 "heartbeat_ms", "heartbeat_liveness", "journal", "max_message_bytes",
                 "max_files_per_job", "space_interval"}));
  if (n["client_endpoint"])
    FLS_RETURN_IF_ERROR(
        GetString(ctx, n["client_endpoint"], "service.client_endpoint", &c->client_endpoint));
  if (n["worker_endpoint"])
    FLS_RETURN_IF_ERROR(
        GetString(ctx, n["worker_endpoint"], "service.worker_endpoint", &c->worker_endpoint));
  if (n["event_endpoint"])
    FLS_RETURN_IF_ERROR(
        GetString(ctx, n["event_endpoint"], "service.event_endpoint", &c->event_endpoint));
  if (n["in_process_workers"])
    FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["in_process_workers"], "service.in_process_workers", 0, 256,
                                 &c->in_process_workers));
  if (n["heartbeat_ms"])
    FLS_RETURN_IF_ERROR(
        GetIntAs(ctx, n["heartbeat_ms"], "service.heartbeat_ms", 10, 600000, &c->heartbeat_ms));
  if (n["heartbeat_liveness"])
    FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["heartbeat_liveness"], "service.heartbeat_liveness", 3, 5,
                                 &c->heartbeat_liveness));
  if (n["journal"])
    FLS_RETURN_IF_ERROR(GetString(ctx, n["journal"], "service.journal", &c->journal_path));
  if (n["max_message_bytes"])
    FLS_RETURN_IF_ERROR(GetSize(ctx, n["max_message_bytes"], "service.max_message_bytes", 4096,
                                1ull << 30, &c->max_message_bytes));
  if (n["max_files_per_job"])
    FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["max_files_per_job"], "service.max_files_per_job", 1,
                                 10000000, &c->max_files_per_job));
  if (n["space_interval"]) {
    FLS_RETURN_IF_ERROR(
        GetDuration(ctx, n["space_interval"], "service.space_interval", &c->space_interval_ms));
    if (c->space_interval_ms < 100)
      return ctx.Error(n["space_interval"], "service.space_interval", "must be at least 100ms");
  }
  return Status::Ok();
}

Status ParseStore(const Ctx& ctx, const YAML::Node& n, StoreConfig* s) {
  FLS_RETURN_IF_ERROR(
      CheckKeys(ctx, n, "store", {"targets", "k", "m", "stripe", "matrix", "backend"}));
  if (!n["targets"]) return ctx.Error(n, "store.targets", "is required (a list of {path, domain})");
  const YAML::Node t = n["targets"];
  if (!t.IsSequence() || t.size() == 0)
    return ctx.Error(t, "store.targets", "must be a non-empty list of {path, domain}");
  s->targets.clear();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::string key = "store.targets[" + std::to_string(i) + "]";
    TargetConfig tc;
    if (t[i].IsScalar()) {
      FLS_RETURN_IF_ERROR(GetString(ctx, t[i], key, &tc.path));
    } else {
      FLS_RETURN_IF_ERROR(CheckKeys(ctx, t[i], key, {"path", "domain"}));
      if (!t[i]["path"]) return ctx.Error(t[i], key + ".path", "is required");
      FLS_RETURN_IF_ERROR(GetString(ctx, t[i]["path"], key + ".path", &tc.path));
      if (t[i]["domain"])
        FLS_RETURN_IF_ERROR(GetString(ctx, t[i]["domain"], key + ".domain", &tc.domain));
    }
    if (tc.domain.empty()) tc.domain = tc.path;  // each target its own domain
    if (!seen.insert(tc.path).second)
      return ctx.Error(t[i], key + ".path", "target '" + tc.path + "' is listed twice");
    s->targets.push_back(tc);
  }
  if (n["k"]) FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["k"], "store.k", 1, 255, &s->k));
  if (n["m"]) FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["m"], "store.m", 1, 255, &s->m));
  if (s->k + s->m > 256)
    return ctx.Error(n["m"] ? n["m"] : n, "store.m", "k + m must be at most 256");
  if (n["stripe"])
    FLS_RETURN_IF_ERROR(GetSize(ctx, n["stripe"], "store.stripe", 1, 1ull << 32, &s->stripe_bytes));
  if (s->stripe_bytes % static_cast<std::uint64_t>(s->k) != 0)
    return ctx.Error(n["stripe"] ? n["stripe"] : n, "store.stripe",
                     "must be a multiple of k (" + std::to_string(s->k) + ")");
  if (n["matrix"]) {
    FLS_RETURN_IF_ERROR(GetString(ctx, n["matrix"], "store.matrix", &s->matrix));
    if (s->matrix != "cauchy" && s->matrix != "vandermonde")
      return ctx.Error(n["matrix"], "store.matrix",
                       "must be cauchy or vandermonde (got '" + s->matrix + "')");
  }
  if (n["backend"]) FLS_RETURN_IF_ERROR(GetString(ctx, n["backend"], "store.backend", &s->backend));
  return Status::Ok();
}

Status ParseBatch(const Ctx& ctx, const YAML::Node& n, StoreConfig* s) {
  FLS_RETURN_IF_ERROR(CheckKeys(ctx, n, "batch",
                                {"max_bytes", "max_files", "max_latency_ms", "files_in_flight",
                                 "small_file_threshold", "pack_size"}));
  if (n["max_bytes"])
    FLS_RETURN_IF_ERROR(
        GetSize(ctx, n["max_bytes"], "batch.max_bytes", 4096, 1ull << 36, &s->batch_max_bytes));
  if (n["max_files"])
    FLS_RETURN_IF_ERROR(
        GetIntAs(ctx, n["max_files"], "batch.max_files", 1, 1000000, &s->batch_max_files));
  if (n["max_latency_ms"])
    FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["max_latency_ms"], "batch.max_latency_ms", 0, 60000,
                                 &s->batch_max_latency_ms));
  if (n["files_in_flight"])
    FLS_RETURN_IF_ERROR(GetIntAs(ctx, n["files_in_flight"], "batch.files_in_flight", 1, 64,
                                 &s->batch_files_in_flight));
  if (n["small_file_threshold"])
    FLS_RETURN_IF_ERROR(GetSize(ctx, n["small_file_threshold"], "batch.small_file_threshold", 0,
                                1ull << 32, &s->small_file_bytes));
  if (n["pack_size"])
    FLS_RETURN_IF_ERROR(
        GetSize(ctx, n["pack_size"], "batch.pack_size", 4096, 1ull << 36, &s->pack_bytes));
  return Status::Ok();
}

bool IsZ85Key(const std::string& s) { return s.size() == 40; }

Status ParseSecurity(const Ctx& ctx, const YAML::Node& n, CurveConfig* c) {
  FLS_RETURN_IF_ERROR(CheckKeys(ctx, n, "security", {"curve"}));
  if (!n["curve"]) return Status::Ok();
  const YAML::Node cv = n["curve"];
  FLS_RETURN_IF_ERROR(CheckKeys(ctx, cv, "security.curve",
                                {"server_public_key", "server_secret_key", "authorized_keys"}));
  for (const char* req : {"server_public_key", "server_secret_key"})
    if (!cv[req]) return ctx.Error(cv, std::string("security.curve.") + req, "is required");
  FLS_RETURN_IF_ERROR(GetString(ctx, cv["server_public_key"], "security.curve.server_public_key",
                                &c->server_public_key));
  FLS_RETURN_IF_ERROR(GetString(ctx, cv["server_secret_key"], "security.curve.server_secret_key",
                                &c->server_secret_key));
  if (!IsZ85Key(c->server_public_key))
    return ctx.Error(cv["server_public_key"], "security.curve.server_public_key",
                     "must be a 40-character Z85 key (from `fls keygen`)");
  if (!IsZ85Key(c->server_secret_key))
    return ctx.Error(cv["server_secret_key"], "security.curve.server_secret_key",
                     "must be a 40-character Z85 key (from `fls keygen`)");
  if (cv["authorized_keys"]) {
    FLS_RETURN_IF_ERROR(GetStringList(ctx, cv["authorized_keys"], "security.curve.authorized_keys",
                                      &c->authorized_keys));
    for (std::size_t i = 0; i < c->authorized_keys.size(); ++i)
      if (!IsZ85Key(c->authorized_keys[i]))
        return ctx.Error(cv["authorized_keys"][i],
                         "security.curve.authorized_keys[" + std::to_string(i) + "]",
                         "must be a 40-character Z85 public key");
  }
  c->enabled = true;
  return Status::Ok();
}

}  // namespace

bool IsLoopbackEndpoint(const std::string& e) {
  if (e.rfind("ipc://", 0) == 0 || e.rfind("inproc://", 0) == 0) return true;
  if (e.rfind("tcp://", 0) != 0) return false;
  const std::string rest = e.substr(6);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = rest.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.a.b.c, numerically (127.example.com is not loopback).
  int parts = 0;
  std::size_t i = 0;
  while (i <= host.size()) {
    const std::size_t dot = std::min(host.find('.', i), host.size());
    const std::string part = host.substr(i, dot - i);
    if (part.empty() || part.size() > 3 ||
        part.find_first_not_of("0123456789") != std::string::npos || std::stoi(part) > 255)
      return false;
    if (parts == 0 && part != "127") return false;
    ++parts;
    i = dot + 1;
  }
  return parts == 4;
}

Status ParseServiceConfig(const std::string& text, const std::string& name, ServiceConfig* config) {
  Ctx ctx{name};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": YAML syntax: " + e.msg);
  }
  ServiceConfig c;
  c.source_file = name;
  try {
    if (!root.IsMap()) return ctx.Error(root, "(top level)", "must be a mapping");
    FLS_RETURN_IF_ERROR(
        CheckKeys(ctx, root, "",
                  {"service", "store", "batch", "roots", "security", "sweep", "compact", "mount"}));
    if (root["sweep"]) FLS_RETURN_IF_ERROR(ParseSweep(ctx, root["sweep"], &c.sweep));
    if (root["compact"]) FLS_RETURN_IF_ERROR(ParseCompact(ctx, root["compact"], &c.compact));
    if (root["mount"]) FLS_RETURN_IF_ERROR(ParseMount(ctx, root["mount"], &c.mount));
    if (root["service"]) FLS_RETURN_IF_ERROR(ParseService(ctx, root["service"], &c));
    if (!root["store"]) return ctx.Error(root, "store", "is required (targets, k, m, ...)");
    FLS_RETURN_IF_ERROR(ParseStore(ctx, root["store"], &c.store));
    if (root["batch"]) FLS_RETURN_IF_ERROR(ParseBatch(ctx, root["batch"], &c.store));
    if (!root["roots"]) return ctx.Error(root, "roots", "is required (source and output lists)");
    const YAML::Node roots = root["roots"];
    FLS_RETURN_IF_ERROR(CheckKeys(ctx, roots, "roots", {"source", "output"}));
    if (!roots["source"]) return ctx.Error(roots, "roots.source", "is required");
    FLS_RETURN_IF_ERROR(GetStringList(ctx, roots["source"], "roots.source", &c.source_roots));
    if (roots["output"])
      FLS_RETURN_IF_ERROR(GetStringList(ctx, roots["output"], "roots.output", &c.output_roots));
    if (root["security"]) FLS_RETURN_IF_ERROR(ParseSecurity(ctx, root["security"], &c.curve));
    if (!c.curve.enabled) {
      const std::pair<const char*, const std::string*> eps[] = {
          {"service.client_endpoint", &c.client_endpoint},
          {"service.worker_endpoint", &c.worker_endpoint},
          {"service.event_endpoint", &c.event_endpoint}};
      for (const auto& [key, ep] : eps)
        if (!IsLoopbackEndpoint(*ep)) {
          const YAML::Node s = root["service"];
          const std::string leaf = std::string(key).substr(8);
          return ctx.Error(s && s[leaf] ? s[leaf] : root, key,
                           "'" + *ep +
                               "' is not a loopback address: listening beyond loopback needs "
                               "security.curve keys");
        }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  *config = std::move(c);
  return Status::Ok();
}

Status LoadServiceConfig(const std::string& path, ServiceConfig* config) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read config file '" + path + "'");
  return ParseServiceConfig(ss.str(), path, config);
}

nlohmann::json StoreConfig::ToJson() const {
  nlohmann::json t = nlohmann::json::array();
  for (const auto& x : targets) t.push_back({{"path", x.path}, {"domain", x.domain}});
  return {{"targets", t},
          {"k", k},
          {"m", m},
          {"stripe_bytes", stripe_bytes},
          {"matrix", matrix},
          {"backend", backend},
          {"batch_max_bytes", batch_max_bytes},
          {"batch_max_files", batch_max_files},
          {"batch_max_latency_ms", batch_max_latency_ms},
          {"batch_files_in_flight", batch_files_in_flight},
          {"small_file_bytes", small_file_bytes},
          {"pack_bytes", pack_bytes}};
}

Status StoreConfig::FromJson(const nlohmann::json& j, StoreConfig* out) {
  try {
    StoreConfig s;
    for (const auto& t : j.at("targets"))
      s.targets.push_back({t.at("path").get<std::string>(), t.at("domain").get<std::string>()});
    s.k = JsonInt<int>(j.at("k"), "k");
    s.m = JsonInt<int>(j.at("m"), "m");
    s.stripe_bytes = JsonInt<std::uint64_t>(j.at("stripe_bytes"), "stripe_bytes");
    s.matrix = j.at("matrix").get<std::string>();
    s.backend = j.at("backend").get<std::string>();
    s.batch_max_bytes = JsonInt<std::uint64_t>(j.at("batch_max_bytes"), "batch_max_bytes");
    s.batch_max_files = JsonInt<int>(j.at("batch_max_files"), "batch_max_files");
    s.batch_max_latency_ms = JsonInt<int>(j.at("batch_max_latency_ms"), "batch_max_latency_ms");
    // Absent from a broker older than the key: the default.
    if (j.contains("batch_files_in_flight"))
      s.batch_files_in_flight =
          JsonInt<int>(j.at("batch_files_in_flight"), "batch_files_in_flight");
    s.small_file_bytes = JsonInt<std::uint64_t>(j.at("small_file_bytes"), "small_file_bytes");
    s.pack_bytes = JsonInt<std::uint64_t>(j.at("pack_bytes"), "pack_bytes");
    if (s.targets.empty() || s.k < 1 || s.m < 1 || s.k + s.m > 256)
      return Status::InvalidArgument("store settings: no targets or bad k/m");
    if (s.batch_files_in_flight < 1 || s.batch_files_in_flight > 64 || s.batch_max_latency_ms < 0 ||
        s.batch_max_latency_ms > 60000 || s.batch_max_bytes == 0)
      return Status::InvalidArgument(
          "store settings: batch_files_in_flight (1-64), batch_max_latency_ms (0-60000) or "
          "batch_max_bytes (> 0) out of range");
    *out = std::move(s);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("store settings: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace fls::service
