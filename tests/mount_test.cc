// `fls mount` end to end: a real store mounted through /dev/fuse by the real
// binary, checked with ordinary system calls (readdir, stat, read, pread):
// every name listed, every file equal to its original (packed ones too),
// random preads; the same after deleting 4 chunk files of an object and
// after corrupting blocks in 4 chunks; EIO, never wrong bytes, with 5 bad
// blocks in one stripe; a file archived after the mount appears; SIGTERM
// unmounts; the damage reads meet lands in the health database (and a
// healthy read records nothing), which the next sweep repairs. Skips (with
// the reason) where a FUSE mount cannot be made.
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "archive_test_util.h"
#include "fls/geometry.h"
#include "fls/health_db.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

// 10240-byte blocks: many stripes, quickly. A multiple of the page size, as
// the default 10 MiB is: the kernel reads whole pages, so a page that
// straddles a damaged stripe fails with it.
constexpr std::uint64_t kStripe = 102400;

// The store's 14 targets as --target flags.
std::vector<std::string> TargetArgs(const std::string& root) {
  std::vector<std::string> a;
  for (int i = 0; i < 14; ++i) {
    a.push_back("--target");
    a.push_back(root + "/t" + std::to_string(i));
  }
  return a;
}

int RunFls(std::vector<std::string> args) {
  args.insert(args.begin(), FLS_BINARY);
  std::string cmd;
  for (const auto& a : args) cmd += "'" + a + "' ";
  return testing::Shell(cmd).rc;
}

// `fls mount --foreground` as a child process, unmounted by SIGTERM.
class Mount {
 public:
  Mount(const std::string& root, const std::string& mnt, const std::string& log,
        const std::vector<std::string>& extra = {})
      : mnt_(mnt), log_(log) {
    fs::create_directories(mnt);
    std::vector<std::string> args = {FLS_BINARY, "mount"};
    for (const auto& a : TargetArgs(root)) args.push_back(a);
    args.insert(args.end(), {mnt, "--foreground", "--log", log, "--cache", "2M"});
    args.insert(args.end(), extra.begin(), extra.end());
    // Damage goes to a health database under the test's directory, never to
    // the default one under $HOME.
    if (std::find(extra.begin(), extra.end(), "--db") == extra.end())
      args.insert(args.end(), {"--db", root + "/mount-health.db"});
    pid_ = testing::SpawnQuiet(args);
  }
  ~Mount() { Stop(); }
  // Waits (at most 20 s) until the mount point is a FUSE mount; false (with
  // `why`) when the child failed or it never appeared.
  bool Wait(std::string* why) {
    for (int i = 0; i < 200; ++i) {
      struct statfs sf {};
      if (::statfs(mnt_.c_str(), &sf) == 0 && sf.f_type == 0x65735546 /* FUSE_SUPER_MAGIC */)
        return true;
      int status = 0;
      if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *why = "fls mount exited: " + ReadFile(log_);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *why = "the mount did not appear within 20 s: " + ReadFile(log_);
    return false;
  }
  // SIGTERM; the exit status (or -1 when it had to be killed after 20 s).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    testing::Shell("fusermount3 -u '" + mnt_ + "'");
    return -1;
  }
  std::string log() const { return ReadFile(log_); }

 private:
  std::string mnt_, log_;
  pid_t pid_ = -1;
};

#define SKIP_WITHOUT_FUSE()                                                     \
  do {                                                                          \
    if (::access("/dev/fuse", R_OK | W_OK) != 0)                                \
      GTEST_SKIP() << "/dev/fuse is not usable here: " << std::strerror(errno); \
  } while (0)

