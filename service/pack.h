// Packs: many small files stored as one archived object.
//
// Fourteen chunk files and several manifest copies per 4 KiB file would
// drown the targets in metadata and fsyncs, so the executor concatenates the
// small files of a job into a pack file and archives that as one ordinary
// object (named "fls-pack/<32 hex digits>"). The pack carries its own index,
// so the catalogue can still be rebuilt from the targets alone:
//
//   [file 0 bytes][file 1 bytes]...[index JSON][index length: u64 LE]["FLSPACK1"]
//
// index JSON: {"format": "fls-pack/1", "files": [{"name", "offset", "length",
// "sha256", "mode", "mtime_ns"}, ...]} with offsets from the pack's start.
// A packed file restores on its own by a range restore of its pack (only the
// stripes it touches are read), checked against its SHA-256.
// Thread-safety: pure functions and values; PackDirectory is not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/env.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls::service {

inline constexpr char kPackMagic[9] = "FLSPACK1";
inline constexpr char kPackPrefix[] = "fls-pack/";

struct PackEntry {
  std::string name;  // the file's object name
  std::string pack;  // the pack object's name
  std::uint64_t offset = 0, length = 0;
  std::string sha256;
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
};

// Opens source file `path` for reading, `info` from the open descriptor (the
// executor opens below the source roots: service/confined_io.h).
using OpenSourceFn = std::function<Status(const std::string& path,
                                          std::unique_ptr<RandomAccessFile>* file, FileInfo* info)>;

// Writes the pack of `paths` (object names `names`) as `out_name`, created in
// `dir`. entries and errors get one element per path: a file that cannot be
// opened or read is left out of the index, with its error in (*errors)[i]
// (the others are packed all the same); (*entries)[i] is valid when
// (*errors)[i] is Ok (its `pack` left empty). The returned status fails only
// when the pack file itself cannot be written.
Status WritePackFile(const OpenSourceFn& open, const std::vector<std::string>& paths,
                     const std::vector<std::string>& names, Directory* dir,
                     const std::string& out_name, std::vector<PackEntry>* entries,
                     std::vector<Status>* errors);

// Parses the trailer + index at the end of a pack's bytes (`tail` holds the
// last bytes; `pack_size` the whole size). When the tail is too short,
// `needed` is set to the number of tail bytes required and Ok is returned
// with no entries.
Status ParsePackTail(const std::string& tail, std::uint64_t pack_size, const std::string& pack,
                     std::vector<PackEntry>* entries, std::uint64_t* needed);

// The packed files of a store, found by reading every pack's index.
class PackDirectory {
 public:
  // Reads the catalogue and the index of every pack object not read before
  // (range restores of each pack's tail into `scratch`), so that a
  // long-lived directory costs one catalogue read per call. Unreadable packs
  // are skipped and named in `warnings`.
  Status Refresh(const Store& store, Directory* scratch);
  const PackEntry* Find(const std::string& name) const;
  void Add(const PackEntry& e) { by_name_[e.name] = e; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::map<std::string, PackEntry> by_name_;
  std::set<std::string> loaded_;  // pack objects whose index is in by_name_
  std::vector<std::string> warnings_;
};

}  // namespace fls::service
