// HealthDb (fls/health_db.h).
#include "fls/health_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "fls/sqlite_util.h"

namespace fls {
namespace {

using internal::SqlStmt;
using internal::SqlTxn;

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS chunks(
  object_id TEXT NOT NULL, idx INTEGER NOT NULL, target TEXT, path TEXT, state TEXT,
  bad_stripes TEXT, error TEXT, last_verified INTEGER, PRIMARY KEY(object_id, idx));
CREATE INDEX IF NOT EXISTS chunks_target ON chunks(target);
CREATE TABLE IF NOT EXISTS objects(
  object_id TEXT PRIMARY KEY, name TEXT, k INTEGER, m INTEGER, size INTEGER,
  generation INTEGER, health TEXT, spare INTEGER, last_verified INTEGER);
CREATE TABLE IF NOT EXISTS targets(
  path TEXT PRIMARY KEY, domain TEXT, reachable INTEGER, error TEXT, free_bytes INTEGER,
  errors INTEGER DEFAULT 0, last_checked INTEGER);
CREATE TABLE IF NOT EXISTS sweeps(
  id INTEGER PRIMARY KEY AUTOINCREMENT, mode TEXT, state TEXT, started INTEGER,
  finished INTEGER, report TEXT);
CREATE TABLE IF NOT EXISTS sweep_done(
  sweep_id INTEGER NOT NULL, object_id TEXT NOT NULL, PRIMARY KEY(sweep_id, object_id));
)sql";

std::string JoinStripes(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (std::uint64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

}  // namespace

int SpareOf(const ObjectReport& r, int m) {
  int whole = 0;
  std::map<std::uint64_t, int> per_stripe;
  int worst = 0;
  for (const ChunkReport& c : r.chunks) {
    if (c.state == "ok") continue;
    if (c.bad_stripes.empty()) {
      ++whole;
      continue;
    }
    for (std::uint64_t s : c.bad_stripes) worst = std::max(worst, ++per_stripe[s]);
  }
  return m - whole - worst;
}

Status HealthDb::Open(const std::string& path, std::unique_ptr<HealthDb>* out) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return Status::IOError("health database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(raw, 5000);
  std::unique_ptr<HealthDb> db(new HealthDb(raw));
  Status s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (s.ok()) s = db->Exec(kSchema);
  if (!s.ok()) return s.WithContext("health database " + path);
  *out = std::move(db);
  return Status::Ok();
}

HealthDb::~HealthDb() { sqlite3_close(db_); }

Status HealthDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Status::IOError("health database: " + msg);
  }
  return Status::Ok();
}