// A source tree: a large file of many stripes, small files (packed) in
// nested directories, an empty file.
struct Source {
  TempDir t;
  std::map<std::string, std::string> files;  // path under "src/" -> bytes
  std::vector<std::string> targets;
  Source() {
    files["big.bin"] = RandomBytes(2 * 1000 * 1000 + 12345, 1);
    files["mid.bin"] = RandomBytes(1500001, 2);
    files["a/b/c/deep.txt"] = "deep\n";
    files["empty"] = "";
    for (int i = 0; i < 25; ++i)
      files["small/f" + std::to_string(i)] = RandomBytes(100 + i * 4099, 10 + i);
    for (const auto& [rel, bytes] : files) {
      fs::create_directories(fs::path(t / ("src/" + rel)).parent_path());
      WriteFile(t / ("src/" + rel), bytes);
    }
    ::chmod((t / "src/mid.bin").c_str(), 0640);
    for (int i = 0; i < 14; ++i) fs::create_directories(t / ("t" + std::to_string(i)));
    std::vector<std::string> args = {"archive", "-q", "--stripe", std::to_string(kStripe)};
    for (const auto& a : TargetArgs(t.path())) args.push_back(a);
    args.push_back(t / "src");
    EXPECT_EQ(RunFls(args), 0);
  }
  Manifest ManifestOf(const std::string& name) {
    auto store = testing::MakeStore(t.path(), 14);
    CatalogEntry e;
    EXPECT_TRUE(store->FindObject(name, &e).ok()) << name;
    return e.manifest;
  }
  void CorruptBlock(const Manifest& mf, int chunk, std::uint64_t stripe) {
    const StripeGeometry g =
        StripeGeometry::ForChunkFormat(mf.chunk_format_version, mf.k, mf.block_size, mf.size);
    testing::FlipByte(mf.chunks[chunk].path(), g.record_offset(stripe) + 33);
  }
};

std::string ReadThrough(const std::string& path, int* err) {
  *err = 0;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    *err = errno;
    return "";
  }
  std::string out;
  char buf[65536];
  for (int guard = 0; guard < 1000000; ++guard) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) *err = errno;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Every file equal, through read(2), and 150 random preads of each large one.
void CheckAllFiles(const Source& s, const std::string& mnt) {
  std::mt19937_64 rng(42);
  for (const auto& [rel, bytes] : s.files) {
    const std::string path = mnt + "/src/" + rel;
    int err = 0;
    ASSERT_EQ(ReadThrough(path, &err), bytes) << path << " errno " << err;
    if (bytes.size() < 100000) continue;
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0) << path;
    for (int r = 0; r < 150; ++r) {
      const std::uint64_t off = rng() % (bytes.size() + 100);
      const std::size_t len = 1 + rng() % 300000;
      std::string buf(len, '\0');
      const ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(off));
      const std::size_t want = off >= bytes.size() ? 0 : std::min(len, bytes.size() - off);
      ASSERT_EQ(n, static_cast<ssize_t>(want)) << path << " at " << off << "+" << len;
      ASSERT_EQ(buf.substr(0, want), bytes.substr(off < bytes.size() ? off : 0, want))
          << path << " at " << off << "+" << len;
    }
    ::close(fd);
  }
}

