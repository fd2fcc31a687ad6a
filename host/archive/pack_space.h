// How a pack's data-chunk bytes divide between live members, dead members
// and the pack's index, for ReportSpace (fls/space_report.h). A member is
// live exactly when the public lookup of its name (LocateName) answers a
// member of this pack (its id) at this offset; anything else, whatever
// deletion made it so, is dead.
// Thread-safety: free functions (the Store is thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "fls/backend.h"
#include "fls/geometry.h"
#include "fls/store.h"

namespace fls::internal {

// Per data chunk j of a pack: source bytes of live and of dead members, and
// bytes of the index, that chunk j's blocks hold. What is left of the
// chunk's data bytes (StripeGeometry) is bytes no index entry names.
struct PackSplit {
  std::vector<std::uint64_t> live, dead, index;  // k each
  std::uint64_t live_members = 0, dead_members = 0;
  std::uint64_t live_bytes = 0, dead_bytes = 0;  // source bytes
};

// Adds to per_chunk[j] the bytes of file range [begin, end) that data
// block j holds (every stripe the range touches).
void AddRangeByChunk(const StripeGeometry& g, std::uint64_t begin, std::uint64_t end,
                     std::vector<std::uint64_t>* per_chunk);

// Backends for reading pack indexes, one per code (k, m, matrix).
class IndexBackends {
 public:
  Status Get(int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* backend);

 private:
  std::map<std::tuple<int, int, int>, std::shared_ptr<Backend>> backends_;
};

// Reads `pack`'s index (the tail of its bytes, through the checked read
// path) and looks each member up. Members that overlap an earlier one are
// counted once, with a warning; a member whose lookup fails other than
// NotFound is counted live, with a warning.
Status SplitPack(const Store& store, const CatalogEntry& pack, IndexBackends* backends,
                 PackSplit* split, std::vector<std::string>* warnings);

}  // namespace fls::internal
