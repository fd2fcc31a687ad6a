// Packs: many small files stored as one archived object, and the member
// records that find each of them by name.
//
// Fourteen chunk files and several manifest copies per 4 KiB file would
// drown the targets in metadata and fsyncs, so small files are concatenated
// into a pack, archived as one ordinary object named "fls-pack/<32 hex>".
// The pack is built as a stream (PackStream, host/archive/pack_stream.h):
// each member is read, hashed and coded as it passes; no scratch copy is
// written. Its bytes end with an index, so the members can always be found
// again from the targets alone:
//
//   [file 0 bytes][file 1 bytes]...[index JSON][index length: u64 LE]["FLSPACK1"]
//
// index JSON: {"format": "fls-pack/1", "files": [{"name", "offset", "length",
// "sha256", "mode", "mtime_ns"}, ...]} with offsets from the pack's start
// (the JSON may be followed by spaces up to the index length).
//
// Each packed file ("member") also gets a member record, addressed by its
// name like a version 3 manifest: fls-n<NameHash>.member on m + 1 targets
// (docs/FORMAT.md), naming the pack, the pack's object id, the range and
// the file's SHA-256, mode and mtime. Lookups by name open that file on
// every target, never a catalogue. The commit order is: the pack object
// (chunks, then manifest), then the member records; a member exists when a
// record of it can be read and its pack's manifest carries the record's
// pack id. A crash between the two leaves the pack's bytes unreferenced and
// the file not archived (a rerun packs it again).
//
// Thread-safety: free functions; ArchiveSmallFiles runs packs on its own
// threads and calls `on_item` from them (one call at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/env.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

inline constexpr char kPackMagic[9] = "FLSPACK1";
inline constexpr char kPackPrefix[] = "fls-pack/";
inline constexpr int kMemberRecordFormatVersion = 1;
// The index format packs are written with: fls-pack/2, the same JSON as
// fls-pack/1, written since packs get member records (docs/FORMAT.md 8).
inline constexpr char kPackIndexFormat[] = "fls-pack/2";
inline constexpr char kPackIndexFormatV1[] = "fls-pack/1";

// A file inside a pack.
struct PackEntry {
  std::string name;     // the file's object name
  std::string pack;     // the pack object's name
  std::string pack_id;  // 32 hex digits: the pack object's id (member records)
  std::uint64_t offset = 0, length = 0;
  std::string sha256;
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
  // Member records only (not the pack index): 0, or the time before which
  // `fls rm` refuses to delete the file (--retain-until).
  std::int64_t retain_until_ns = 0;
};

// True for the name of a pack object ("fls-pack/...").
bool IsPackName(const std::string& name);

// Parses the trailer + index at the end of a pack's bytes (`tail` holds the
// last bytes; `pack_size` the whole size). When the tail is too short,
// `needed` is set to the number of tail bytes required and Ok is returned
// with no entries.
// `recorded_members` (optional) is set for an index of format fls-pack/2:
// the pack was written with member records, so a member without a record
// was deleted (or failed), never "from before records" (fls-pack/1).
Status ParsePackTail(const std::string& tail, std::uint64_t pack_size, const std::string& pack,
                     std::vector<PackEntry>* entries, std::uint64_t* needed,
                     bool* recorded_members = nullptr);

// The index of a pack of `entries` (JSON, spaces up to `reserve` bytes when
// it is larger than the JSON, length, magic): the last bytes of the pack.
std::string EncodePackTail(const std::vector<PackEntry>& entries, std::size_t reserve = 0);

// Opens source `path` for reading, `info` from the open descriptor (the
// service opens below its source roots: service/confined_io.h; the CLI
// through the Env).
using OpenSourceFn = std::function<Status(const std::string& path,
                                          std::unique_ptr<RandomAccessFile>* file, FileInfo* info)>;

// One file to pack: its object name, its source path (for `open`) and its
// size when it was listed (a file that has another size when it is read
// fails as "changed while being archived").
struct PackInput {
  std::string name;
  std::string source;
  std::uint64_t size = 0;
  // The member record's retention; 0: ArchiveOptions::retain_until_ns.
  std::int64_t retain_until_ns = 0;
};

// ---- member records (host/archive/member_record.cc) ----

// "fls-n" + NameHash(name) + ".member".
std::string MemberRecordFileName(const std::string& name);
// Compact canonical JSON with its checksum (docs/FORMAT.md).
std::string EncodeMemberRecord(const PackEntry& e);
// Corruption naming the field at fault.
Status DecodeMemberRecord(std::string_view text, PackEntry* e);

