// The broker's held STATUS requests: a STATUS with `wait_ms` for a job that
// has not ended gets its reply when the job ends (any terminal state is
// published, and Publish notes it) or when its wait is over, whichever is
// first. The deadline is the backstop: a reply is never later than it.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker.h"

namespace fls::service {

bool Broker::HoldStatus(const std::string& identity, bool delimited, const nlohmann::json& body) {
  const std::int64_t wait_ms = body.value("wait_ms", std::int64_t{0});
  if (wait_ms <= 0) return false;
  if (held_status_.size() >= kMaxHeldStatus) {
    spdlog::debug("{} STATUS requests held already: this one is answered at once", kMaxHeldStatus);
    return false;
  }
  // A job that does not exist or has ended is answered at once, as without
  // a wait; only a queued or running one is held.
  JobRecord job;
  const std::int64_t id = body["job_id"].get<std::int64_t>();
  if (!journal_->Get(id, false, &job).ok() || IsEndedJobState(job.state)) return false;
  held_status_.push_back({identity, delimited, id, body.value("files", false),
                          Clock::now() + std::chrono::milliseconds(wait_ms)});
  return true;
}

void Broker::AnswerHeldStatus(bool all) {
  if (held_status_.empty()) {
    ended_jobs_.clear();
    return;
  }
  const auto now = Clock::now();
  std::vector<StatusWaiter> still;
  for (StatusWaiter& w : held_status_) {
    if (!all && now < w.deadline && ended_jobs_.count(w.job_id) == 0) {
      still.push_back(std::move(w));
      continue;
    }
    JobRecord job;
    const Status s = journal_->Get(w.job_id, w.files, &job);
    ReplyToClient(w.identity, w.delimited,
                  s.ok() ? OkReply(job.ToJson(w.files)) : ErrorReply(FromStatus(s)));
  }
  held_status_ = std::move(still);
  ended_jobs_.clear();
}

long Broker::MillisecondsToNextDue(long cap) const {
  if (!ended_jobs_.empty()) return 0;
  long next = cap;
  const auto now = Clock::now();
  for (const StatusWaiter& w : held_status_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(w.deadline - now).count();
    next = std::min<long>(next, std::max<long>(left, 0));
  }
  return next;
}

}  // namespace fls::service
