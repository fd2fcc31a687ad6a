// A one-line progress bar on stderr, shown only on a terminal and without
// --quiet/--json, for the archive commands.
// Thread-safety: one bar per thread; the ProgressFn it hands out calls back
// into it from whichever thread reports progress, one call at a time.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "fls/archive.h"
#include "store_args.h"

namespace fls::cli {

// A one-line progress bar on stderr, only on a terminal.
class ProgressBar {
 public:
  ProgressBar(const CommonArgs& a, std::string label)
      : enabled_(!a.quiet && !a.json && isatty(2)), label_(std::move(label)) {}
  ~ProgressBar() { Done(); }
  ProgressFn fn() {
    if (!enabled_) return nullptr;
    return [this](std::uint64_t done, std::uint64_t total) { Update(done, total); };
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  void Update(std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frac = total ? static_cast<double>(done) / total : 1.0;
    const int width = 30, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r%s [%s%s] %3d%% %.2f GB/s", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                 static_cast<int>(frac * 100), secs > 0 ? done / secs / 1e9 : 0.0);
    std::fflush(stderr);
    shown_ = true;
  }
  bool enabled_;
  std::string label_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_;
};

}  // namespace fls::cli
