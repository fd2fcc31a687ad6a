#include "fls/service/jobs.h"

#include <exception>
#include <type_traits>

#include "fls/json_int.h"
#include "fls/time_text.h"

namespace fls::service {
namespace {

using nlohmann::json;

constexpr std::string_view kKindNames[] = {"archive", "restore", "verify", "repair",
                                           "stats",   "delete",  "compact"};
static_assert(std::size(kKindNames) == std::size(kAllJobKinds));
static_assert(std::variant_size_v<JobSpec> == std::size(kAllJobKinds));
static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<int>(JobKind::kRepair), JobSpec>, RepairSpec>);

std::string Field(std::string_view key) { return "field '" + std::string(key) + "'"; }

Status Bad(std::string message) { return Status::InvalidArgument(std::move(message)); }

// A list of non-empty strings without NUL bytes (they become paths and
// object names). `out` is left empty when the field is absent.
Status StringList(const json& j, const char* key, bool required,
                  std::optional<std::vector<std::string>>* out) {
  out->reset();
  if (!j.contains(key)) return required ? Bad(Field(key) + " is required") : Status::Ok();
  const json& v = j[key];
  if (!v.is_array()) return Bad(Field(key) + " must be a list of strings");
  if (required && v.empty()) return Bad(Field(key) + " must not be empty");
  std::vector<std::string> list;
  list.reserve(v.size());
  for (const json& s : v) {
    if (!s.is_string() || s.get_ref<const std::string&>().empty() ||
        s.get_ref<const std::string&>().find('\0') != std::string::npos)
      return Bad(Field(key) + " must hold non-empty strings");
    list.push_back(s.get<std::string>());
  }
  *out = std::move(list);
  return Status::Ok();
}

Status RequiredStringList(const json& j, const char* key, std::vector<std::string>* out) {
  std::optional<std::vector<std::string>> list;
  FLS_RETURN_IF_ERROR(StringList(j, key, true, &list));
  *out = std::move(*list);
  return Status::Ok();
}

Status OptionalBool(const json& j, const char* key, std::optional<bool>* out) {
  out->reset();
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_boolean()) return Bad(Field(key) + " must be true or false");
  *out = j[key].get<bool>();
  return Status::Ok();
}

Status OptionalString(const json& j, const char* key, std::optional<std::string>* out) {
  out->reset();
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_string()) return Bad(Field(key) + " must be a string");
  *out = j[key].get<std::string>();
  return Status::Ok();
}

// k and m: the code's data and parity chunk counts.
Status OptionalChunkCount(const json& j, const char* key, std::optional<int>* out) {
  out->reset();
  if (!j.contains(key)) return Status::Ok();
  const json& v = j[key];
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > 255) ||
      v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 255)
    return Bad(Field(key) + " must be 1 to 255");
  *out = v.get<int>();
  return Status::Ok();
}

template <typename T>
void Put(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

template <typename Spec>
json Base() {
  return {{"kind", JobKindName(Spec::kKind)}};
}

template <typename Spec>
Status FromJsonAs(const json& j, JobSpec* spec) {
  Spec s;
  FLS_RETURN_IF_ERROR(Spec::FromJson(j, &s));
  *spec = std::move(s);
  return Status::Ok();
}

// An integer field of a REQUEST, strictly (json_int.h).
template <typename T>
Status RequestInt(const json& j, const char* key, T* out) {
  if (!j.contains(key)) return Bad("REQUEST: " + Field(key) + " is required");
  try {
    *out = JsonInt<T>(j[key], key);
  } catch (const std::exception& e) {
    return Bad(std::string("REQUEST: field ") + e.what());
  }
  return Status::Ok();
}

// `name` is the field as the message names it ("roots.source").
Status RequestStrings(const json& j, const char* key, const char* name,
                      std::vector<std::string>* out) {
  if (!j.contains(key)) return Bad("REQUEST: " + Field(name) + " is required");
  const json& v = j[key];
  bool ok = v.is_array();
  for (std::size_t i = 0; ok && i < v.size(); ++i) ok = v[i].is_string();
  if (!ok) return Bad("REQUEST: " + Field(name) + " must be a list of strings");
  *out = v.get<std::vector<std::string>>();
  return Status::Ok();
}

}  // namespace

std::string_view JobKindName(JobKind kind) { return kKindNames[static_cast<int>(kind)]; }

Status ParseJobKind(std::string_view name, JobKind* kind) {
  for (JobKind k : kAllJobKinds)
    if (JobKindName(k) == name) {
      *kind = k;
      return Status::Ok();
    }
  return Bad("unknown job kind '" + std::string(name.substr(0, 32)) + "'");
}

std::string JobKindList() {
  std::string out;
  for (JobKind k : kAllJobKinds) out += (out.empty() ? "" : ", ") + std::string(JobKindName(k));
  return out;
}

