// Member records: finding a packed file by its name (fls/pack.h).
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <set>

#include "fls/backend_registry.h"
#include "fls/json_int.h"
#include "fls/pack.h"
#include "fls/thread_pool.h"
#include "fls/time_text.h"
#include "manifest_commit.h"
#include "member_lookup.h"
#include "object_io.h"
#include "record_json.h"

namespace fls {
namespace {

constexpr std::size_t kMaxRecordBytes = 64 << 10;
constexpr char kRecordFormat[] = "fls-member";

constexpr char kTombstoneFormat[] = "fls-member-tombstone";
constexpr char kRetainKey[] = "retain_until_ns";

nlohmann::json RecordJson(const PackEntry& e) {
  nlohmann::json j = {{"format", kRecordFormat}, {"format_version", kMemberRecordFormatVersion},
                      {"name", e.name},          {"pack", e.pack},
                      {"pack_id", e.pack_id},    {"offset", e.offset},
                      {"length", e.length},      {"sha256", e.sha256},
                      {"mode", e.mode},          {"mtime_ns", e.mtime_ns}};
  if (e.retain_until_ns != 0) j[kRetainKey] = e.retain_until_ns;
  return j;
}

nlohmann::json TombstoneJson(const MemberTombstone& t) {
  return {{"format", kTombstoneFormat}, {"format_version", 1}, {"name", t.name},
          {"pack_id", t.pack_id},       {"offset", t.offset},  {"deleted_ns", t.deleted_ns}};
}

Status ReadRecordText(Env* env, const std::string& path, std::string* text) {
  return internal::ReadRecordFile(env, path, kMaxRecordBytes, "a member record", text);
}

// The m + 1 joined targets (with a directory) that hold `name`'s records,
// highest rendezvous score first.
std::vector<int> RecordTargets(const Store& store, const std::string& name, int m) {
  const std::string hash = NameHash(name);
  std::vector<std::pair<std::uint64_t, int>> ranked;
  for (std::size_t t = 0; t < store.targets().size(); ++t) {
    const std::string id = store.TargetId(static_cast<int>(t));
    FileInfo info;
    if (id.empty() || !store.env()->GetFileInfo(store.targets()[t].path, &info).ok() ||
        !info.is_directory)
      continue;
    ranked.push_back({internal::RendezvousScore(hash, id), static_cast<int>(t)});
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<int> out;
  for (const auto& r : ranked) {
    if (static_cast<int>(out.size()) > m) break;
    out.push_back(r.second);
  }
  return out;
}

}  // namespace

std::string MemberRecordFileName(const std::string& name) {
  return "fls-n" + NameHash(name) + ".member";
}

std::string EncodeMemberRecord(const PackEntry& e) {
  nlohmann::json j = RecordJson(e);
  j["checksum"] = internal::CanonicalChecksum(j);
  return j.dump();
}

Status DecodeMemberRecord(std::string_view text, PackEntry* e) {
  nlohmann::json j;
  FLS_RETURN_IF_ERROR(internal::ParseRecordJson(text, "member record", &j));
  FLS_RETURN_IF_ERROR(internal::CheckAndRemoveChecksum(&j, "member record"));
  PackEntry out;
  try {
    if (j.at("format").get<std::string>() != kRecordFormat)
      return Status::Corruption("member record: format is not '" + std::string(kRecordFormat) +
                                "'");
    const int version = JsonInt<int>(j.at("format_version"), "format_version");
    if (version != kMemberRecordFormatVersion)
      return Status::Corruption("member record: format_version " + std::to_string(version) +
                                " is not supported");
    out.name = j.at("name").get<std::string>();
    out.pack = j.at("pack").get<std::string>();
    out.pack_id = j.at("pack_id").get<std::string>();
    out.offset = JsonInt<std::uint64_t>(j.at("offset"), "offset");
    out.length = JsonInt<std::uint64_t>(j.at("length"), "length");
    out.sha256 = j.at("sha256").get<std::string>();
    out.mode = JsonInt<std::uint32_t>(j.at("mode"), "mode");
    out.mtime_ns = JsonInt<std::int64_t>(j.at("mtime_ns"), "mtime_ns");
    if (j.contains(kRetainKey)) {
      out.retain_until_ns = JsonInt<std::int64_t>(j.at(kRetainKey), kRetainKey);
      if (out.retain_until_ns == 0)
        return Status::Corruption("member record: retain_until_ns is 0 (omit it instead)");
    }
  } catch (const std::exception& ex) {
    return Status::Corruption(std::string("member record: ") + ex.what());
  }
  if (j.size() != RecordJson(out).size())
    return Status::Corruption("member record: unknown fields");
  if (!internal::IsLowerHex(out.pack_id, 32) || !internal::IsLowerHex(out.sha256, 64) ||
      !IsPackName(out.pack) || out.offset + out.length < out.offset)
    return Status::Corruption("member record of '" + out.name + "': malformed pack, id or digest");
  *e = std::move(out);
  return Status::Ok();
}

std::string EncodeMemberTombstone(const MemberTombstone& t) {
  nlohmann::json j = TombstoneJson(t);
  j["checksum"] = internal::CanonicalChecksum(j);
  return j.dump();
}

Status DecodeMemberTombstone(std::string_view text, MemberTombstone* t) {
  nlohmann::json j;
  FLS_RETURN_IF_ERROR(internal::ParseRecordJson(text, "member tombstone", &j));
  FLS_RETURN_IF_ERROR(internal::CheckAndRemoveChecksum(&j, "member tombstone"));
  MemberTombstone out;
  try {
    if (j.at("format").get<std::string>() != kTombstoneFormat)
      return Status::Corruption("member tombstone: format is not '" +
                                std::string(kTombstoneFormat) + "'");
    if (JsonInt<int>(j.at("format_version"), "format_version") != 1)
      return Status::Corruption("member tombstone: format_version is not 1");
    out.name = j.at("name").get<std::string>();
    out.pack_id = j.at("pack_id").get<std::string>();
    out.offset = JsonInt<std::uint64_t>(j.at("offset"), "offset");
    out.deleted_ns = JsonInt<std::int64_t>(j.at("deleted_ns"), "deleted_ns");
  } catch (const std::exception& ex) {
    return Status::Corruption(std::string("member tombstone: ") + ex.what());
  }
  if (j.size() != TombstoneJson(out).size())
    return Status::Corruption("member tombstone: unknown fields");
  if (!internal::IsLowerHex(out.pack_id, 32))
    return Status::Corruption("member tombstone of '" + out.name + "': malformed pack id");
  *t = std::move(out);
  return Status::Ok();
}

void CommitMemberRecords(const Store& store, int m, const std::vector<PackEntry>& members,
                         std::vector<Status>* statuses) {
  Env* env = store.env();
  statuses->assign(members.size(), Status::Ok());
  struct Copy {
    std::size_t member;
    std::string path, tmp;
    bool renamed = false;
  };
  const std::size_t T = store.targets().size();
  std::vector<std::vector<Copy>> by_target(T);
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::vector<int> targets = RecordTargets(store, members[i].name, m);
    if (targets.empty())
      (*statuses)[i] = Status::IOError(
          "no joined target directory can hold the member record of '" + members[i].name + "'");
    const std::string file = MemberRecordFileName(members[i].name);
    for (int t : targets) {
      const std::string path = JoinPath(store.targets()[t].path, file);
      by_target[t].push_back({i, path, TempPathFor(path)});
    }
  }
  std::mutex mu;
  auto fail = [&](std::size_t i, const Status& s, const std::string& target) {
    std::lock_guard<std::mutex> lock(mu);
    if ((*statuses)[i].ok())
      (*statuses)[i] = s.WithContext("member record of '" + members[i].name + "' on " + target);
  };
  // Temporaries written and fsynced on every target at once (fsync latency
  // dominates), then renamed: a record appears complete or not at all.
  ThreadPool pool(static_cast<int>(std::min<std::size_t>(T, 16)));
  pool.Run(T, [&](std::size_t t) {
    for (const Copy& c : by_target[t]) {
      std::unique_ptr<WritableFile> f;
      const std::string text = EncodeMemberRecord(members[c.member]);
      Status s = env->NewWritableFile(c.tmp, &f);
      if (s.ok()) s = f->Append(text.data(), text.size());
      if (s.ok()) s = f->Sync();
      if (s.ok()) s = f->Close();
      if (!s.ok()) fail(c.member, s, store.targets()[t].path);
    }
  });
  pool.Run(T, [&](std::size_t t) {
    bool any = false;
    for (Copy& c : by_target[t]) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!(*statuses)[c.member].ok()) continue;
      }
      Status s = env->RenameFile(c.tmp, c.path);
      if (s.ok())
        c.renamed = any = true;
      else
        fail(c.member, s, store.targets()[t].path);
    }
    if (any) {
      Status s = env->SyncDir(store.targets()[t].path);
      if (!s.ok())
        for (const Copy& c : by_target[t])
          if (c.renamed) fail(c.member, s, store.targets()[t].path);
    }
  });
  // A member that failed anywhere leaves nothing: temporaries and the
  // copies renamed before the failure go.
  for (std::size_t t = 0; t < T; ++t) {
    bool removed = false;
    for (const Copy& c : by_target[t]) {
      if ((*statuses)[c.member].ok()) continue;
      env->RemoveFile(c.tmp);
      if (c.renamed && env->RemoveFile(c.path).ok()) removed = true;
    }
    if (removed) env->SyncDir(store.targets()[t].path);
  }
}

