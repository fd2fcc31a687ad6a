// DamageRecorder (mount_health.h).
#include "mount_health.h"

#include <memory>

#include "fls/health_db.h"

namespace fls::cli {
namespace {
// Findings remembered as already queued or written. Past this the memory is
// cleared: recording a finding again changes nothing in the database.
constexpr std::size_t kMaxSeen = 1 << 20;
}  // namespace

DamageRecorder::DamageRecorder(std::string db_path, std::function<void(const std::string&)> log,
                               std::size_t max_pending_chunks)
    : db_path_(std::move(db_path)), log_(std::move(log)), max_pending_(max_pending_chunks) {}

DamageRecorder::~DamageRecorder() { Stop(); }

Status DamageRecorder::CheckDatabase(const std::string& db_path) {
  std::unique_ptr<HealthDb> db;
  return HealthDb::Open(db_path, &db);
}

void DamageRecorder::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void DamageRecorder::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DamageRecorder::Add(const Manifest& mf, const StreamDamage& d) {
  const std::string key = ObjectIdToHex(mf.id) + "/" + std::to_string(mf.generation);
  const std::uint64_t stripe = d.stripes.empty() ? UINT64_MAX : d.stripes.front();
  {
    std::lock_guard<std::mutex> l(mu_);
    if (seen_.count({key, d.chunk, stripe})) return;
    auto it = pending_.find(key);
    const bool new_chunk = it == pending_.end() || !it->second.chunks.count(d.chunk);
    if (new_chunk && pending_chunks_ >= max_pending_) {
      ++dropped_;
      if (!full_logged_ && log_)
        log_("health database: " + std::to_string(max_pending_) +
             " damaged chunks wait to be written; further findings are dropped until they are "
             "(the next sweep finds them)");
      full_logged_ = true;
      return;
    }
    if (seen_.size() >= kMaxSeen) seen_.clear();
    seen_.insert({key, d.chunk, stripe});
    if (it == pending_.end()) it = pending_.emplace(key, Pending{mf, {}}).first;
    ChunkReport& c = it->second.chunks[d.chunk];
    if (new_chunk) {
      ++pending_chunks_;
      c.index = d.chunk;
      c.state = d.state;
      c.detail = d.detail;
    } else if (d.stripes.empty()) {  // the whole chunk is bad
      c.state = d.state;
      c.detail = d.detail;
    }
    // Stripes only matter while the chunk is not bad as a whole.
    if (d.stripes.empty() || (!new_chunk && c.bad_stripes.empty()))
      c.bad_stripes.clear();
    else
      c.bad_stripes.insert(c.bad_stripes.end(), d.stripes.begin(), d.stripes.end());
  }
  cv_.notify_one();
}

void DamageRecorder::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and nothing is left
    std::map<std::string, Pending> batch;
    batch.swap(pending_);
    pending_chunks_ = 0;
    full_logged_ = false;
    l.unlock();
    Write(batch);
    l.lock();
  }
}

void DamageRecorder::Write(std::map<std::string, Pending>& batch) {
  // Opened per batch: damage is rare, and a database that failed once (a
  // full disk, a lock held past the busy timeout) may work the next time.
  std::unique_ptr<HealthDb> db;
  Status s = HealthDb::Open(db_path_, &db);
  std::uint64_t written = 0;
  for (auto& [key, p] : batch) {
    std::vector<ChunkReport> chunks;
    for (auto& [i, c] : p.chunks) chunks.push_back(std::move(c));
    if (s.ok()) s = db->RecordDamageSeen(p.manifest, chunks);
    if (!s.ok()) {
      if (log_)
        log_("health database: the damage of object '" + p.manifest.name +
             "' was not recorded: " + s.ToString());
      // Later findings of these chunks get another chance.
      std::lock_guard<std::mutex> l(mu_);
      for (const ChunkReport& c : chunks)
        seen_.erase(seen_.lower_bound({key, c.index, 0}), seen_.lower_bound({key, c.index + 1, 0}));
      if (db != nullptr) s = Status::Ok();  // the next object may still be written
      continue;
    }
    written += chunks.size();
  }
  std::lock_guard<std::mutex> l(mu_);
  written_ += written;
}

std::uint64_t DamageRecorder::written() const {
  std::lock_guard<std::mutex> l(mu_);
  return written_;
}

std::uint64_t DamageRecorder::dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_;
}

}  // namespace fls::cli
