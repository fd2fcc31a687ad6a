// `fls version`: what this binary is, how it was built, and which backends
// this host can use (and why not).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "fls/backend_registry.h"

namespace fls::cli {

void AddVersionCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("version", "Version, build options and usable backends");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->callback([json, &exit_code] {
#ifdef FLS_HAVE_CUDA
    const bool cuda_built = true;
#else
    const bool cuda_built = false;
#endif
    // Resolving `auto` runs the candidates' self-tests first, so that the
    // table shows a backend they refused.
    const std::string auto_choice = ResolveAutoBackend();
    const auto backends = DescribeBackends();
    if (*json) {
      nlohmann::json out;
      out["version"] = FLS_VERSION;
      out["cuda_compiled"] = cuda_built;
      out["compiler"] = __VERSION__;
      out["auto_backend"] = auto_choice;
      for (const auto& b : backends)
        out["backends"].push_back({{"name", b.name},
                                   {"compiled", b.compiled},
                                   {"usable", b.usable},
                                   {"detail", b.detail}});
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("fls %s\n", FLS_VERSION);
      std::printf("build: C++20, compiler %s, CUDA backend %s\n", __VERSION__,
                  cuda_built ? "compiled" : "not compiled (FLS_CUDA=OFF or no nvcc)");
      std::printf("backends (auto -> %s):\n", auto_choice.c_str());
      for (const auto& b : backends)
        std::printf("  %-10s %-13s %s\n", b.name.c_str(),
                    !b.compiled ? "not compiled" : (b.usable ? "usable" : "unusable"),
                    b.detail.c_str());
    }
    exit_code = kExitOk;
  });
}

}  // namespace fls::cli
