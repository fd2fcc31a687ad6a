#include "journal.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "fls/sqlite_util.h"

namespace fls::service {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

using Stmt = internal::SqlStmt;
using Txn = internal::SqlTxn;

// Client-visible commits (SUBMIT, CANCEL, CLOSE) are fsynced before the
// reply: synchronous=FULL for their transaction. Worker progress and job
// state changes run with NORMAL (in WAL mode: durable across process
// crashes, may roll back on power loss), which a resumed job tolerates:
// files archived but not recorded are recognised and not stored again.
class FullSync {
 public:
  explicit FullSync(sqlite3* db) : db_(db) {
    sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  }
  ~FullSync() { sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr); }

 private:
  sqlite3* db_;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  lease_keys TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  worker TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL,
  started REAL NOT NULL DEFAULT 0,
  finished REAL NOT NULL DEFAULT 0,
  backend TEXT NOT NULL DEFAULT '',
  seconds REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, id);
CREATE TABLE IF NOT EXISTS items(
  job_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  result TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(job_id, name));
CREATE INDEX IF NOT EXISTS items_by_seq ON items(job_id, seq);
CREATE TABLE IF NOT EXISTS leases(
  key TEXT PRIMARY KEY,
  job_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS leases_by_job ON leases(job_id);
)sql";

constexpr const char* kJobColumns =
    "SELECT id, kind, state, spec, error, worker, attempt, cancel_requested, created, started, "
    "finished, backend, seconds, "
    "(SELECT count(*) FROM items i WHERE i.job_id = jobs.id), "
    "(SELECT count(*) FROM items i WHERE i.job_id = jobs.id AND i.state = 'done'), "
    "(SELECT count(*) FROM items i WHERE i.job_id = jobs.id AND i.state = 'failed'), "
    "(SELECT coalesce(sum(bytes), 0) FROM items i WHERE i.job_id = jobs.id) FROM jobs ";

}  // namespace

nlohmann::json JobRecord::ToJson(bool with_items) const {
  nlohmann::json j = {{"job_id", id},
                      {"kind", kind},
                      {"state", state},
                      {"spec", spec},
                      {"error", error},
                      {"worker", worker},
                      {"attempt", attempt},
                      {"cancel_requested", cancel_requested},
                      {"created", created},
                      {"started", started},
                      {"finished", finished},
                      {"items_total", items_total},
                      {"items_done", items_done},
                      {"items_failed", items_failed},
                      {"bytes", bytes},
                      {"backend", backend},
                      {"seconds", seconds}};
  if (with_items) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& it : items) {
      nlohmann::json e = {{"name", it.name}, {"state", it.state}, {"bytes", it.bytes}};
      if (!it.error.empty()) e["error"] = it.error;
      if (!it.result.is_null()) e["result"] = it.result;
      list.push_back(std::move(e));
    }
    j["items"] = std::move(list);
  }
  return j;
}

Journal::~Journal() { sqlite3_close(db_); }

Status Journal::Error(const char* what) {
  return Status::IOError(std::string("journal: ") + what + ": " + sqlite3_errmsg(db_));
}

Status Journal::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError(std::string("journal: ") + msg);
  }
  return Status::Ok();
}