json ArchiveSpec::ToJson() const {
  json j = Base<ArchiveSpec>();
  j["paths"] = paths;
  Put(j, "name_prefix", name_prefix);
  Put(j, "k", k);
  Put(j, "m", m);
  Put(j, "checksum", checksum);
  Put(j, "retain_until", retain_until);
  return j;
}

Status ArchiveSpec::FromJson(const json& j, ArchiveSpec* out) {
  FLS_RETURN_IF_ERROR(RequiredStringList(j, "paths", &out->paths));
  FLS_RETURN_IF_ERROR(OptionalChunkCount(j, "k", &out->k));
  FLS_RETURN_IF_ERROR(OptionalChunkCount(j, "m", &out->m));
  FLS_RETURN_IF_ERROR(OptionalBool(j, "checksum", &out->checksum));
  FLS_RETURN_IF_ERROR(OptionalString(j, "retain_until", &out->retain_until));
  if (out->retain_until) {
    std::int64_t ns = 0;
    FLS_RETURN_IF_ERROR(ParseTimeText(*out->retain_until, &ns).WithContext(Field("retain_until")));
  }
  return OptionalString(j, "name_prefix", &out->name_prefix);
}

json RestoreSpec::ToJson() const {
  json j = Base<RestoreSpec>();
  j["objects"] = objects;
  j["output"] = output;
  return j;
}

Status RestoreSpec::FromJson(const json& j, RestoreSpec* out) {
  FLS_RETURN_IF_ERROR(RequiredStringList(j, "objects", &out->objects));
  if (!j.contains("output") || !j["output"].is_string())
    return Bad(Field("output") + " (a directory under an output root) is required");
  out->output = j["output"].get<std::string>();
  return Status::Ok();
}

json VerifySpec::ToJson() const {
  json j = Base<VerifySpec>();
  Put(j, "objects", objects);
  Put(j, "deep", deep);
  return j;
}

Status VerifySpec::FromJson(const json& j, VerifySpec* out) {
  FLS_RETURN_IF_ERROR(StringList(j, "objects", false, &out->objects));
  FLS_RETURN_IF_ERROR(OptionalBool(j, "deep", &out->deep));
  if (j.contains("sweep")) return Bad(Field("sweep") + " is an object of repair jobs only");
  return Status::Ok();
}

json SweepSpec::ToJson() const {
  json j = json::object();
  Put(j, "verify_only", verify_only);
  Put(j, "deep", deep);
  Put(j, "rate_bytes_per_s", rate_bytes_per_s);
  return j;
}

Status SweepSpec::FromJson(const json& j, SweepSpec* out) {
  if (!j.is_object()) return Bad(Field("sweep") + " is an object of repair jobs only");
  *out = SweepSpec();
  for (const auto& [key, v] : j.items()) {
    if (key == "verify_only" && v.is_boolean()) {
      out->verify_only = v.get<bool>();
    } else if (key == "deep" && v.is_boolean()) {
      out->deep = v.get<bool>();
    } else if (key == "rate_bytes_per_s" && v.is_number_integer() &&
               (v.is_number_unsigned() || v.get<std::int64_t>() >= 0)) {
      out->rate_bytes_per_s = v.get<std::uint64_t>();
    } else {
      return Bad(Field("sweep." + key.substr(0, 32)) +
                 " unknown or mistyped (verify_only, deep: booleans; rate_bytes_per_s: a "
                 "non-negative integer)");
    }
  }
  return Status::Ok();
}

json RepairSpec::ToJson() const {
  json j = Base<RepairSpec>();
  Put(j, "objects", objects);
  Put(j, "deep", deep);
  if (sweep) j["sweep"] = sweep->ToJson();
  Put(j, "health_db", health_db);
  Put(j, "scheduled", scheduled);
  return j;
}

Status RepairSpec::FromJson(const json& j, RepairSpec* out) {
  FLS_RETURN_IF_ERROR(StringList(j, "objects", false, &out->objects));
  FLS_RETURN_IF_ERROR(OptionalBool(j, "deep", &out->deep));
  out->sweep.reset();
  if (j.contains("sweep")) {
    SweepSpec sweep;
    FLS_RETURN_IF_ERROR(SweepSpec::FromJson(j["sweep"], &sweep));
    out->sweep = sweep;
  }
  FLS_RETURN_IF_ERROR(OptionalString(j, "health_db", &out->health_db));
  return OptionalBool(j, "scheduled", &out->scheduled);
}

json StatsSpec::ToJson() const { return Base<StatsSpec>(); }

Status StatsSpec::FromJson(const json&, StatsSpec*) { return Status::Ok(); }

json DeleteSpec::ToJson() const {
  json j = Base<DeleteSpec>();
  j["objects"] = objects;
  Put(j, "force", force);
  Put(j, "override_retention", override_retention);
  return j;
}

