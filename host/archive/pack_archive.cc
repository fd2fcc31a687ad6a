// ArchiveSmallFiles: small files into packs, then their member records
// (fls/pack.h).
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "fls/pack.h"
#include "member_lookup.h"
#include "pack_stream.h"
#include "pack_write.h"
#include "quick_check.h"

namespace fls {
namespace {

// Runs fn(0) .. fn(n - 1) on n threads (fn(0) on the caller) and joins them.
void RunOnThreads(std::size_t n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n; ++t) threads.emplace_back(fn, static_cast<int>(t));
  if (n > 0) fn(0);
  for (auto& t : threads) t.join();
}

// A name archived already (an object, or a packed file): unchanged when the
// source passes the quick check, refused otherwise.
PackedItem CheckArchived(const OpenSourceFn& open, const PackInput& in, const Located& found,
                         bool compare_checksum) {
  PackedItem item;
  std::unique_ptr<RandomAccessFile> src;
  FileInfo info;
  item.status = open(in.source, &src, &info);
  if (!item.status.ok()) return item;
  internal::ArchivedContent had;
  had.name = in.name;
  if (found.member) {
    const PackEntry& e = found.packed;
    had = {in.name, e.length, e.mtime_ns, e.mode, e.sha256, "; it is packed in " + e.pack};
    item.entry = e;
  } else {
    const Manifest& mf = found.object.manifest;
    had = {in.name, mf.size, mf.mtime_ns, mf.mode, mf.sha256, ""};
    item.member = false;
    item.entry.name = in.name;
    item.entry.length = mf.size;
    item.entry.sha256 = mf.sha256;
  }
  item.status = internal::QuickCheck(*src, info, compare_checksum, had);
  item.unchanged = item.status.ok();
  return item;
}

// LocateName, with each pack looked up once: many files of one job were
// usually packed together.
Status LocateCached(const Store& store, const std::string& name,
                    std::map<std::string, CatalogEntry>* packs, Located* out) {
  Status s = store.FindObject(name, &out->object);
  if (s.code() != Status::Code::kNotFound) return s;
  MemberEntry m;
  Status ms = internal::ReadMemberRecords(store, name, &m);
  if (ms.code() == Status::Code::kNotFound) return s;
  FLS_RETURN_IF_ERROR(ms);
  auto it = packs->find(m.member.pack);
  if (it == packs->end()) {
    CatalogEntry pack;
    Status ps = store.FindObject(m.member.pack, &pack);
    if (ps.ok()) it = packs->emplace(m.member.pack, std::move(pack)).first;
  }
  FLS_RETURN_IF_ERROR(
      internal::CheckMemberPack(store, it == packs->end() ? nullptr : &it->second, &m));
  out->member = true;
  out->packed = std::move(m.member);
  out->object = std::move(m.pack);
  return Status::Ok();
}

}  // namespace

namespace internal {

void ArchiveOnePack(const Store& store, const OpenSourceFn& open,
                    const std::vector<PackInput>& inputs, ArchiveOptions o, const PackOptions& pack,
                    std::vector<PackedItem>* items) {
  items->assign(inputs.size(), PackedItem());
  internal::PackStream stream(open, inputs,
                              "pack of " + std::to_string(inputs.size()) + " small files");
  o.name = kPackPrefix + ObjectIdToHex(RandomObjectId());
  o.progress = nullptr;
  // The members' records carry retention; packs go by compaction.
  const std::int64_t pack_retain_until_ns = o.retain_until_ns;
  o.retain_until_ns = 0;
  std::function<void()> release = pack.start_pack ? pack.start_pack() : nullptr;
  o.encode_done = release;
  FileInfo info;
  info.size = stream.size();
  info.mode = 0644;
  info.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  ArchiveResult r;
  Status s = ArchiveOpenFile(store, stream, info, o, &r);
  if (release) release();
  std::vector<PackEntry> packed;
  std::vector<std::size_t> where;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    PackedItem& item = (*items)[i];
    item.backend = r.backend;
    item.status = s.ok() ? stream.status(i) : s;
    if (!item.status.ok()) continue;
    item.entry = stream.entry(i);
    item.entry.pack = o.name;
    item.entry.pack_id = ObjectIdToHex(r.manifest.id);
    item.entry.retain_until_ns =
        inputs[i].retain_until_ns != 0 ? inputs[i].retain_until_ns : pack_retain_until_ns;
    packed.push_back(item.entry);
    where.push_back(i);
  }
  if (packed.empty()) return;
  std::vector<Status> committed;
  CommitMemberRecords(store, r.manifest.m, packed, &committed);
  for (std::size_t j = 0; j < packed.size(); ++j) (*items)[where[j]].status = committed[j];
}

}  // namespace internal

Status ArchiveSmallFiles(const Store& store, const OpenSourceFn& open,
                         const std::vector<PackInput>& files, const ArchiveOptions& options,
                         const PackOptions& pack,
                         const std::function<void(std::size_t, const PackedItem&)>& on_item) {
  FLS_RETURN_IF_ERROR(store.Join());
  std::mutex mu;  // one on_item call at a time
  auto report = [&](std::size_t i, const PackedItem& item) {
    std::lock_guard<std::mutex> lock(mu);
    on_item(i, item);
  };
  struct Group {
    std::vector<std::size_t> files;
    std::uint64_t bytes = 0;
  };
  std::vector<Group> groups;
  std::set<std::string> names;
  std::map<std::string, CatalogEntry> packs;  // packs met so far, by name
  for (std::size_t i = 0; i < files.size(); ++i) {
    const PackInput& in = files[i];
    PackedItem item;
    item.status = ValidateObjectName(in.name).WithContext(in.source);
    if (item.status.ok() && !names.insert(in.name).second)
      item.status = Status::InvalidArgument("the name '" + in.name + "' is given twice");
    Located found;
    Status s;
    if (item.status.ok()) s = LocateCached(store, in.name, &packs, &found);
    if (item.status.ok() && s.ok())
      item = CheckArchived(open, in, found, options.compare_checksum);
    else if (item.status.ok() && s.code() != Status::Code::kNotFound)
      item.status = s.WithContext("checking whether '" + in.name + "' is archived already");
    else if (item.status.ok()) {
      if (groups.empty() ||
          (!groups.back().files.empty() && (groups.back().bytes + in.size > pack.max_bytes ||
                                            groups.back().files.size() >= pack.max_files)))
        groups.emplace_back();
      groups.back().files.push_back(i);
      groups.back().bytes += in.size;
      continue;
    }
    report(i, item);
  }
  // Packs are independent objects: a few at a time, so that reading and
  // hashing the files of one overlaps coding and fsyncing another.
  std::atomic<std::size_t> next{0};
  std::atomic<bool> cancelled{false};
  auto run = [&](int) {
    for (std::size_t g = next++; g < groups.size(); g = next++) {
      if (pack.cancelled && pack.cancelled()) {
        cancelled = true;
        return;
      }
      std::vector<PackInput> inputs;
      for (std::size_t i : groups[g].files) inputs.push_back(files[i]);
      std::vector<PackedItem> items;
      internal::ArchiveOnePack(store, open, inputs, options, pack, &items);
      for (std::size_t j = 0; j < items.size(); ++j) report(groups[g].files[j], items[j]);
    }
  };
  RunOnThreads(std::min<std::size_t>(groups.size(), std::max(1, pack.concurrent_packs)), run);
  if (cancelled) return Status::Cancelled("archive cancelled");
  return Status::Ok();
}

}  // namespace fls