namespace internal {

Status ReadMemberRecords(const Store& store, const std::string& name, MemberEntry* out) {
  *out = MemberEntry();
  out->member.name = name;
  const std::string file = MemberRecordFileName(name);
  bool have = false;
  std::string have_text;  // copies are byte-identical: the same text needs no second decode
  std::vector<std::string> bad;
  std::vector<MemberTombstone> tombs;
  for (const Target& t : store.targets()) {
    const std::string path = JoinPath(t.path, file);
    std::string text;
    Status s = ReadRecordText(store.env(), path, &text);
    if (s.code() == Status::Code::kNotFound) continue;
    if (s.ok() && have && text == have_text) {
      out->copies.push_back(path);
      continue;
    }
    PackEntry e;
    MemberTombstone tomb;
    bool is_tomb = false;
    if (s.ok()) {
      s = DecodeMemberRecord(text, &e);
      if (!s.ok() && DecodeMemberTombstone(text, &tomb).ok()) {
        is_tomb = true;
        s = Status::Ok();
      }
      s = s.WithContext(path);
    }
    if (s.ok() && (is_tomb ? tomb.name : e.name) != name) continue;  // a hash collision
    if (!s.ok()) {
      bad.push_back(path);
      out->problems.push_back(s.ToString());
      continue;
    }
    if (is_tomb) {
      out->tombstone_copies.push_back(path);
      tombs.push_back(std::move(tomb));
      continue;
    }
    out->copies.push_back(path);
    if (!have) {
      out->member = e;
      have_text = std::move(text);
      have = true;
    } else if (EncodeMemberRecord(e) != EncodeMemberRecord(out->member)) {
      out->problems.push_back(path + " differs from " + out->copies.front());
    }
  }
  for (const MemberTombstone& t : tombs)
    if (!have || (t.pack_id == out->member.pack_id && t.offset == out->member.offset)) {
      out->deleted = true;
      out->deleted_ns = t.deleted_ns;
    }
  if (out->deleted)
    return Status::NotFound("no packed file named '" + name + "': it was deleted (" +
                            FormatTimeNs(out->deleted_ns) + ")");
  if (!have && !bad.empty()) {
    std::string msg = "packed file '" + name + "': every member record found is unreadable";
    for (const auto& p : out->problems) msg += "; " + p;
    return Status::Corruption(msg);
  }
  if (!have) return Status::NotFound("no packed file named '" + name + "'");
  return Status::Ok();
}

}  // namespace internal

