#include "service/job_executor.h"

namespace fls::service {
namespace {

// The executor of a build without the archive layer: it says so for every
// job, rather than pretending. (The archive binding replaces it.)
class UnboundExecutor : public JobExecutor {
 public:
  Status Execute(const Job& job, JobContext&) override {
    return Status::Unavailable("job kind '" + job.kind +
                               "' is not available in this build: the archive layer is not "
                               "linked into the job service yet");
  }
  std::string backend() const override { return ""; }
};

}  // namespace

Status CreateDefaultExecutor(const StoreConfig&, std::unique_ptr<JobExecutor>* executor) {
  *executor = std::make_unique<UnboundExecutor>();
  return Status::Ok();
}

std::string ArchiveObjectName(const std::string& name_prefix, const std::string& resolved_path) {
  std::size_t i = 0;
  while (i < resolved_path.size() && resolved_path[i] == '/') ++i;
  return name_prefix + resolved_path.substr(i);
}

}  // namespace fls::service