// A member's tombstone: what replaces its record copies when it is deleted
// (docs/FORMAT.md section 8). It names the record it kills by pack id and
// offset, so that a record of a later archive of the same name lives on.
struct MemberTombstone {
  std::string name, pack_id;
  std::uint64_t offset = 0;
  std::int64_t deleted_ns = 0;
};
std::string EncodeMemberTombstone(const MemberTombstone& t);
Status DecodeMemberTombstone(std::string_view text, MemberTombstone* t);

// Writes the records of `members` (all in one pack) on m + 1 joined targets
// each (rendezvous order of the name hash): temporaries, fsync, renames,
// one directory fsync per target. `statuses` gets one status per member; a
// member whose records could not all be written has none left behind.
void CommitMemberRecords(const Store& store, int m, const std::vector<PackEntry>& members,
                         std::vector<Status>* statuses);

// A packed file found by name, with its pack's catalogue entry.
struct MemberEntry {
  PackEntry member;
  CatalogEntry pack;
  std::vector<std::string> copies;  // paths of the readable records
  std::vector<std::string> problems;
  // Tombstone copies of this name found beside (or instead of) the records,
  // whichever record they kill; `deleted` when one kills `member`.
  std::vector<std::string> tombstone_copies;
  bool deleted = false;
  std::int64_t deleted_ns = 0;
};

// The member record of `name`: NotFound when no record of that name exists,
// when a tombstone kills it (deleted: entry->deleted, tombstone_copies), or
// when its pack is gone or carries another id (the record is then an
// orphan: `problems` says so); Corruption when every record found is
// unreadable.
Status FindMember(const Store& store, const std::string& name, MemberEntry* entry);

// Every packed file of the store: lists the targets' member records
// (16 bytes per name in memory), then looks each name up (FindMember).
// Records that cannot be used (unreadable, or orphans whose pack is gone)
// go to `problems` (may be null). `fn` returns false to stop. Names with
// tombstones go to `deleted` (optional): a deleted member (entry.deleted,
// not passed to `fn`), or a live record beside tombstones of an earlier
// incarnation (then passed to `fn` too).
void WalkMembers(const Store& store, const std::function<bool(MemberEntry&)>& fn,
                 std::vector<std::string>* problems,
                 const std::function<void(MemberEntry&)>& deleted = nullptr);

// What a name is in the store: an object of its own, or a packed file.
struct Located {
  bool member = false;
  CatalogEntry object;  // the object, or the member's pack
  PackEntry packed;     // with member
};
// FindObject, then FindMember. NotFound naming the name when neither exists.
Status LocateName(const Store& store, const std::string& name, Located* out);

// Writes the member records a pack's index lists that have none yet (packs
// written before member records existed). `written` counts them.
Status RecordPackMembers(const Store& store, const CatalogEntry& pack, std::uint64_t* written);

// ---- archiving small files into packs (host/archive/pack_archive.cc) ----

struct PackOptions {
  std::uint64_t max_bytes = 256ull << 20;  // member bytes per pack
  std::size_t max_files = 4096;            // members per pack
  int concurrent_packs = 2;                // packs read and coded at once
  // Threads looking names up ("archived already?") before packing: each
  // lookup opens the name's files on every target, so a batch of names that
  // are mostly archived already is bound by those opens, not by coding.
  int lookup_threads = 4;
  // Called before each pack is coded; returns what to call once its last
  // stripe batch is encoded (ArchiveOptions::encode_done; it may be called
  // twice). The service joins its coalescing backend here.
  std::function<std::function<void()>()> start_pack;
  std::function<bool()> cancelled;  // checked before each pack
};

// What happened to one file given to ArchiveSmallFiles.
struct PackedItem {
  Status status;
  bool unchanged = false;  // archived already with this content: nothing written
  bool member = true;      // false: archived already as an object of its own
  PackEntry entry;         // where it is (with `member`)
  std::string backend;     // that coded its pack
};

// Archives `files` (each under its object name) into packs: names already
// archived pass the quick check (size, mtime and mode as recorded, or the
// SHA-256 with options.compare_checksum) and are reported unchanged, or are
// refused when the content differs; the others are grouped into packs of
// `pack` and archived (ArchiveOpenFile on a PackStream), then their member
// records are committed. Names are looked up on pack.lookup_threads
// threads and packs coded on pack.concurrent_packs, so `open` is called from
// several threads at once; `on_item(i, item)` reports files[i] once, from
// any of them, one call at a time. Errors of single files go to their
// items; Cancelled when pack.cancelled said so (the files not yet looked up
// and those of packs not started are not reported).
Status ArchiveSmallFiles(const Store& store, const OpenSourceFn& open,
                         const std::vector<PackInput>& files, const ArchiveOptions& options,
                         const PackOptions& pack,
                         const std::function<void(std::size_t, const PackedItem&)>& on_item);

}  // namespace fls
