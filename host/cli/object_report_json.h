// The JSON form of an ObjectReport (verify, repair, info --json), shared
// by the inspecting commands.
// Thread-safety: a pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "fls/archive.h"

namespace fls::cli {

// The report, with each chunk's target, domain and size from `mf` when given.
nlohmann::json ReportJson(const ObjectReport& r, const Manifest* mf);

}  // namespace fls::cli
