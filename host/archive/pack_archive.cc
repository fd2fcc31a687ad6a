// ArchiveSmallFiles: small files into packs, then their member records
// (fls/pack.h).
#include <atomic>
#include <chrono>
#include <memory>
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

// The packs met while looking names up, each looked up once: many files of
// one job were usually packed together. Shared by the lookup threads.
// LocateName, through the pack cache.
Status LocateCached(const Store& store, const std::string& name, internal::PackCache* packs,
                    Located* out) {
  Status s = store.FindObject(name, &out->object);
  if (s.code() != Status::Code::kNotFound) return s;
  MemberEntry m;
  Status ms = internal::ReadMemberRecords(store, name, &m);
  if (ms.code() == Status::Code::kNotFound) return s;
  FLS_RETURN_IF_ERROR(ms);
  const std::shared_ptr<const CatalogEntry> pack = packs->Find(m.member.pack);
  FLS_RETURN_IF_ERROR(internal::CheckMemberPack(store, pack.get(), &m));
  out->member = true;
  out->packed = std::move(m.member);
  out->object = std::move(m.pack);
  return Status::Ok();
}

// Looks up files[i] for every i in `which` on up to `threads` threads:
// a file archived already, or whose lookup failed, is reported from there
// (`report` must be thread-safe); the others get (*to_pack)[i] = true.
// False when `cancelled` stopped it.
bool LookUpNames(const Store& store, const OpenSourceFn& open, const std::vector<PackInput>& files,
                 const std::vector<std::size_t>& which, bool compare_checksum, int threads,
                 const std::function<bool()>& cancelled,
                 const std::function<void(std::size_t, const PackedItem&)>& report,
                 std::vector<char>* to_pack) {
  internal::PackCache packs(store);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stopped{false};
  auto run = [&](int) {
    for (std::size_t w = next++; w < which.size(); w = next++) {
      // Checked every 64 names: a lookup is short, a cancel is rare.
      if (w % 64 == 0 && cancelled && cancelled()) stopped = true;
      if (stopped) return;
      const std::size_t i = which[w];
      const PackInput& in = files[i];
      Located found;
      Status s = LocateCached(store, in.name, &packs, &found);
      if (s.code() == Status::Code::kNotFound) {
        (*to_pack)[i] = true;
        continue;
      }
      PackedItem item;
      if (s.ok())
        item = CheckArchived(open, in, found, compare_checksum);
      else
        item.status = s.WithContext("checking whether '" + in.name + "' is archived already");
      report(i, item);
    }
  };
  // A thread per 16 names at most: a small batch is not worth the threads.
  const std::size_t n = std::min<std::size_t>(std::max(1, threads), 1 + which.size() / 16);
  RunOnThreads(std::min(n, which.size()), run);
  return !stopped;
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
  std::vector<std::size_t> valid;  // the files whose names may be looked up
  for (std::size_t i = 0; i < files.size(); ++i) {
    PackedItem item;
    item.status = ValidateObjectName(files[i].name).WithContext(files[i].source);
    if (item.status.ok() && !names.insert(files[i].name).second)
      item.status = Status::InvalidArgument("the name '" + files[i].name + "' is given twice");
    if (item.status.ok())
      valid.push_back(i);
    else
      report(i, item);
  }
  std::vector<char> to_pack(files.size(), 0);
  if (!LookUpNames(store, open, files, valid, options.compare_checksum, pack.lookup_threads,
                   pack.cancelled, report, &to_pack))
    return Status::Cancelled("archive cancelled");
  // Files go into packs in the order given, so that a rerun packs alike.
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!to_pack[i]) continue;
    if (groups.empty() ||
        (!groups.back().files.empty() && (groups.back().bytes + files[i].size > pack.max_bytes ||
                                          groups.back().files.size() >= pack.max_files)))
      groups.emplace_back();
    groups.back().files.push_back(i);
    groups.back().bytes += files[i].size;
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