Status Journal::Open(const std::string& path, std::unique_ptr<Journal>* journal) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("cannot open journal '" + path + "': " + msg);
  }
  std::unique_ptr<Journal> j(new Journal(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL with synchronous=FULL: every commit is fsynced before it returns, so
  // a job id handed to a client is never lost.
  Status s = j->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (s.ok()) s = j->Exec(kSchema);
  if (!s.ok()) return s.WithContext("journal '" + path + "'");
  *journal = std::move(j);
  return Status::Ok();
}

Status Journal::Recover(int* requeued) {
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt cancel(db_,
              "UPDATE jobs SET state='cancelled', finished=?1, error='cancelled by request' "
              "WHERE state='running' AND cancel_requested=1");
  cancel.Bind(1, Now());
  if (cancel.Step() != SQLITE_DONE) return Error("recover");
  Stmt back(db_,
            "UPDATE jobs SET state='queued', worker='', "
            "error='re-queued: the service restarted while it ran' WHERE state='running'");
  if (back.Step() != SQLITE_DONE) return Error("recover");
  *requeued = sqlite3_changes(db_);
  if (!Exec("DELETE FROM leases").ok() || !txn.Commit()) return Error("recover");
  return Status::Ok();
}

Status Journal::Submit(const std::string& kind, const nlohmann::json& spec,
                       const std::vector<std::string>& items,
                       const std::vector<std::string>& lease_keys, std::int64_t* id) {
  FullSync full(db_);
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt ins(db_,
           "INSERT INTO jobs(kind, state, spec, lease_keys, created) VALUES(?1, 'queued', ?2, ?3, "
           "?4)");
  ins.Bind(1, kind).Bind(2, spec.dump()).Bind(3, nlohmann::json(lease_keys).dump()).Bind(4, Now());
  if (ins.Step() != SQLITE_DONE) return Error("submit");
  const std::int64_t job = sqlite3_last_insert_rowid(db_);
  Stmt item(db_, "INSERT OR IGNORE INTO items(job_id, seq, name) VALUES(?1, ?2, ?3)");
  for (std::size_t i = 0; i < items.size(); ++i) {
    item.Bind(1, job).Bind(2, static_cast<std::int64_t>(i)).Bind(3, items[i]);
    if (item.Step() != SQLITE_DONE) return Error("submit item");
    item.Reset();
  }
  if (!txn.Commit()) return Error("commit");
  *id = job;
  return Status::Ok();
}

Status Journal::ReadJob(void* p, JobRecord* j) {
  Stmt& s = *static_cast<Stmt*>(p);
  j->id = s.Int(0);
  j->kind = s.Text(1);
  j->state = s.Text(2);
  j->spec = nlohmann::json::parse(s.Text(3), nullptr, false);
  j->error = s.Text(4);
  j->worker = s.Text(5);
  j->attempt = static_cast<int>(s.Int(6));
  j->cancel_requested = s.Int(7) != 0;
  j->created = s.Real(8);
  j->started = s.Real(9);
  j->finished = s.Real(10);
  j->backend = s.Text(11);
  j->seconds = s.Real(12);
  j->items_total = s.Int(13);
  j->items_done = s.Int(14);
  j->items_failed = s.Int(15);
  j->bytes = static_cast<std::uint64_t>(s.Int(16));
  return Status::Ok();
}

Status Journal::Get(std::int64_t id, bool with_items, JobRecord* job) {
  Stmt s(db_, (std::string(kJobColumns) + "WHERE id=?1").c_str());
  s.Bind(1, id);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return Status::NotFound("no job " + std::to_string(id));
  if (rc != SQLITE_ROW) return Error("get");
  ReadJob(&s, job);
  job->items.clear();
  if (with_items) {
    Stmt it(db_,
            "SELECT name, state, result, error, bytes FROM items WHERE job_id=?1 ORDER BY seq");
    it.Bind(1, id);
    int r;
    while ((r = it.Step()) == SQLITE_ROW) {
      JobItemRecord rec;
      rec.name = it.Text(0);
      rec.state = it.Text(1);
      const std::string res = it.Text(2);
      if (!res.empty()) rec.result = nlohmann::json::parse(res, nullptr, false);
      rec.error = it.Text(3);
      rec.bytes = static_cast<std::uint64_t>(it.Int(4));
      job->items.push_back(std::move(rec));
    }
    if (r != SQLITE_DONE) return Error("get items");
  }
  return Status::Ok();
}

Status Journal::List(const std::string& state, int limit, std::vector<JobRecord>* jobs) {
  std::string sql = kJobColumns;
  sql += state.empty() ? "ORDER BY id DESC LIMIT ?1" : "WHERE state=?2 ORDER BY id DESC LIMIT ?1";
  Stmt s(db_, sql.c_str());
  s.Bind(1, static_cast<std::int64_t>(limit));
  if (!state.empty()) s.Bind(2, state);
  jobs->clear();
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    JobRecord j;
    ReadJob(&s, &j);
    jobs->push_back(std::move(j));
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error("list");
}

Status Journal::Queued(int limit, std::vector<JobRecord>* jobs) {
  Stmt s(db_, "SELECT id, kind, spec, attempt FROM jobs WHERE state='queued' ORDER BY id LIMIT ?1");
  s.Bind(1, static_cast<std::int64_t>(limit));
  jobs->clear();
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    JobRecord j;
    j.id = s.Int(0);
    j.kind = s.Text(1);
    j.spec = nlohmann::json::parse(s.Text(2), nullptr, false);
    j.attempt = static_cast<int>(s.Int(3));
    j.state = "queued";
    jobs->push_back(std::move(j));
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error("queued");
}

std::int64_t Journal::QueueDepth() {
  Stmt s(db_, "SELECT count(*) FROM jobs WHERE state='queued'");
  return s.Step() == SQLITE_ROW ? s.Int(0) : -1;
}

Status Journal::Start(std::int64_t id, const std::string& worker, bool* started, int* attempt) {
  *started = false;
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt get(db_, "SELECT lease_keys, attempt, state FROM jobs WHERE id=?1");
  get.Bind(1, id);
  if (get.Step() != SQLITE_ROW) return Status::NotFound("no job " + std::to_string(id));
  if (get.Text(2) != "queued") return Status::Ok();
  const nlohmann::json keys = nlohmann::json::parse(get.Text(0), nullptr, false);
  const int next_attempt = static_cast<int>(get.Int(1)) + 1;
  if (!keys.is_array())
    return Status::Corruption("journal: job " + std::to_string(id) + " lease keys");
  {
    Stmt any(db_, "SELECT count(*) FROM leases");
    Stmt star(db_, "SELECT count(*) FROM leases WHERE key='*'");
    Stmt one(db_, "SELECT count(*) FROM leases WHERE key=?1");
    if (star.Step() != SQLITE_ROW) return Error("lease");
    if (star.Int(0) > 0 && !keys.empty()) return Status::Ok();
    for (const auto& k : keys) {
      const std::string key = k.get<std::string>();
      if (key == "*") {
        if (any.Step() != SQLITE_ROW) return Error("lease");
        if (any.Int(0) > 0) return Status::Ok();
        any.Reset();
        continue;
      }
      one.Bind(1, key);
      if (one.Step() != SQLITE_ROW) return Error("lease");
      if (one.Int(0) > 0) return Status::Ok();
      one.Reset();
    }
  }
  Stmt ins(db_, "INSERT OR IGNORE INTO leases(key, job_id) VALUES(?1, ?2)");
  for (const auto& k : keys) {
    ins.Bind(1, k.get<std::string>()).Bind(2, id);
    if (ins.Step() != SQLITE_DONE) return Error("lease insert");
    ins.Reset();
  }
  Stmt up(db_,
          "UPDATE jobs SET state='running', worker=?2, attempt=?3, started=?4, error='' WHERE "
          "id=?1");
  up.Bind(1, id).Bind(2, worker).Bind(3, static_cast<std::int64_t>(next_attempt)).Bind(4, Now());
  if (up.Step() != SQLITE_DONE) return Error("start");
  if (!txn.Commit()) return Error("commit");
  *started = true;
  *attempt = next_attempt;
  return Status::Ok();
}

Status Journal::PendingItems(std::int64_t id, std::vector<std::string>* names) {
  Stmt s(db_, "SELECT name FROM items WHERE job_id=?1 AND state!='done' ORDER BY seq");
  s.Bind(1, id);
  names->clear();
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) names->push_back(s.Text(0));
  return rc == SQLITE_DONE ? Status::Ok() : Error("pending items");
}