Status HealthDb::RecordObjects(const std::vector<ObjectRecord>& records, std::int64_t sweep_id) {
  SqlTxn txn(db_);
  if (!txn.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  // A chunk whose target the store no longer knows (a lost target's
  // identity went with it) keeps the target it was last recorded on, so a
  // lost target still shows the chunks it held.
  SqlStmt chunk(db_,
                "INSERT INTO chunks(object_id, idx, target, path, state, bad_stripes, error, "
                "last_verified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                "ON CONFLICT(object_id, idx) DO UPDATE SET "
                "target = CASE WHEN excluded.target = '' THEN chunks.target ELSE excluded.target "
                "END, path = CASE WHEN excluded.target = '' THEN chunks.path ELSE excluded.path "
                "END, state = excluded.state, bad_stripes = excluded.bad_stripes, "
                "error = excluded.error, last_verified = excluded.last_verified");
  SqlStmt object(db_,
                 "INSERT OR REPLACE INTO objects(object_id, name, k, m, size, generation, health, "
                 "spare, last_verified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  SqlStmt done(db_, "INSERT OR IGNORE INTO sweep_done(sweep_id, object_id) VALUES(?1, ?2)");
  if (!chunk.ok() || !object.ok() || !done.ok())
    return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  const std::int64_t now = NowSeconds();
  for (const ObjectRecord& rec : records) {
    const ObjectReport& r = rec.report;
    const Manifest& mf = rec.manifest;
    for (const ChunkReport& c : r.chunks) {
      const bool known = c.index >= 0 && c.index < static_cast<int>(mf.chunks.size());
      chunk.Bind(1, r.id)
          .Bind(2, static_cast<std::int64_t>(c.index))
          .Bind(3, known ? mf.chunks[c.index].target : std::string())
          .Bind(4, known ? mf.chunks[c.index].path() : c.path)
          .Bind(5, c.state)
          .Bind(6, JoinStripes(c.bad_stripes))
          .Bind(7, c.detail)
          .Bind(8, now);
      if (chunk.Step() != SQLITE_DONE)
        return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
      chunk.Reset();
    }
    object.Bind(1, r.id)
        .Bind(2, r.name)
        .Bind(3, static_cast<std::int64_t>(mf.k))
        .Bind(4, static_cast<std::int64_t>(mf.m))
        .Bind(5, static_cast<std::int64_t>(r.size))
        .Bind(6, static_cast<std::int64_t>(mf.generation))
        .Bind(7, std::string(HealthName(r.health)))
        .Bind(8, static_cast<std::int64_t>(SpareOf(r, mf.m)))
        .Bind(9, now);
    if (object.Step() != SQLITE_DONE)
      return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
    object.Reset();
    if (sweep_id > 0) {
      done.Bind(1, sweep_id).Bind(2, r.id);
      if (done.Step() != SQLITE_DONE)
        return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
      done.Reset();
    }
  }
  if (!txn.Commit()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status HealthDb::ForgetObjectsExcept(const std::set<std::string>& live) {
  std::vector<std::string> gone;
  {
    SqlStmt q(db_, "SELECT object_id FROM objects");
    while (q.Step() == SQLITE_ROW)
      if (!live.count(q.Text(0))) gone.push_back(q.Text(0));
  }
  if (gone.empty()) return Status::Ok();
  SqlTxn txn(db_);
  SqlStmt d1(db_, "DELETE FROM objects WHERE object_id = ?1");
  SqlStmt d2(db_, "DELETE FROM chunks WHERE object_id = ?1");
  for (const std::string& id : gone) {
    d1.Bind(1, id).Step();
    d1.Reset();
    d2.Bind(1, id).Step();
    d2.Reset();
  }
  if (!txn.Commit()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status HealthDb::RecordTargets(const std::vector<TargetHealth>& targets) {
  SqlTxn txn(db_);
  SqlStmt up(
      db_,
      "INSERT INTO targets(path, domain, reachable, error, free_bytes, errors, last_checked) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(path) DO UPDATE SET "
      "domain = ?2, reachable = ?3, error = ?4, free_bytes = ?5, "
      "errors = errors + ?6, last_checked = ?7");
  if (!up.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  for (const TargetHealth& t : targets) {
    up.Bind(1, t.path)
        .Bind(2, t.domain)
        .Bind(3, static_cast<std::int64_t>(t.reachable))
        .Bind(4, t.error)
        .Bind(5, static_cast<std::int64_t>(t.free_bytes))
        .Bind(6, t.errors)
        .Bind(7, t.last_checked ? t.last_checked : NowSeconds());
    if (up.Step() != SQLITE_DONE)
      return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
    up.Reset();
  }
  if (!txn.Commit()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status HealthDb::LoadTargets(std::vector<TargetHealth>* targets) {
  targets->clear();
  SqlStmt q(db_,
            "SELECT t.path, t.domain, t.reachable, t.error, t.free_bytes, t.errors, "
            "t.last_checked, (SELECT count(*) FROM chunks c WHERE c.target = t.path), "
            "(SELECT count(*) FROM chunks c WHERE c.target = t.path AND c.state != 'ok') "
            "FROM targets t ORDER BY t.path");
  if (!q.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  while (q.Step() == SQLITE_ROW) {
    TargetHealth t;
    t.path = q.Text(0);
    t.domain = q.Text(1);
    t.reachable = q.Int(2) != 0;
    t.error = q.Text(3);
    t.free_bytes = static_cast<std::uint64_t>(q.Int(4));
    t.errors = q.Int(5);
    t.last_checked = q.Int(6);
    t.chunks = q.Int(7);
    t.bad_chunks = q.Int(8);
    targets->push_back(t);
  }
  return Status::Ok();
}

namespace {
ObjectHealth ObjectRow(SqlStmt& q) {
  ObjectHealth o;
  o.id = q.Text(0);
  o.name = q.Text(1);
  o.k = static_cast<int>(q.Int(2));
  o.m = static_cast<int>(q.Int(3));
  o.size = static_cast<std::uint64_t>(q.Int(4));
  o.generation = static_cast<std::uint64_t>(q.Int(5));
  o.health = q.Text(6);
  o.spare = static_cast<int>(q.Int(7));
  o.last_verified = q.Int(8);
  return o;
}
constexpr const char* kObjectColumns =
    "SELECT object_id, name, k, m, size, generation, health, spare, last_verified FROM objects ";
}  // namespace

Status HealthDb::LoadAtRisk(std::vector<ObjectHealth>* objects) {
  objects->clear();
  const std::string sql =
      std::string(kObjectColumns) + "WHERE health != 'healthy' ORDER BY spare, name";
  SqlStmt q(db_, sql.c_str());
  if (!q.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  while (q.Step() == SQLITE_ROW) objects->push_back(ObjectRow(q));
  return Status::Ok();
}

Status HealthDb::LoadObject(const std::string& id, ObjectHealth* object, bool* found) {
  const std::string sql = std::string(kObjectColumns) + "WHERE object_id = ?1";
  SqlStmt q(db_, sql.c_str());
  if (!q.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  q.Bind(1, id);
  *found = q.Step() == SQLITE_ROW;
  if (*found) *object = ObjectRow(q);
  return Status::Ok();
}

Status HealthDb::BeginSweep(const std::string& mode, bool resume, std::int64_t* id, bool* resumed,
                            std::set<std::string>* done) {
  done->clear();
  *resumed = false;
  *id = 0;
  SqlTxn txn(db_);
  if (!txn.ok()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  if (resume) {
    SqlStmt q(db_,
              "SELECT id FROM sweeps WHERE state = 'running' AND mode = ?1 ORDER BY id DESC "
              "LIMIT 1");
    q.Bind(1, mode);
    if (q.Step() == SQLITE_ROW) *id = q.Int(0);
  }
  // Any other unfinished sweep will never be resumed now.
  SqlStmt close(db_,
                "UPDATE sweeps SET state = 'abandoned', finished = ?2 WHERE state = 'running' "
                "AND id != ?1");
  close.Bind(1, *id).Bind(2, NowSeconds()).Step();
  Exec(
      "DELETE FROM sweep_done WHERE sweep_id NOT IN (SELECT id FROM sweeps WHERE state = "
      "'running')");
  if (*id > 0) {
    *resumed = true;
    SqlStmt q(db_, "SELECT object_id FROM sweep_done WHERE sweep_id = ?1");
    q.Bind(1, *id);
    while (q.Step() == SQLITE_ROW) done->insert(q.Text(0));
  } else {
    SqlStmt ins(db_, "INSERT INTO sweeps(mode, state, started) VALUES(?1, 'running', ?2)");
    ins.Bind(1, mode).Bind(2, NowSeconds());
    if (ins.Step() != SQLITE_DONE)
      return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
    *id = sqlite3_last_insert_rowid(db_);
  }
  if (!txn.Commit()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

Status HealthDb::FinishSweep(std::int64_t id, const std::string& report_json) {
  SqlTxn txn(db_);
  SqlStmt up(db_, "UPDATE sweeps SET state = 'done', finished = ?2, report = ?3 WHERE id = ?1");
  up.Bind(1, id).Bind(2, NowSeconds()).Bind(3, report_json);
  if (up.Step() != SQLITE_DONE)
    return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  SqlStmt del(db_, "DELETE FROM sweep_done WHERE sweep_id = ?1");
  del.Bind(1, id).Step();
  if (!txn.Commit()) return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db_));
  return Status::Ok();
}

std::string DefaultHealthDbPath(const std::vector<std::string>& target_paths) {
  if (const char* e = std::getenv("FLS_HEALTH_DB"); e != nullptr && *e != '\0') return e;
  std::vector<std::string> sorted = target_paths;
  std::sort(sorted.begin(), sorted.end());
  std::string joined;
  for (const auto& p : sorted) joined += p + '\n';
  // FNV-1a: stable across builds and runs, unlike std::hash.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : joined) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string dir;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0')
    dir = std::string(x) + "/fls";
  else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    dir = std::string(home) + "/.local/state/fls";
  else
    dir = "/tmp/fls-state";
  return dir + "/health-" + hex + ".db";
}

void ProbeTargetNow(Env* env, const Target& t, TargetHealth* h) {
  h->path = t.path;
  h->domain = t.domain;
  FileInfo info;
  Status s = env->GetFileInfo(t.path, &info);
  if (s.ok() && !info.is_directory) s = Status::IOError(t.path + " is not a directory");
  // Listable: one entry is enough to know (a target may hold millions).
  if (s.ok()) s = env->ForEachChild(t.path, [](std::string_view) { return false; });
  h->reachable = s.ok();
  h->error = s.ok() ? "" : s.ToString();
  h->free_bytes = 0;
  if (h->reachable) env->GetFreeSpace(t.path, &h->free_bytes);
}

}  // namespace fls
