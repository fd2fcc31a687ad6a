// HealthDb::RecordDamageSeen (fls/health_db.h): damage met by reads outside
// a sweep, merged into what the sweeps recorded.
#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <set>

#include "fls/health_db.h"
#include "fls/sqlite_util.h"

namespace fls {
namespace {

using internal::SqlStmt;
using internal::SqlTxn;

std::vector<std::uint64_t> ParseStripes(const std::string& s) {
  std::vector<std::uint64_t> out;
  std::size_t at = 0;
  while (at < s.size()) {
    std::size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    std::uint64_t v = 0;
    // A list this code did not write is skipped, not trusted in part.
    if (std::from_chars(s.data() + at, s.data() + end, v).ptr != s.data() + end) return {};
    out.push_back(v);
    at = end + 1;
  }
  return out;
}

std::string JoinStripes(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (std::uint64_t x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

// Merges a finding into what is known of the chunk. A chunk bad as a whole
// stays so; stripes found bad are added to those already known.
void Merge(const ChunkReport& found, ChunkReport* known) {
  const bool whole_known = known->state != "ok" && known->bad_stripes.empty();
  if (whole_known) return;
  if (found.bad_stripes.empty()) {
    known->state = found.state;
    known->bad_stripes.clear();
    known->detail = found.detail;
    return;
  }
  if (known->state == "ok") {
    known->state = found.state;
    known->detail = found.detail;
  }
  std::set<std::uint64_t> all(known->bad_stripes.begin(), known->bad_stripes.end());
  all.insert(found.bad_stripes.begin(), found.bad_stripes.end());
  known->bad_stripes.assign(all.begin(), all.end());
}

Status DbError(sqlite3* db) {
  return Status::IOError(std::string("health database: ") + sqlite3_errmsg(db));
}

}  // namespace

Status HealthDb::RecordDamageSeen(const Manifest& mf, const std::vector<ChunkReport>& damage) {
  const int n = mf.k + mf.m;
  const std::string id = ObjectIdToHex(mf.id);
  SqlTxn txn(db_);
  if (!txn.ok()) return DbError(db_);
  ObjectReport r;
  r.id = id;
  r.name = mf.name;
  r.size = mf.size;
  r.generation = mf.generation;
  r.chunks.resize(n);
  for (int i = 0; i < n; ++i) {
    r.chunks[i].index = i;
    r.chunks[i].path = mf.chunks[i].path();
  }
  std::int64_t last_verified = 0;
  {
    SqlStmt q(db_, "SELECT generation, last_verified FROM objects WHERE object_id = ?1");
    if (!q.ok()) return DbError(db_);
    q.Bind(1, id);
    bool same = false;
    if (q.Step() == SQLITE_ROW) {
      same = static_cast<std::uint64_t>(q.Int(0)) == mf.generation;
      if (same) last_verified = q.Int(1);
    }
    // Rows of another generation described other chunk files.
    SqlStmt forget(db_, "DELETE FROM chunks WHERE object_id = ?1");
    if (!same && forget.Bind(1, id).Step() != SQLITE_DONE) return DbError(db_);
    SqlStmt rows(db_, "SELECT idx, state, bad_stripes, error FROM chunks WHERE object_id = ?1");
    rows.Bind(1, id);
    while (same && rows.Step() == SQLITE_ROW) {
      const std::int64_t i = rows.Int(0);
      if (i < 0 || i >= n) continue;
      r.chunks[i].state = rows.Text(1);
      r.chunks[i].bad_stripes = ParseStripes(rows.Text(2));
      r.chunks[i].detail = rows.Text(3);
    }
  }
  std::set<int> changed, newly_bad;
  for (const ChunkReport& d : damage) {
    if (d.index < 0 || d.index >= n || d.state == "ok") continue;
    if (r.chunks[d.index].state == "ok") newly_bad.insert(d.index);
    Merge(d, &r.chunks[d.index]);
    changed.insert(d.index);
  }
  if (changed.empty()) return Status::Ok();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  SqlStmt chunk(db_,
                "INSERT OR REPLACE INTO chunks(object_id, idx, target, path, state, bad_stripes, "
                "error, last_verified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  SqlStmt target(db_,
                 "INSERT INTO targets(path, domain, reachable, error, free_bytes, errors, "
                 "last_checked) VALUES(?1, ?2, 1, '', 0, 1, ?3) ON CONFLICT(path) DO UPDATE SET "
                 "errors = errors + 1");
  if (!chunk.ok() || !target.ok()) return DbError(db_);
  for (int i : changed) {
    const ChunkReport& c = r.chunks[i];
    chunk.Bind(1, id)
        .Bind(2, static_cast<std::int64_t>(i))
        .Bind(3, mf.chunks[i].target)
        .Bind(4, mf.chunks[i].path())
        .Bind(5, c.state)
        .Bind(6, JoinStripes(c.bad_stripes))
        .Bind(7, c.detail)
        .Bind(8, now);
    if (chunk.Step() != SQLITE_DONE) return DbError(db_);
    chunk.Reset();
    // A chunk whose target the store no longer knows has no target to count.
    if (!newly_bad.count(i) || mf.chunks[i].target.empty()) continue;
    target.Bind(1, mf.chunks[i].target).Bind(2, mf.chunks[i].domain).Bind(3, now);
    if (target.Step() != SQLITE_DONE) return DbError(db_);
    target.Reset();
  }
  const int spare = SpareOf(r, mf.m);
  const Health health = spare < 0 ? Health::kUnrecoverable : Health::kDegraded;
  SqlStmt object(db_,
                 "INSERT OR REPLACE INTO objects(object_id, name, k, m, size, generation, health, "
                 "spare, last_verified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!object.ok()) return DbError(db_);
  object.Bind(1, id)
      .Bind(2, mf.name)
      .Bind(3, static_cast<std::int64_t>(mf.k))
      .Bind(4, static_cast<std::int64_t>(mf.m))
      .Bind(5, static_cast<std::int64_t>(mf.size))
      .Bind(6, static_cast<std::int64_t>(mf.generation))
      .Bind(7, std::string(HealthName(health)))
      .Bind(8, static_cast<std::int64_t>(spare))
      .Bind(9, last_verified);
  if (object.Step() != SQLITE_DONE) return DbError(db_);
  // An interrupted sweep that already passed this object would skip it.
  SqlStmt undo(db_, "DELETE FROM sweep_done WHERE object_id = ?1");
  if (undo.Bind(1, id).Step() != SQLITE_DONE) return DbError(db_);
  if (!txn.Commit()) return DbError(db_);
  return Status::Ok();
}

}  // namespace fls
