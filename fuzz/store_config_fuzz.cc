// libFuzzer target: Store::FromYamlFile on arbitrary YAML. The file is served
// from memory by an EnvWrapper, so each run touches no disk.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fls/env.h"
#include "fls/store.h"
#include "fuzz_util.h"

namespace {

constexpr char kPath[] = "/fuzz/store.yaml";

class OneFileEnv : public fls::EnvWrapper {
 public:
  OneFileEnv(std::string text) : fls::EnvWrapper(fls::Env::Default()), text_(std::move(text)) {}

  fls::Status GetFileInfo(const std::string& path, fls::FileInfo* info) override {
    if (path != kPath) return fls::Status::NotFound(path);
    info->size = text_.size();
    return fls::Status::Ok();
  }
  fls::Status NewRandomAccessFile(const std::string& path,
                                  std::unique_ptr<fls::RandomAccessFile>* file) override {
    if (path != kPath) return fls::Status::NotFound(path);
    file->reset(new MemFile(text_));
    return fls::Status::Ok();
  }

 private:
  class MemFile : public fls::RandomAccessFile {
   public:
    explicit MemFile(const std::string& text) : text_(text), path_(kPath) {}
    fls::Status Read(std::uint64_t offset, std::size_t n, void* buf,
                     std::size_t* read) const override {
      *read = 0;
      if (offset < text_.size()) {
        *read = std::min<std::size_t>(n, text_.size() - offset);
        std::memcpy(buf, text_.data() + offset, *read);
      }
      return fls::Status::Ok();
    }
    const std::string& path() const override { return path_; }

   private:
    const std::string& text_;
    std::string path_;
  };
  std::string text_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  OneFileEnv env(std::string(reinterpret_cast<const char*>(data), size));
  std::unique_ptr<fls::Store> store;
  const fls::Status s = fls::Store::FromYamlFile(&env, kPath, &store);
  if (!s.ok()) {
    FLS_FUZZ_CHECK(store == nullptr);
    FLS_FUZZ_CHECK(!s.ToString().empty());
    return 0;
  }
  FLS_FUZZ_CHECK(store != nullptr && !store->targets().empty());
  for (const fls::Target& t : store->targets()) FLS_FUZZ_CHECK(!t.path.empty() && t.path[0] == '/');
  return 0;
}
