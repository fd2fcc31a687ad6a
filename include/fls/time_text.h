// Times as people write them: UTC timestamps in RFC 3339 form for messages
// and listings, and the dates an operator gives to --retain-until.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "fls/status.h"

namespace fls {

// "2026-12-02T22:57:57Z" (UTC, whole seconds) for ns since the Unix epoch.
std::string FormatTimeNs(std::int64_t ns);

// Parses "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM[:SS]Z" or with an
// offset "+HH:MM" / "-HH:MM" instead of Z, into ns since the Unix epoch.
// InvalidArgument naming the text and the expected forms otherwise (an
// impossible date such as 2027-02-30 included).
Status ParseTimeText(const std::string& text, std::int64_t* ns);

// Now, ns since the Unix epoch (system clock).
std::int64_t NowNs();

}  // namespace fls