// Path and size of every file and directory under the targets.
std::map<std::string, std::uintmax_t> TargetState(const std::string& root) {
  std::map<std::string, std::uintmax_t> out;
  for (int i = 0; i < 14; ++i)
    for (const auto& e : fs::recursive_directory_iterator(root + "/t" + std::to_string(i)))
      out[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
  return out;
}

TEST(Mount, ListsEveryNameAndReadsEveryFileExactly) {
  SKIP_WITHOUT_FUSE();
  Source s;
  const auto before = TargetState(s.t.path());
  Mount m(s.t.path(), s.t / "mnt", s.t / "log");
  std::string why;
  if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
  // readdir, recursively (what `find` does): the source tree exactly, no pack.
  std::set<std::string> listed, want;
  for (const auto& e : fs::recursive_directory_iterator(s.t / "mnt"))
    if (e.is_regular_file()) listed.insert(fs::relative(e.path(), s.t / "mnt").string());
  for (const auto& [rel, bytes] : s.files) want.insert("src/" + rel);
  EXPECT_EQ(listed, want);
  // And `find` itself, as a user would run it.
  const auto found = testing::Shell("cd '" + s.t / "mnt" + "' && find . -type f | LC_ALL=C sort");
  std::string expect;
  for (const auto& p : want) expect += "./" + p + "\n";
  EXPECT_EQ(found.out, expect);
  // Sizes, modes (less write bits) and mtimes of the originals.
  for (const auto& [rel, bytes] : s.files) {
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat((s.t / ("src/" + rel)).c_str(), &a), 0);
    ASSERT_EQ(::stat((s.t / ("mnt/src/" + rel)).c_str(), &b), 0) << rel;
    EXPECT_EQ(b.st_size, a.st_size) << rel;
    EXPECT_EQ(b.st_mode & 07777, a.st_mode & 07555) << rel;
    EXPECT_EQ(b.st_mtim.tv_sec, a.st_mtim.tv_sec) << rel;
  }
  CheckAllFiles(s, s.t / "mnt");
  // Read-only: no file can be created or opened for writing.
  EXPECT_LT(::open((s.t / "mnt/src/new").c_str(), O_WRONLY | O_CREAT, 0644), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_LT(::open((s.t / "mnt/src/big.bin").c_str(), O_RDWR), 0);
  EXPECT_EQ(m.Stop(), 0) << m.log();
  EXPECT_EQ(TargetState(s.t.path()), before) << "the mount changed the targets";
  EXPECT_NE(m.log().find("unmounted"), std::string::npos) << m.log();
}

TEST(Mount, FourChunksDeletedOrCorruptedStillReadExactly) {
  SKIP_WITHOUT_FUSE();
  Source s;
  for (const std::string name : {"src/big.bin", "src/mid.bin"}) {
    const Manifest mf = s.ManifestOf(name);
    for (int i : {0, 4, 9, 13}) fs::remove(mf.chunks[i].path());
  }
  {
    Mount m(s.t.path(), s.t / "mnt", s.t / "log");
    std::string why;
    if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
    CheckAllFiles(s, s.t / "mnt");
    EXPECT_EQ(m.Stop(), 0);
    EXPECT_NE(m.log().find("damage: object 'src/big.bin' chunk 4"), std::string::npos) << m.log();
  }
  // Blocks corrupted in 4 chunks (parity chunk 10 among them, so parity
  // that fails its CRC is met too), in every other stripe.
  Source c;
  const Manifest mf = c.ManifestOf("src/big.bin");
  for (int i : {1, 2, 5, 10})
    for (std::uint64_t st = 0; st < mf.stripes; st += 2) c.CorruptBlock(mf, i, st);
  Mount m(c.t.path(), c.t / "mnt", c.t / "log");
  std::string why;
  ASSERT_TRUE(m.Wait(&why)) << why;
  CheckAllFiles(c, c.t / "mnt");
  EXPECT_EQ(m.Stop(), 0);
  EXPECT_NE(m.log().find("CRC mismatch"), std::string::npos) << m.log();
}

TEST(Mount, FiveBadBlocksInOneStripeGiveEioNeverWrongBytes) {
  SKIP_WITHOUT_FUSE();
  Source s;
  const Manifest mf = s.ManifestOf("src/big.bin");
  const std::uint64_t bad = 7;
  for (int i : {0, 3, 6, 10, 12}) s.CorruptBlock(mf, i, bad);
  Mount m(s.t.path(), s.t / "mnt", s.t / "log");
  std::string why;
  if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
  const std::string path = s.t / "mnt/src/big.bin";
  const std::string& want = s.files["big.bin"];
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string buf(4096, '\0');
  errno = 0;
  EXPECT_EQ(::pread(fd, buf.data(), 4096, bad * kStripe + 5000), -1);
  EXPECT_EQ(errno, EIO);
  // The stripes before and after still read right.
  ASSERT_EQ(::pread(fd, buf.data(), 4096, bad * kStripe - 4096), 4096);
  EXPECT_EQ(buf, want.substr(bad * kStripe - 4096, 4096));
  ASSERT_EQ(::pread(fd, buf.data(), 4096, (bad + 1) * kStripe), 4096);
  EXPECT_EQ(buf, want.substr((bad + 1) * kStripe, 4096));
  ::close(fd);
  // A whole read stops with EIO; what it returned before is the original.
  int err = 0;
  const std::string got = ReadThrough(path, &err);
  EXPECT_EQ(err, EIO);
  EXPECT_LE(got.size(), bad * kStripe);
  EXPECT_EQ(got, want.substr(0, got.size()));
  EXPECT_EQ(m.Stop(), 0);
  EXPECT_NE(m.log().find("failed (EIO)"), std::string::npos) << m.log();
  EXPECT_NE(m.log().find("stripe 7"), std::string::npos) << m.log();
}

TEST(Mount, FilesArchivedLaterAppear) {
  SKIP_WITHOUT_FUSE();
  Source s;
  Mount m(s.t.path(), s.t / "mnt", s.t / "log", {"--relist", "1"});
  std::string why;
  if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
  const std::string later = RandomBytes(300000, 99), packed = "small and late\n";
  WriteFile(s.t / "late.bin", later);
  WriteFile(s.t / "late.txt", packed);
  std::vector<std::string> args = {"archive", "-q", "--stripe", std::to_string(kStripe)};
  for (const auto& a : TargetArgs(s.t.path())) args.push_back(a);
  ASSERT_EQ(RunFls([&] {
              auto x = args;
              x.insert(x.end(), {"--name", "src/late.bin", s.t / "late.bin"});
              return x;
            }()),
            0);
  // Found by its path at once (a direct lookup), before any re-list.
  int err = 0;
  EXPECT_EQ(ReadThrough(s.t / "mnt/src/late.bin", &err), later) << err;
  // In a new directory, packed: listed within a few re-lists (1 s each).
  fs::create_directories(s.t / "later");
  WriteFile(s.t / "later/x.txt", packed);
  WriteFile(s.t / "later/y.txt", packed);
  args.push_back(s.t / "later");
  ASSERT_EQ(RunFls(args), 0);
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = fs::exists(s.t / "mnt/later/x.txt");
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen) << m.log();
  EXPECT_EQ(ReadFile(s.t / "mnt/later/y.txt"), packed);
  EXPECT_EQ(m.Stop(), 0);
}