Status Journal::RecordItems(std::int64_t id, const std::vector<ItemUpdate>& updates) {
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt up(db_,
          "INSERT INTO items(job_id, seq, name, state, result, error, bytes) "
          "VALUES(?1, (SELECT coalesce(max(seq), -1) + 1 FROM items WHERE job_id=?1), ?2, ?3, ?4, "
          "?5, ?6) ON CONFLICT(job_id, name) DO UPDATE SET state=excluded.state, "
          "result=excluded.result, error=excluded.error, bytes=excluded.bytes");
  for (const auto& u : updates) {
    up.Bind(1, id)
        .Bind(2, u.name)
        .Bind(3, std::string(u.ok ? "done" : "failed"))
        .Bind(4, u.result.is_null() ? std::string() : u.result.dump())
        .Bind(5, u.error)
        .Bind(6, static_cast<std::int64_t>(u.bytes));
    if (up.Step() != SQLITE_DONE) return Error("record item");
    up.Reset();
  }
  if (!txn.Commit()) return Error("commit");
  return Status::Ok();
}

Status Journal::Finish(std::int64_t id, const std::string& state, const std::string& error,
                       const std::string& backend, double seconds) {
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt up(db_,
          "UPDATE jobs SET state=?2, error=?3, backend=?4, seconds=seconds+?5, finished=?6 WHERE "
          "id=?1");
  up.Bind(1, id).Bind(2, state).Bind(3, error).Bind(4, backend).Bind(5, seconds).Bind(6, Now());
  if (up.Step() != SQLITE_DONE) return Error("finish");
  Stmt del(db_, "DELETE FROM leases WHERE job_id=?1");
  del.Bind(1, id);
  if (del.Step() != SQLITE_DONE || !txn.Commit()) return Error("finish");
  return Status::Ok();
}

