// Writing one pack: the step ArchiveSmallFiles repeats per group of files,
// shared with compaction (host/archive/compact.cc), which rewrites the live
// files of old packs into new ones.
// Thread-safety: free function; concurrent calls write different packs.
#pragma once

#include <vector>

#include "fls/pack.h"

namespace fls::internal {

// Codes one pack of `inputs` (opened through `open`, in order) as a new
// object "fls-pack/<random hex>", then commits the members' records
// (CommitMemberRecords: a name's record is replaced in place by one that
// names the new pack). `items` gets one result per input: the member's
// entry, or why it has no record (its bytes then stay unreferenced).
void ArchiveOnePack(const Store& store, const OpenSourceFn& open,
                    const std::vector<PackInput>& inputs, ArchiveOptions options,
                    const PackOptions& pack, std::vector<PackedItem>* items);

}  // namespace fls::internal