// (chunk index -> "state bad_stripes") of every chunk row of object `id`.
std::map<int, std::string> ChunkRows(const std::string& db_path, const std::string& id) {
  std::map<int, std::string> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT idx, state, bad_stripes FROM chunks WHERE object_id = ?1 "
                               "ORDER BY idx",
                               -1, &q, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(q, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(q) == SQLITE_ROW) {
    auto text = [&](int c) {
      const unsigned char* t = sqlite3_column_text(q, c);
      return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
    };
    rows[sqlite3_column_int(q, 0)] = text(1) + " " + text(2);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return rows;
}

TEST(Mount, DamageMetIsRecordedInTheHealthDatabaseAndTheNextSweepRepairsIt) {
  SKIP_WITHOUT_FUSE();
  Source s;
  const Manifest mf = s.ManifestOf("src/big.bin");
  const std::string id = ObjectIdToHex(mf.id);
  // Two chunk files gone and bad blocks in two more: stripe 3 has 4 bad
  // blocks (spare 0), still readable.
  fs::remove(mf.chunks[0].path());
  fs::remove(mf.chunks[7].path());
  s.CorruptBlock(mf, 2, 3);
  s.CorruptBlock(mf, 2, 5);
  s.CorruptBlock(mf, 5, 3);
  const std::string db = s.t / "state/health.db";
  const auto before = TargetState(s.t.path());
  {
    Mount m(s.t.path(), s.t / "mnt", s.t / "log", {"--db", db});
    std::string why;
    if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
    CheckAllFiles(s, s.t / "mnt");
    EXPECT_EQ(m.Stop(), 0) << m.log();
    EXPECT_NE(m.log().find("damaged chunk finding(s) recorded, 0 dropped"), std::string::npos)
        << m.log();
  }
  EXPECT_EQ(TargetState(s.t.path()), before) << "the mount changed the targets";
  EXPECT_EQ(ChunkRows(db, id),
            (std::map<int, std::string>{
                {0, "missing "}, {2, "damaged 3,5"}, {5, "damaged 3"}, {7, "missing "}}));
  {
    std::unique_ptr<HealthDb> h;
    ASSERT_TRUE(HealthDb::Open(db, &h).ok());
    std::vector<ObjectHealth> at_risk;
    ASSERT_TRUE(h->LoadAtRisk(&at_risk).ok());
    ASSERT_EQ(at_risk.size(), 1u);
    EXPECT_EQ(at_risk[0].name, "src/big.bin");
    EXPECT_EQ(at_risk[0].health, "degraded");
    EXPECT_EQ(at_risk[0].spare, 0);
    EXPECT_EQ(at_risk[0].generation, mf.generation);
    std::vector<TargetHealth> targets;
    ASSERT_TRUE(h->LoadTargets(&targets).ok());
    std::map<std::string, std::int64_t> bad;
    for (const TargetHealth& t : targets) bad[t.path] = t.bad_chunks;
    for (int i : {0, 2, 5, 7}) EXPECT_EQ(bad[mf.chunks[i].target], 1) << "chunk " << i;
  }
  // What an operator runs: the object is listed at risk from the database.
  std::string cmd = std::string("'") + FLS_BINARY + "' ls --degraded --db '" + db + "' ";
  for (const auto& a : TargetArgs(s.t.path())) cmd += "'" + a + "' ";
  const auto listed = testing::Shell(cmd);
  EXPECT_NE(listed.out.find("    0 degraded"), std::string::npos) << listed.out;
  // The next repair sweep rebuilds it and the database shows it healthy.
  std::vector<std::string> sweep = {"sweep", "-q", "--db", db};
  for (const auto& a : TargetArgs(s.t.path())) sweep.push_back(a);
  EXPECT_EQ(RunFls(sweep), 0);
  std::unique_ptr<HealthDb> h;
  ASSERT_TRUE(HealthDb::Open(db, &h).ok());
  std::vector<ObjectHealth> at_risk;
  ASSERT_TRUE(h->LoadAtRisk(&at_risk).ok());
  EXPECT_TRUE(at_risk.empty());
}

TEST(Mount, HealthyReadsRecordNothingAndABadDatabaseFailsTheStart) {
  SKIP_WITHOUT_FUSE();
  Source s;
  const std::string db = s.t / "health.db";
  {
    Mount m(s.t.path(), s.t / "mnt", s.t / "log", {"--db", db});
    std::string why;
    if (!m.Wait(&why)) GTEST_SKIP() << "FUSE mount not possible here: " << why;
    CheckAllFiles(s, s.t / "mnt");
    EXPECT_EQ(m.Stop(), 0) << m.log();
    EXPECT_EQ(m.log().find("finding(s) recorded"), std::string::npos) << m.log();
  }
  std::unique_ptr<HealthDb> h;
  ASSERT_TRUE(HealthDb::Open(db, &h).ok());
  std::vector<ObjectHealth> at_risk;
  ASSERT_TRUE(h->LoadAtRisk(&at_risk).ok());
  EXPECT_TRUE(at_risk.empty());
  std::vector<TargetHealth> targets;
  ASSERT_TRUE(h->LoadTargets(&targets).ok());
  EXPECT_TRUE(targets.empty());
  EXPECT_TRUE(ChunkRows(db, ObjectIdToHex(s.ManifestOf("src/big.bin").id)).empty());
  // A database under a regular file cannot be made: the mount does not start.
  WriteFile(s.t / "plain", "x");
  std::string cmd =
      std::string("'") + FLS_BINARY + "' mount --foreground --db '" + (s.t / "plain/h.db") + "' ";
  for (const auto& a : TargetArgs(s.t.path())) cmd += "'" + a + "' ";
  const auto r = testing::Shell(cmd + "'" + (s.t / "mnt") + "'");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("--db"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(s.t / "plain/h.db"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fls