Status Journal::Requeue(std::int64_t id, const std::string& why) {
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt up(db_,
          "UPDATE jobs SET state=CASE WHEN cancel_requested=1 THEN 'cancelled' ELSE 'queued' END, "
          "worker='', error=?2 WHERE id=?1 AND state='running'");
  up.Bind(1, id).Bind(2, why);
  if (up.Step() != SQLITE_DONE) return Error("requeue");
  Stmt del(db_, "DELETE FROM leases WHERE job_id=?1");
  del.Bind(1, id);
  if (del.Step() != SQLITE_DONE || !txn.Commit()) return Error("requeue");
  return Status::Ok();
}

Status Journal::RequestCancel(std::int64_t id, bool* now_cancelled) {
  FullSync full(db_);
  JobRecord job;
  FLS_RETURN_IF_ERROR(Get(id, false, &job));
  *now_cancelled = false;
  if (job.state == "queued") {
    Stmt up(db_,
            "UPDATE jobs SET state='cancelled', cancel_requested=1, finished=?2, "
            "error='cancelled by request' WHERE id=?1 AND state='queued'");
    up.Bind(1, id).Bind(2, Now());
    if (up.Step() != SQLITE_DONE) return Error("cancel");
    *now_cancelled = true;
    return Status::Ok();
  }
  if (job.state == "running") {
    Stmt up(db_, "UPDATE jobs SET cancel_requested=1 WHERE id=?1");
    up.Bind(1, id);
    if (up.Step() != SQLITE_DONE) return Error("cancel");
    return Status::Ok();
  }
  return Status::InvalidArgument("job " + std::to_string(id) + " is already " + job.state);
}

Status Journal::Close(std::int64_t id) {
  JobRecord job;
  FLS_RETURN_IF_ERROR(Get(id, false, &job));
  if (job.state == "queued" || job.state == "running")
    return Status::InvalidArgument("job " + std::to_string(id) + " is " + job.state +
                                   "; cancel it or wait before closing it");
  FullSync full(db_);
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  Stmt d1(db_, "DELETE FROM items WHERE job_id=?1");
  d1.Bind(1, id);
  Stmt d2(db_, "DELETE FROM jobs WHERE id=?1");
  d2.Bind(1, id);
  if (d1.Step() != SQLITE_DONE || d2.Step() != SQLITE_DONE || !txn.Commit()) return Error("close");
  return Status::Ok();
}

Status Journal::Stats(JournalStats* stats) {
  *stats = JournalStats();
  for (const char* st : {"queued", "running", "done", "failed", "cancelled"})
    stats->jobs_by_state[st] = 0;
  Stmt s(db_, "SELECT state, count(*) FROM jobs GROUP BY state");
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) stats->jobs_by_state[s.Text(0)] = s.Int(1);
  if (rc != SQLITE_DONE) return Error("stats");
  Stmt b(db_,
         "SELECT j.backend, count(DISTINCT j.id), sum(j.seconds), "
         "(SELECT coalesce(sum(i.bytes), 0) FROM items i JOIN jobs k ON i.job_id = k.id "
         " WHERE k.backend = j.backend AND k.state IN ('done', 'failed')) "
         "FROM jobs j WHERE j.state IN ('done', 'failed') AND j.backend != '' GROUP BY j.backend");
  while ((rc = b.Step()) == SQLITE_ROW) {
    auto& e = stats->by_backend[b.Text(0)];
    e.jobs = b.Int(1);
    e.seconds = b.Real(2);
    e.bytes = static_cast<std::uint64_t>(b.Int(3));
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error("stats");
}

}  // namespace fls::service
