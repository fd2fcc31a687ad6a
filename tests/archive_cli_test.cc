// The real `fls` binary: exit codes, --json output, the store forms.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <map>
#include <sstream>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "archive_test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;

using testing::CmdResult;

CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

// Runs fls with `args` passed byte for byte (no shell in between), its
// stdout and stderr going to `log`.
CmdResult FlsArgv(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), FLS_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  CmdResult r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = ReadFile(log);
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml = "targets:\n";
    for (int i = 0; i < 14; ++i) {
      std::filesystem::create_directories(dir_ / ("t" + std::to_string(i)));
      yaml +=
          "  - path: t" + std::to_string(i) + "\n    domain: host" + std::to_string(i % 7) + "\n";
    }
    fls::testing::WriteFile(dir_ / "fls-store.yaml", yaml);
    data_ = fls::testing::RandomBytes(250000, 21);
    fls::testing::WriteFile(dir_ / "sample.bin", data_);
  }
  std::string Store() const { return dir_.path(); }
  TempDir dir_;
  std::string data_;
};

TEST_F(Cli, ArchiveDamageRestoreVerifyRepair) {
  CmdResult r = Fls("archive " + Store() + " --stripe 20K " + dir_ / "sample.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("survives the loss of any 4 target(s)"), std::string::npos) << r.out;
  r = Fls("info " + Store() + " sample.bin --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto info = nlohmann::json::parse(r.out);
  ASSERT_EQ(info["chunks"].size(), 14u);
  for (int i : {0, 2, 9, 13}) {
    EXPECT_EQ(info["chunks"][i]["index"], i);
    ASSERT_TRUE(std::filesystem::remove(info["chunks"][i]["path"].get<std::string>()));
  }
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 4) << r.out;  // degraded
  EXPECT_NE(r.out.find("chunk 9 missing"), std::string::npos) << r.out;
  r = Fls("restore " + Store() + " sample.bin -o " + dir_ / "back.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "back.bin"), data_);
  r = Fls("restore --store " + dir_ / "fls-store.yaml" + " sample.bin --range 1000:5000 -o " +
          dir_ / "part.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "part.bin"), data_.substr(1000, 5000));
  r = Fls("repair " + Store() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rebuilt"].size(), 4u);
  r = Fls("verify --deep " + Store() + " sample.bin");
  EXPECT_EQ(r.rc, 0) << r.out;
  r = Fls("ls " + Store() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["health"], "healthy");
}

TEST_F(Cli, UnrecoverableExitsFiveNamingStripeAndChunksWithNoOutput) {
  ASSERT_EQ(Fls("archive -q " + Store() + " --stripe 20K " + dir_ / "sample.bin").rc, 0);
  const auto info = nlohmann::json::parse(Fls("info " + Store() + " sample.bin --json").out);
  const std::uint64_t block = info["block_size"];
  for (int i : {1, 3, 5, 7, 11})
    fls::testing::FlipByte(info["chunks"][i]["path"].get<std::string>(), 128 + 4 * (block + 4) + 9);
  CmdResult r = Fls("restore " + Store() + " sample.bin -o " + dir_ / "out.bin");
  EXPECT_EQ(r.rc, 5) << r.out;
  EXPECT_NE(r.out.find("stripe 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chunk 11"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.bin"));
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
}

// A store whose manifests are lost or damaged never verifies as "0 objects,
// all fine": orphan chunk files exit 4, unreadable names exit 5, each named.
TEST_F(Cli, VerifyReportsOrphanChunksAndUnreadableNames) {
  ASSERT_EQ(Fls("archive -q " + Store() + " --stripe 20K " + dir_ / "sample.bin").rc, 0);
  const auto info = nlohmann::json::parse(Fls("info " + Store() + " sample.bin --json").out);
  std::vector<std::string> copies = info["manifest_copies_paths"];
  ASSERT_EQ(copies.size(), 5u);
  // Every manifest copy gone: the chunks are orphans (made old enough to count).
  for (const auto& p : copies) ASSERT_TRUE(std::filesystem::remove(p));
  for (const auto& c : info["chunks"]) {
    const std::string p = c["path"];
    ASSERT_EQ(std::system(("touch -d 2001-01-01 '" + p + "'").c_str()), 0);
  }
  CmdResult r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 4) << r.out;
  EXPECT_NE(r.out.find("ORPHAN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(info["chunks"][3]["path"].get<std::string>()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 object(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("14 unreferenced chunk file(s)"), std::string::npos) << r.out;
  // Archived again and its manifest copies damaged: unreadable, exit 5.
  ASSERT_EQ(Fls("archive -q " + Store() + " --name second " + dir_ / "sample.bin").rc, 0);
  const auto second = nlohmann::json::parse(Fls("info " + Store() + " second --json").out);
  for (const auto& p : second["manifest_copies_paths"]) {
    std::string text = ReadFile(p);
    text[text.find("\"mode\":") + 7] = '1';
    fls::testing::WriteFile(p, text);
  }
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  EXPECT_NE(r.out.find("UNREADABLE    'second'"), std::string::npos) << r.out;
  r = Fls("ls " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  r = Fls("info " + Store() + " second");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("every manifest copy"), std::string::npos) << r.out;
  r = Fls("sweep --verify-only --json --db " + dir_ / "h.db" + " " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  const auto sweep = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(sweep["unreadable_objects"].size(), 1u) << r.out;
  EXPECT_EQ(sweep["unreferenced"].size(), 14u) << r.out;
}

TEST_F(Cli, UsageAndIoErrors) {
  EXPECT_EQ(Fls("archive").rc, 2);
  CmdResult r = Fls("archive " + dir_ / "sample.bin");  // no store
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("no store given"), std::string::npos) << r.out;
  r = Fls("archive " + Store() + " -k 0 " + dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 2) << r.out;
  r = Fls("archive " + Store() + " " + dir_ / "missing.bin");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("missing.bin"), std::string::npos) << r.out;
  r = Fls("restore " + Store() + " nothing-here");
  EXPECT_EQ(r.rc, 3) << r.out;
  r = Fls("archive --target " + dir_ / "t0" + " --target " + dir_ / "t1" + " " +
          dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--allow-shared-targets"), std::string::npos) << r.out;
  r = Fls("archive --allow-shared-targets --target " + dir_ / "t0" + " --target " + dir_ / "t1" +
          " -k 2 -m 2 " + dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("fault tolerance is 1 target failure(s), not 2"), std::string::npos)
      << r.out;
}

// `restore --no-follow` reaches the output's directory from / without
// following a link: a link on the way is refused (exit 2, the path named)
// and nothing is written where it points; without the flag the same path is
// followed, as for any path a user types. An output that is a symbolic link
// is never replaced, with or without the flag.
TEST_F(Cli, RestoreNoFollowRefusesALinkOnTheWay) {
  CmdResult r = Fls("archive -q " + Store() + " --stripe 20K " + dir_ / "sample.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::filesystem::create_directories(dir_ / "real");
  std::filesystem::create_directory_symlink(dir_ / "real", dir_ / "link");
  r = Fls("restore " + Store() + " sample.bin --no-follow -o " + dir_ / "link/out.bin");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("symbolic link"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir_ / "link"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "real"));
  r = Fls("restore " + Store() + " sample.bin --no-follow -o " + dir_ / "real/out.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "real/out.bin"), data_);
  r = Fls("restore " + Store() + " sample.bin -o " + dir_ / "link/again.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "real/again.bin"), data_);
  fls::testing::WriteFile(dir_ / "victim", "untouched");
  std::filesystem::create_symlink(dir_ / "victim", dir_ / "real/final-link");
  for (const char* flag : {"", " --no-follow"}) {
    r = Fls("restore " + Store() + " sample.bin" + flag + " -o " + dir_ / "real/final-link");
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find("is a symbolic link; restore replaces regular files only"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(ReadFile(dir_ / "victim"), "untouched");
  }
}

// A name that is not valid UTF-8, holds a control character or is too long
// is refused (exit 2) before anything is written: no chunk file, no
// manifest, no temporary on any target. (It used to abort the process and
// leave 14 chunk files behind.)
TEST_F(Cli, BadNamesAreRefusedBeforeAnythingIsWritten) {
  struct Case {
    std::string name, expect;
  } cases[] = {
      {"\xff\xfe", "not valid UTF-8"},
      {"caf\xc3", "not valid UTF-8"},
      {"a\x01"
       "b",
       "control character (0x01 at byte 1)"},
      {"line\nbreak", "control character (0x0a at byte 4)"},
      {"del\x7f", "control character (0x7f at byte 3)"},
      {std::string(4097, 'n'), "more than 4096"},
  };
  for (const Case& c : cases) {
    const CmdResult r =
        FlsArgv({"archive", Store(), "--name", c.name, dir_ / "sample.bin"}, dir_ / "log.txt");
    EXPECT_EQ(r.rc, 2) << c.expect << ": " << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
  }
  // The default name, the file's base name, is checked the same way.
  const std::string odd = dir_ / "odd-\xff.bin";
  fls::testing::WriteFile(odd, "some bytes");
  CmdResult r = FlsArgv({"archive", Store(), odd}, dir_ / "log.txt");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("not valid UTF-8 (at byte 4)"), std::string::npos) << r.out;
  for (int i = 0; i < 14; ++i) {
    const std::string t = dir_ / ("t" + std::to_string(i));
    EXPECT_TRUE(fls::testing::AllFiles(t).empty()) << t;
  }
  // A good name with non-ASCII letters goes through and comes back.
  r = FlsArgv({"archive", Store(), "--name", "caf\xc3\xa9/\xe2\x82\xac.bin", dir_ / "sample.bin"},
              dir_ / "log.txt");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = FlsArgv({"restore", Store(), "caf\xc3\xa9/\xe2\x82\xac.bin", "-o", dir_ / "back.bin"},
              dir_ / "log.txt");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "back.bin"), data_);
}

// Archiving a name again: unchanged (exit 0, nothing written) when size,
// mtime and mode match (or, with --checksum, the SHA-256); refused (exit 2)
// when they differ.
TEST_F(Cli, ReArchiveIsUnchangedOrRefused) {
  const std::string file = dir_ / "sample.bin";
  ASSERT_EQ(Fls("archive -q " + Store() + " --stripe 20K " + file).rc, 0);
  auto files = [&] {
    std::vector<std::string> v = fls::testing::AllFiles(Store());
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::vector<std::string> before = files();
  CmdResult r = Fls("archive " + Store() + " --stripe 20K " + file);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("unchanged"), std::string::npos) << r.out;
  r = Fls("archive --json " + Store() + " " + file);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["unchanged"], true) << r.out;
  EXPECT_EQ(files(), before) << "an unchanged file wrote something";
  // Touched: the quick check sees another file; the checksum sees the same bytes.
  namespace fs = std::filesystem;
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  r = Fls("archive " + Store() + " " + file);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("already archived with other content"), std::string::npos) << r.out;
  r = Fls("archive --checksum " + Store() + " " + file);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("unchanged"), std::string::npos) << r.out;
  // Other bytes of the same size and time: only the checksum tells.
  const auto mtime = fs::last_write_time(file);
  std::string other = data_;
  other[1000] ^= 1;
  fls::testing::WriteFile(file, other);
  fs::last_write_time(file, mtime);
  r = Fls("archive --checksum " + Store() + " " + file);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("SHA-256 differs"), std::string::npos) << r.out;
  EXPECT_EQ(files(), before);
}

// A directory: its small files are packed (named from the directory's own
// name down, like tar), its large ones archived alone; every file restores
// by name, info/verify/ls know the packed ones, and a second run changes
// nothing.
TEST_F(Cli, ArchiveADirectoryPacksItsSmallFiles) {
  namespace fs = std::filesystem;
  const std::string src = dir_ / "photos";
  std::map<std::string, std::string> files;
  for (int i = 0; i < 30; ++i) {
    const std::string rel = (i % 2 ? "2020/" : "2021/") + std::string("f") + std::to_string(i);
    files["photos/" + rel] = fls::testing::RandomBytes(i == 29 ? 1500000 : i * 997, 300 + i);
    fs::create_directories(fs::path(src + "/" + rel).parent_path());
    fls::testing::WriteFile(src + "/" + rel, files["photos/" + rel]);
  }
  ::symlink("/etc/passwd", (src + "/link").c_str());
  CmdResult r = Fls("archive " + Store() + " --stripe 100K --json " + src + "/");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("skipped " + src + "/link"), std::string::npos) << r.out;
  int packed = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line);
    if (j.contains("pack")) ++packed;
  }
  EXPECT_EQ(packed, 29);  // the 1.5 MB file is an object of its own
  for (const auto& [name, bytes] : files) {
    r = Fls("restore " + Store() + " '" + name + "' -o " + dir_ / "out");
    ASSERT_EQ(r.rc, 0) << name << ": " << r.out;
    EXPECT_EQ(ReadFile(dir_ / "out"), bytes) << name;
  }
  // To stdout: the same bytes.
  r = Fls("restore " + Store() + " photos/2021/f4 -o - > " + dir_ / "piped");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "piped"), files["photos/2021/f4"]);
  r = Fls("info " + Store() + " photos/2020/f3 --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["size"], 3 * 997);
  EXPECT_EQ(info["health"], "healthy");
  EXPECT_EQ(info["packed_in"].get<std::string>().rfind("fls-pack/", 0), 0u);
  r = Fls("verify " + Store() + " photos/2020/f3");
  EXPECT_EQ(r.rc, 0) << r.out;
  r = Fls("ls " + Store() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  int listed_packed = 0;
  std::istringstream ls(r.out);
  for (std::string line; std::getline(ls, line);)
    if (!line.empty() && nlohmann::json::parse(line).contains("packed_in")) ++listed_packed;
  EXPECT_EQ(listed_packed, 29);
  // Again: everything unchanged, nothing written.
  const auto count = [&] {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path()))
      if (e.path().string().find("/t") != std::string::npos) ++n;
    return n;
  };
  const std::size_t before = count();
  r = Fls("archive " + Store() + " --stripe 100K --json " + src);
  ASSERT_EQ(r.rc, 0) << r.out;
  int unchanged = 0;
  std::istringstream again(r.out);
  for (std::string line; std::getline(again, line);)
    if (!line.empty() && line[0] == '{') {
      EXPECT_TRUE(nlohmann::json::parse(line)["unchanged"].get<bool>()) << line;
      ++unchanged;
    }
  EXPECT_EQ(unchanged, 30);
  EXPECT_EQ(count(), before);
  // A packed name archived again with other content is refused (exit 2).
  fls::testing::WriteFile(src + "/2020/f3", "changed");
  r = Fls("archive " + Store() + " " + src);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("photos/2020/f3' is already archived with other content"), std::string::npos)
      << r.out;
  // The pack's manifests lost: its files' records are orphans, which verify
  // reports (exit 4) and restore names.
  r = Fls("info " + Store() + " " + info["packed_in"].get<std::string>() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto pack_info = nlohmann::json::parse(r.out);
  ASSERT_EQ(pack_info["manifest_copies_paths"].size(), 5u);
  for (const auto& p : pack_info["manifest_copies_paths"])
    ASSERT_TRUE(fs::remove(p.get<std::string>()));
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 4) << r.out;
  EXPECT_NE(r.out.find("MEMBER"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("orphan member record"), std::string::npos) << r.out;
  r = Fls("restore " + Store() + " photos/2020/f3 -o " + dir_ / "gone");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("orphan"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fls
