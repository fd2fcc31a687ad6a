// fls-target.json (host/archive/target_identity.h).
#include "target_identity.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "fls/manifest.h"
#include "record_json.h"

namespace fls::internal {
namespace {

const std::set<std::string> kKeys = {"checksum", "created_ns", "format",    "format_version",
                                     "members",  "store_id",   "target_id", "v1_objects"};

std::string RandomHex(std::size_t digits) {
  std::random_device rd;
  std::string out;
  static const char* kHex = "0123456789abcdef";
  while (out.size() < digits) {
    std::uint32_t r = rd();
    for (int i = 0; i < 8 && out.size() < digits; ++i, r >>= 4) out.push_back(kHex[r & 15]);
  }
  return out;
}

}  // namespace

std::string NewStoreId() { return RandomHex(32); }
std::string NewTargetId() { return RandomHex(16); }

std::string EncodeTargetIdentity(const TargetIdentity& id) {
  nlohmann::json j = {{"format", "fls-target"},      {"format_version", 2},
                      {"store_id", id.store_id},     {"target_id", id.target_id},
                      {"created_ns", id.created_ns}, {"v1_objects", id.v1_objects}};
  j["members"] = nlohmann::json::object();
  for (const auto& [tid, path] : id.members) j["members"][tid] = path;
  j["checksum"] = CanonicalChecksum(j);
  return j.dump() + "\n";
}

Status DecodeTargetIdentity(std::string_view text, TargetIdentity* out) {
  const std::string what = "target identity";
  nlohmann::json j;
  FLS_RETURN_IF_ERROR(ParseRecordJson(text, what, &j));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kKeys.count(it.key()))
      return Status::Corruption(what + ": unknown field '" + it.key() + "'");
  auto str = [&](const char* key, std::string* v) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
      return Status::Corruption(what + ": field '" + std::string(key) +
                                "' missing or not a string");
    *v = it->get<std::string>();
    return Status::Ok();
  };
  std::string format;
  FLS_RETURN_IF_ERROR(str("format", &format));
  if (format != "fls-target")
    return Status::Corruption(what + ": field 'format' is '" + format + "', not 'fls-target'");
  auto version = j.find("format_version");
  if (version == j.end() || !version->is_number_unsigned() || version->get<std::uint64_t>() != 2)
    return Status::Corruption(what + ": field 'format_version' is not 2");
  FLS_RETURN_IF_ERROR(CheckAndRemoveChecksum(&j, what));
  TargetIdentity id;
  FLS_RETURN_IF_ERROR(str("store_id", &id.store_id));
  FLS_RETURN_IF_ERROR(str("target_id", &id.target_id));
  if (!IsLowerHex(id.store_id, 32))
    return Status::Corruption(what + ": field 'store_id' is not 32 lower-case hex digits");
  if (!IsTargetId(id.target_id))
    return Status::Corruption(what + ": field 'target_id' is not 16 lower-case hex digits");
  auto created = j.find("created_ns");
  if (created == j.end() || !created->is_number_integer())
    return Status::Corruption(what + ": field 'created_ns' missing or not an integer");
  if (created->is_number_unsigned() &&
      created->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    return Status::Corruption(what + ": field 'created_ns' is out of range");
  id.created_ns = created->get<std::int64_t>();
  auto v1 = j.find("v1_objects");
  if (v1 == j.end() || !v1->is_boolean())
    return Status::Corruption(what + ": field 'v1_objects' missing or not true/false");
  id.v1_objects = v1->get<bool>();
  auto members = j.find("members");
  if (members == j.end() || !members->is_object())
    return Status::Corruption(what + ": field 'members' missing or not an object");
  for (auto it = members->begin(); it != members->end(); ++it) {
    if (!IsTargetId(it.key()) || !it->is_string())
      return Status::Corruption(what + ": 'members' entry '" + it.key() +
                                "' is not a target id with a directory");
    id.members[it.key()] = it->get<std::string>();
  }
  *out = std::move(id);
  return Status::Ok();
}

Status ReadTargetIdentity(Env* env, const std::string& dir, TargetIdentity* id) {
  const std::string path = JoinPath(dir, kTargetIdentityFile);
  std::string text;
  FLS_RETURN_IF_ERROR(ReadWholeFile(env, path, &text, 64 << 10));
  Status s = DecodeTargetIdentity(text, id);
  return s.ok() ? s : s.WithContext(path);
}

Status CreateTargetIdentity(Env* env, const std::string& dir, const TargetIdentity& want,
                            TargetIdentity* got) {
  const std::string path = JoinPath(dir, kTargetIdentityFile);
  const std::string text = EncodeTargetIdentity(want);
  const std::string tmp = TempPathFor(path);
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(tmp, &f);
  if (s.ok()) s = f->Append(text.data(), text.size());
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  f.reset();
  Status linked = s.ok() ? env->LinkFile(tmp, path) : s;
  env->RemoveFile(tmp);
  if (!linked.ok()) {
    // Another process may have joined the target first: its identity stands.
    Status r = ReadTargetIdentity(env, dir, got);
    if (r.ok()) return r;
    return linked.WithContext("target " + dir + " joining the store");
  }
  FLS_RETURN_IF_ERROR(env->SyncDir(dir).WithContext("target " + dir + " joining the store"));
  *got = want;
  return Status::Ok();
}

Status SetV1Objects(Env* env, const std::string& dir, const TargetIdentity& current, bool v1) {
  TargetIdentity next = current;
  next.v1_objects = v1;
  return WriteFileDurably(env, JoinPath(dir, kTargetIdentityFile), EncodeTargetIdentity(next))
      .WithContext("target " + dir);
}

Status SetMembers(Env* env, const std::string& dir, const TargetIdentity& current,
                  const std::map<std::string, std::string>& members) {
  TargetIdentity next = current;
  next.members = members;
  return WriteFileDurably(env, JoinPath(dir, kTargetIdentityFile), EncodeTargetIdentity(next))
      .WithContext("target " + dir);
}

Status HoldsV1Manifests(Env* env, const std::string& dir, bool* holds) {
  *holds = false;
  return env->ForEachChild(dir, [&](std::string_view name) {
    ObjectId id;
    std::uint64_t g = 0;
    *holds = ParseManifestFileName(name, &id, &g);
    return !*holds;
  });
}

}  // namespace fls::internal