Status FindMember(const Store& store, const std::string& name, MemberEntry* entry) {
  return internal::FindMemberCached(store, name, nullptr, entry);
}

void WalkMembers(const Store& store, const std::function<bool(MemberEntry&)>& fn,
                 std::vector<std::string>* problems,
                 const std::function<void(MemberEntry&)>& deleted) {
  std::vector<std::string> ignored;
  if (problems == nullptr) problems = &ignored;
  constexpr std::string_view kPrefix = "fls-n", kSuffix = ".member";
  std::vector<std::array<std::uint8_t, 16>> hashes;
  for (const Target& t : store.targets()) {
    Status s = store.env()->ForEachChild(t.path, [&](std::string_view n) {
      if (n.size() != kPrefix.size() + 32 + kSuffix.size() || n.substr(0, 5) != kPrefix ||
          n.substr(37) != kSuffix || !internal::IsLowerHex(n.substr(5, 32), 32))
        return true;
      std::array<std::uint8_t, 16> h{};
      for (int i = 0; i < 16; ++i)
        h[i] =
            static_cast<std::uint8_t>(std::stoi(std::string(n.substr(5 + 2 * i, 2)), nullptr, 16));
      hashes.push_back(h);
      return true;
    });
    if (!s.ok()) problems->push_back("target " + t.path + " unreadable: " + s.message());
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  // A walk meets each pack once per member: its manifest is read once.
  internal::PackCache packs(store);
  static const char* kHex = "0123456789abcdef";
  for (const auto& h : hashes) {
    std::string file = "fls-n";
    for (std::uint8_t b : h) {
      file.push_back(kHex[b >> 4]);
      file.push_back(kHex[b & 15]);
    }
    file += ".member";
    // The name is inside the records: the first readable copy tells it.
    std::string name, why;
    for (const Target& t : store.targets()) {
      std::string text;
      PackEntry e;
      Status s = ReadRecordText(store.env(), JoinPath(t.path, file), &text);
      if (s.code() == Status::Code::kNotFound) continue;
      if (s.ok()) s = DecodeMemberRecord(text, &e);
      MemberTombstone tomb;
      if (!s.ok() && DecodeMemberTombstone(text, &tomb).ok()) {
        e.name = tomb.name;
        s = Status::Ok();
      }
      if (s.ok()) {
        name = e.name;
        break;
      }
      why = JoinPath(t.path, file) + ": " + s.ToString();
    }
    if (name.empty()) {
      problems->push_back("every member record " + file + " is unreadable (" + why + ")");
      continue;
    }
    MemberEntry entry;
    Status s = internal::FindMemberCached(store, name, &packs, &entry);
    if (entry.deleted || (!entry.tombstone_copies.empty() && s.ok())) {
      if (deleted) deleted(entry);
      if (entry.deleted) continue;
    }
    if (!s.ok()) {
      problems->push_back(s.ToString());
      continue;
    }
    if (!fn(entry)) return;
  }
}

Status LocateName(const Store& store, const std::string& name, Located* out) {
  Located l;
  Status s = store.FindObject(name, &l.object);
  if (s.code() != Status::Code::kNotFound) {
    if (s.ok()) *out = std::move(l);
    return s;
  }
  MemberEntry me;
  Status ms = FindMember(store, name, &me);
  if (ms.code() == Status::Code::kNotFound) {
    // The member's own message when a record exists but is an orphan or was deleted.
    return me.deleted || ms.ToString().find("orphan") != std::string::npos ? ms : s;
  }
  FLS_RETURN_IF_ERROR(ms);
  l.member = true;
  l.packed = std::move(me.member);
  l.object = std::move(me.pack);
  *out = std::move(l);
  return Status::Ok();
}

namespace internal {

Status ReadPackIndex(const Store& store, const CatalogEntry& pack, std::vector<PackEntry>* entries,
                     bool* recorded, Backend* coder, std::uint64_t* index_bytes) {
  const Manifest& mf = pack.manifest;
  std::shared_ptr<Backend> backend;
  if (coder == nullptr) {
    FLS_RETURN_IF_ERROR(SharedOrNewBackend(nullptr, "auto", 1, mf.k, mf.m, mf.matrix, &backend));
    coder = backend.get();
  }
  internal::ObjectReader reader(store, mf);
  reader.Open();
  // The index is at the end: read the last 64 KiB, and more if it is longer.
  std::uint64_t want = std::min<std::uint64_t>(mf.size, 64 << 10), needed = 0;
  for (int round = 0; round < 2; ++round) {
    std::string tail;
    FLS_RETURN_IF_ERROR(internal::StreamObject(
        reader, *coder, mf.size - want, mf.size, nullptr,
        [&](const std::uint8_t* p, std::size_t n) {
          tail.append(reinterpret_cast<const char*>(p), n);
          return Status::Ok();
        },
        nullptr, nullptr));
    FLS_RETURN_IF_ERROR(ParsePackTail(tail, mf.size, mf.name, entries, &needed, recorded));
    if (needed == 0) {
      for (PackEntry& e : *entries) e.pack_id = ObjectIdToHex(mf.id);
      if (index_bytes != nullptr) {
        std::uint64_t len = 0;
        for (int i = 0; i < 8; ++i)
          len |= std::uint64_t{static_cast<std::uint8_t>(tail[tail.size() - 16 + i])} << (8 * i);
        *index_bytes = len + 16;
      }
      return Status::Ok();
    }
    want = std::min<std::uint64_t>(needed, mf.size);
  }
  return Status::Corruption("pack '" + mf.name + "': its index length changed while read");
}

}  // namespace internal

Status RecordPackMembers(const Store& store, const CatalogEntry& pack, std::uint64_t* written) {
  *written = 0;
  const Manifest& mf = pack.manifest;
  std::vector<PackEntry> entries;
  bool recorded = false;
  FLS_RETURN_IF_ERROR(internal::ReadPackIndex(store, pack, &entries, &recorded));
  // Written with records: a member without one was deleted, not forgotten.
  if (recorded) return Status::Ok();
  std::vector<PackEntry> missing;
  for (PackEntry& e : entries) {
    MemberEntry found;
    if (FindMember(store, e.name, &found).ok() && found.member.pack == mf.name) continue;
    CatalogEntry object;
    if (store.FindObject(e.name, &object).ok()) continue;  // an object of that name wins
    e.pack_id = ObjectIdToHex(mf.id);
    missing.push_back(e);
  }
  if (missing.empty()) return Status::Ok();
  std::vector<Status> statuses;
  CommitMemberRecords(store, mf.m, missing, &statuses);
  for (std::size_t i = 0; i < missing.size(); ++i) {
    if (!statuses[i].ok()) return statuses[i];
    ++*written;
  }
  return Status::Ok();
}

}  // namespace fls