Status DeleteSpec::FromJson(const json& j, DeleteSpec* out) {
  FLS_RETURN_IF_ERROR(RequiredStringList(j, "objects", &out->objects));
  FLS_RETURN_IF_ERROR(OptionalBool(j, "force", &out->force));
  return OptionalBool(j, "override_retention", &out->override_retention);
}

json CompactSpec::ToJson() const {
  json j = Base<CompactSpec>();
  Put(j, "min_dead_percent", min_dead_percent);
  Put(j, "min_age_seconds", min_age_seconds);
  Put(j, "scheduled", scheduled);
  return j;
}

Status CompactSpec::FromJson(const json& j, CompactSpec* out) {
  out->min_dead_percent.reset();
  if (j.contains("min_dead_percent")) {
    const json& v = j["min_dead_percent"];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 100)
      return Bad(Field("min_dead_percent") + " must be a number from 0 to 100");
    out->min_dead_percent = v.get<double>();
  }
  out->min_age_seconds.reset();
  if (j.contains("min_age_seconds")) {
    const json& v = j["min_age_seconds"];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1e9)
      return Bad(Field("min_age_seconds") + " must be a non-negative number of seconds");
    out->min_age_seconds = v.get<double>();
  }
  return OptionalBool(j, "scheduled", &out->scheduled);
}

JobKind KindOf(const JobSpec& spec) { return static_cast<JobKind>(spec.index()); }

json JobSpecToJson(const JobSpec& spec) {
  return std::visit([](const auto& s) { return s.ToJson(); }, spec);
}

Status JobSpecFromJson(const json& body, JobSpec* spec) {
  if (!body.is_object() || !body.contains("kind") || !body["kind"].is_string())
    return Bad(Field("kind") + " is required (" + JobKindList() + ")");
  JobKind kind;
  FLS_RETURN_IF_ERROR(ParseJobKind(body["kind"].get_ref<const std::string&>(), &kind));
  return JobSpecFromJson(kind, body, spec);
}

Status JobSpecFromJson(JobKind kind, const json& j, JobSpec* spec) {
  if (!j.is_object()) return Bad("a job spec must be a JSON object");
  switch (kind) {
    case JobKind::kArchive:
      return FromJsonAs<ArchiveSpec>(j, spec);
    case JobKind::kRestore:
      return FromJsonAs<RestoreSpec>(j, spec);
    case JobKind::kVerify:
      return FromJsonAs<VerifySpec>(j, spec);
    case JobKind::kRepair:
      return FromJsonAs<RepairSpec>(j, spec);
    case JobKind::kStats:
      return FromJsonAs<StatsSpec>(j, spec);
    case JobKind::kDelete:
      return FromJsonAs<DeleteSpec>(j, spec);
    case JobKind::kCompact:
      return FromJsonAs<CompactSpec>(j, spec);
  }
  return Bad("job kind " + std::to_string(static_cast<int>(kind)) + " out of range");
}

json WorkerRequest::ToJson() const {
  return {{"job_id", job_id},
          {"attempt", attempt},
          {"kind", JobKindName(KindOf(spec))},
          {"spec", JobSpecToJson(spec)},
          {"items", items},
          {"store", store.ToJson()},
          {"roots", {{"source", source_roots}, {"output", output_roots}}}};
}

Status WorkerRequest::FromJson(const json& j, WorkerRequest* out) {
  if (!j.is_object()) return Bad("REQUEST: the body must be a JSON object");
  FLS_RETURN_IF_ERROR(RequestInt(j, "job_id", &out->job_id));
  FLS_RETURN_IF_ERROR(RequestInt(j, "attempt", &out->attempt));
  if (!j.contains("kind") || !j["kind"].is_string())
    return Bad("REQUEST: " + Field("kind") + " is required (" + JobKindList() + ")");
  JobKind kind;
  FLS_RETURN_IF_ERROR(
      ParseJobKind(j["kind"].get_ref<const std::string&>(), &kind).WithContext("REQUEST"));
  if (!j.contains("spec")) return Bad("REQUEST: " + Field("spec") + " is required");
  FLS_RETURN_IF_ERROR(JobSpecFromJson(kind, j["spec"], &out->spec).WithContext("REQUEST: spec"));
  FLS_RETURN_IF_ERROR(RequestStrings(j, "items", "items", &out->items));
  if (!j.contains("store")) return Bad("REQUEST: " + Field("store") + " is required");
  FLS_RETURN_IF_ERROR(StoreConfig::FromJson(j["store"], &out->store).WithContext("REQUEST: store"));
  if (!j.contains("roots") || !j["roots"].is_object())
    return Bad("REQUEST: " + Field("roots") + " (an object: source, output) is required");
  FLS_RETURN_IF_ERROR(RequestStrings(j["roots"], "source", "roots.source", &out->source_roots));
  return RequestStrings(j["roots"], "output", "roots.output", &out->output_roots);
}

}  // namespace fls::service
