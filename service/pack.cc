#include "pack.h"
#include "json_int.h"

#include <cstring>

#include "fls/archive.h"
#include "fls/sha256.h"

namespace fls::service {
namespace {

void PutU64(std::string* s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Range-restores [offset, offset+length) of object `name` into memory,
// through `scratch_name` in `scratch`.
Status ReadObjectRange(const Store& store, const std::string& name, std::uint64_t offset,
                       std::uint64_t length, Directory* scratch, const std::string& scratch_name,
                       std::string* out) {
  RestoreOptions o;
  o.output_dir = scratch;
  o.output = scratch_name;
  o.has_range = true;
  o.offset = offset;
  o.length = length;
  RestoreResult r;
  FLS_RETURN_IF_ERROR(RestoreObject(store, name, o, &r));
  Status s = ReadWholeFile(scratch, scratch_name, out, length + 1);
  scratch->RemoveFile(scratch_name);
  FLS_RETURN_IF_ERROR(s);
  if (out->size() != length)
    return Status::IOError("range read of pack '" + name + "' returned " +
                           std::to_string(out->size()) + " bytes, not " + std::to_string(length));
  return Status::Ok();
}

// Appends source `path` to the pack and fills `e` (length, SHA-256, mode,
// mtime) from what was read and from the open descriptor. A failure of the
// source is returned; a failed write of the pack itself goes to
// `write_error` instead (it fails the whole pack).
Status AppendSource(const OpenSourceFn& open, const std::string& path, WritableFile* out,
                    std::vector<std::uint8_t>* buf, PackEntry* e, std::uint64_t* offset,
                    Status* write_error) {
  std::unique_ptr<RandomAccessFile> in;
  FileInfo info;
  FLS_RETURN_IF_ERROR(open(path, &in, &info));
  Sha256 sha;
  std::uint64_t length = 0;
  for (;;) {
    std::size_t got = 0;
    FLS_RETURN_IF_ERROR(in->Read(length, buf->size(), buf->data(), &got));
    if (got == 0) break;
    sha.Update(buf->data(), got);
    *write_error = out->Append(buf->data(), got);
    if (!write_error->ok()) return Status::Ok();
    *offset += got;  // in the pack even if a later read fails: offsets stay true
    length += got;
  }
  e->length = length;
  e->sha256 = sha.FinishHex();
  e->mode = info.mode;
  e->mtime_ns = info.mtime_ns;
  return Status::Ok();
}

}  // namespace

Status WritePackFile(const OpenSourceFn& open, const std::vector<std::string>& paths,
                     const std::vector<std::string>& names, Directory* dir,
                     const std::string& out_name, std::vector<PackEntry>* entries,
                     std::vector<Status>* errors) {
  std::unique_ptr<WritableFile> out;
  FLS_RETURN_IF_ERROR(dir->NewWritableFile(out_name, &out));
  entries->assign(paths.size(), PackEntry());
  errors->assign(paths.size(), Status::Ok());
  nlohmann::json files = nlohmann::json::array();
  std::uint64_t offset = 0;
  std::vector<std::uint8_t> buf(1 << 20);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    PackEntry& e = (*entries)[i];
    e.name = names[i];
    e.offset = offset;
    Status write_error;
    (*errors)[i] = AppendSource(open, paths[i], out.get(), &buf, &e, &offset, &write_error);
    FLS_RETURN_IF_ERROR(write_error);
    if (!(*errors)[i].ok()) continue;
    files.push_back({{"name", e.name},
                     {"offset", e.offset},
                     {"length", e.length},
                     {"sha256", e.sha256},
                     {"mode", e.mode},
                     {"mtime_ns", e.mtime_ns}});
  }
  std::string tail = nlohmann::json{{"format", "fls-pack/1"}, {"files", files}}.dump();
  const std::uint64_t index_len = tail.size();
  PutU64(&tail, index_len);
  tail.append(kPackMagic, 8);
  FLS_RETURN_IF_ERROR(out->Append(tail.data(), tail.size()));
  return out->Close();
}

Status ParsePackTail(const std::string& tail, std::uint64_t pack_size, const std::string& pack,
                     std::vector<PackEntry>* entries, std::uint64_t* needed) {
  *needed = 0;
  entries->clear();
  if (tail.size() < 16 || pack_size < 16)
    return Status::Corruption("pack '" + pack + "' is shorter than its trailer");
  const char* t = tail.data() + tail.size() - 16;
  if (std::memcmp(t + 8, kPackMagic, 8) != 0)
    return Status::Corruption("pack '" + pack + "' has no FLSPACK1 trailer");
  const std::uint64_t index_len = GetU64(t);
  if (index_len > pack_size - 16)
    return Status::Corruption("pack '" + pack + "' index length " + std::to_string(index_len) +
                              " exceeds the pack");
  if (tail.size() < index_len + 16) {
    *needed = index_len + 16;
    return Status::Ok();
  }
  const std::string text = tail.substr(tail.size() - 16 - index_len, index_len);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  // Check the type before reading "format": json::value() throws when the
  // key holds a non-string (found by fuzz/pack_index_fuzz).
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get_ref<const std::string&>() != "fls-pack/1" || !j.contains("files") ||
      !j["files"].is_array())
    return Status::Corruption("pack '" + pack + "' has a malformed index");
  const std::uint64_t data_end = pack_size - 16 - index_len;
  try {
    for (const auto& f : j["files"]) {
      PackEntry e;
      e.pack = pack;
      e.name = f.at("name").get<std::string>();
      e.offset = JsonInt<std::uint64_t>(f.at("offset"), "offset");
      e.length = JsonInt<std::uint64_t>(f.at("length"), "length");
      e.sha256 = f.at("sha256").get<std::string>();
      e.mode = JsonInt<std::uint32_t>(f.at("mode"), "mode");
      e.mtime_ns = JsonInt<std::int64_t>(f.at("mtime_ns"), "mtime_ns");
      if (e.offset > data_end || e.length > data_end - e.offset)
        return Status::Corruption("pack '" + pack + "' index entry '" + e.name +
                                  "' lies outside the pack's data");
      entries->push_back(std::move(e));
    }
  } catch (const std::exception& ex) {
    return Status::Corruption("pack '" + pack + "' index: " + ex.what());
  }
  return Status::Ok();
}

Status PackDirectory::Refresh(const Store& store, Directory* scratch) {
  warnings_.clear();
  const Catalog c = store.ReadCatalog();
  int n = 0;
  for (const CatalogEntry& e : c.objects) {
    const Manifest& m = e.manifest;
    if (m.name.rfind(kPackPrefix, 0) != 0 || loaded_.count(m.name)) continue;
    const std::string scratch_name = "index-" + std::to_string(n++);
    std::uint64_t want = std::min<std::uint64_t>(m.size, 64 << 10), needed = 0;
    std::vector<PackEntry> entries;
    Status s;
    for (int round = 0; round < 2; ++round) {
      std::string tail;
      s = ReadObjectRange(store, m.name, m.size - want, want, scratch, scratch_name, &tail);
      if (s.ok()) s = ParsePackTail(tail, m.size, m.name, &entries, &needed);
      if (!s.ok() || needed == 0) break;
      want = needed;
    }
    if (!s.ok()) {
      warnings_.push_back(s.ToString());
      continue;
    }
    for (const auto& pe : entries) by_name_[pe.name] = pe;
    loaded_.insert(m.name);
  }
  return Status::Ok();
}

const PackEntry* PackDirectory::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace fls::service
