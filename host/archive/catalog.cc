// The catalogue: lookups by name, the streaming walk, and the version 1
// scan that version 1 stores still need (fls/store.h).
#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "fls/store.h"
#include "fls/time_text.h"
#include "record_json.h"

namespace fls {
namespace {

using Hash = std::array<std::uint8_t, 16>;
constexpr std::size_t kMaxManifestBytes = 1 << 20;

Hash HashFromHex(const std::string& hex) {
  Hash h{};
  for (int i = 0; i < 16; ++i)
    h[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return h;
}

std::string HexOf(const Hash& h) {
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[h[i] >> 4];
    out[2 * i + 1] = kHex[h[i] & 15];
  }
  return out;
}

Status ReadManifestText(Env* env, const std::string& path, std::string* text) {
  return internal::ReadRecordFile(env, path, kMaxManifestBytes, "a manifest", text);
}

// The name in a manifest that fails its checks, when its JSON still says.
std::string NameInDamaged(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("name") && j["name"].is_string()) return j["name"];
  return "";
}

struct Copies {
  bool have = false;         // entry holds a readable manifest
  std::string damaged_name;  // a name read from a damaged copy
};

// Reads the version 3 manifest file `file` on every target. With `want`,
// copies of another name (a hash collision) are set aside and that name
// goes to *holder.
Copies ReadNameCopies(const Store& store, const std::string& file, const std::string* want,
                      CatalogEntry* entry, std::string* holder) {
  struct Good {
    std::string path, text;
    Manifest m;
  };
  std::vector<Good> good;
  Copies out;
  for (const Target& t : store.targets()) {
    const std::string path = JoinPath(t.path, file);
    std::string text;
    Status s = ReadManifestText(store.env(), path, &text);
    if (s.code() == Status::Code::kNotFound) continue;
    // The copies of one commit are byte-identical, and decoding (JSON, the
    // canonical checksum) is most of a lookup's CPU: a text met already in
    // a good copy is that copy again, with every check below passed.
    if (s.ok()) {
      auto same =
          std::find_if(good.begin(), good.end(), [&](const Good& g) { return g.text == text; });
      if (same != good.end()) {
        Manifest again = same->m;
        good.push_back({path, std::move(text), std::move(again)});
        continue;
      }
    }
    Manifest m;
    if (s.ok()) s = DecodeManifest(text, &m);
    if (s.ok() && m.format_version != kManifestFormatVersion)
      s = Status::Corruption("a version " + std::to_string(m.format_version) +
                             " manifest under a version 3 name");
    if (s.ok() && NameManifestFileName(m.name) != file)
      s = Status::Corruption("names object '" + m.name + "', whose manifest file is " +
                             NameManifestFileName(m.name));
    if (!s.ok()) {
      entry->bad_copies.push_back(path);
      entry->problems.push_back(path + ": " + s.message());
      if (out.damaged_name.empty()) out.damaged_name = NameInDamaged(text);
      continue;
    }
    if (want != nullptr && m.name != *want) {
      if (holder != nullptr) *holder = m.name;
      continue;
    }
    good.push_back({path, std::move(text), std::move(m)});
  }
  if (good.empty()) return out;
  std::size_t win = 0;
  for (std::size_t i = 1; i < good.size(); ++i)
    if (good[i].m.generation > good[win].m.generation ||
        (good[i].m.generation == good[win].m.generation && good[win].m.name != good[i].m.name &&
         good[i].m.name < good[win].m.name))
      win = i;
  const Good& w = good[win];
  entry->max_generation = w.m.generation;
  for (const Good& g : good) {
    if (g.m.generation < w.m.generation) {
      entry->stale_copies.push_back(g.path);
    } else if (g.text == w.text) {
      entry->copies.push_back(g.path);
    } else {
      // Two writers committed one generation differently: only one can be
      // the object; the other copy is garbage that the next commit replaces.
      entry->bad_copies.push_back(g.path);
      entry->problems.push_back(g.path + ": generation " + std::to_string(g.m.generation) +
                                " differs from the copy at " + w.path);
    }
  }
  entry->manifest = w.m;
  store.Resolve(&entry->manifest);
  out.have = true;
  return out;
}

using Generations = std::map<std::uint64_t, std::vector<std::string>>;  // generation -> paths

// Version 1: manifest copies of every object (or of `only`) on `targets`.
void ListV1Manifests(Env* env, const std::vector<std::string>& dirs, const ObjectId* only,
                     std::map<ObjectId, Generations>* found, std::vector<std::string>* warnings) {
  for (const std::string& dir : dirs) {
    Status s = env->ForEachChild(dir, [&](std::string_view n) {
      ObjectId id;
      std::uint64_t gen = 0;
      if (ParseManifestFileName(n, &id, &gen) && (only == nullptr || id == *only))
        (*found)[id][gen].push_back(JoinPath(dir, std::string(n)));
      return true;
    });
    if (!s.ok() && warnings) warnings->push_back("target " + dir + " unreadable: " + s.message());
  }
}

// Version 1: the newest readable generation of object `id`. A copy that was
// listed but is gone when read was superseded meanwhile (a writer committed
// a newer generation and removed this one): it sets `vanished` instead of
// counting as a problem.
bool ReadV1Entry(Env* env, const ObjectId& id, const Generations& gens, CatalogEntry* entry,
                 bool* vanished, std::string* damaged_name) {
  bool have = false;
  *vanished = false;
  if (!gens.empty()) entry->max_generation = gens.rbegin()->first;
  // Newest generation first; fall back to older ones only when no copy of a
  // newer one can be read.
  for (auto g = gens.rbegin(); g != gens.rend(); ++g) {
    for (const std::string& path : g->second) {
      if (have && entry->manifest.generation != g->first) {
        entry->stale_copies.push_back(path);
        continue;
      }
      std::string text;
      Manifest m;
      Status s = ReadManifestText(env, path, &text);
      if (s.code() == Status::Code::kNotFound) {
        *vanished = true;
        continue;
      }
      if (s.ok()) s = DecodeManifest(text, &m);
      if (s.ok() &&
          (!IsPathAddressedManifest(m.format_version) || m.id != id || m.generation != g->first))
        s = Status::Corruption("manifest " + path + " names object " + ObjectIdToHex(m.id) +
                               " generation " + std::to_string(m.generation) +
                               ", not what its file name says");
      if (!s.ok()) {
        entry->problems.push_back(path + ": " + s.message());
        entry->bad_copies.push_back(path);
        if (damaged_name->empty()) *damaged_name = NameInDamaged(text);
        continue;
      }
      if (!have) {
        entry->manifest = std::move(m);
        have = true;
      }
      entry->copies.push_back(path);
    }
  }
  return have;
}

// Reads a listed version 1 object, listing it again (bounded) when every
// copy listed was replaced before it could be read (a concurrent repair or
// rebalance committed meanwhile); a writer that keeps winning the race
// leaves the object out of this reading, never half-read.
bool ReadV1Object(Env* env, const std::vector<std::string>& dirs, const ObjectId& id,
                  const Generations& gens, CatalogEntry* entry, std::string* damaged_name) {
  bool vanished = false;
  bool have = ReadV1Entry(env, id, gens, entry, &vanished, damaged_name);
  for (int attempt = 0; !have && vanished && attempt < 5; ++attempt) {
    std::map<ObjectId, Generations> again;
    ListV1Manifests(env, dirs, &id, &again, nullptr);
    *entry = CatalogEntry{};
    if (again.count(id))
      have = ReadV1Entry(env, id, again[id], entry, &vanished, damaged_name);
    else
      vanished = false;  // the object is gone altogether
  }
  return have;
}

// Whether object `id` may be the one named `name`: the first copy of its
// newest generations that decodes says. True when no listed copy can be read
// (ReadV1Object then decides, listing again if they were replaced).
bool MayBeNamed(Env* env, const ObjectId& id, const Generations& gens, const std::string& name) {
  for (auto g = gens.rbegin(); g != gens.rend(); ++g)
    for (const std::string& path : g->second) {
      std::string text;
      Manifest m;
      if (ReadManifestText(env, path, &text).ok() && DecodeManifest(text, &m).ok() && m.id == id)
        return m.name == name;
    }
  return true;
}

std::vector<std::string> Dirs(const Store& store) {
  std::vector<std::string> dirs;
  for (const Target& t : store.targets()) dirs.push_back(t.path);
  return dirs;
}

}  // namespace

Status Store::FindObject(const std::string& name, CatalogEntry* entry, std::string* holder) const {
  CatalogEntry e;
  std::string other;
  const Copies c = ReadNameCopies(*this, NameManifestFileName(name), &name, &e, &other);
  if (holder != nullptr) *holder = other;
  if (c.have && e.manifest.tombstone) {
    const std::string msg = "no object named '" + name + "' in the store: it was deleted (" +
                            FormatTimeNs(e.manifest.deleted_ns) + ", tombstone generation " +
                            std::to_string(e.manifest.generation) + ")";
    *entry = std::move(e);
    return Status::NotFound(msg);
  }
  if (c.have) {
    *entry = std::move(e);
    return Status::Ok();
  }
  if (!e.bad_copies.empty()) {
    std::string msg = "object '" + name + "': every manifest copy found is unreadable";
    for (const auto& p : e.problems) msg += "; " + p;
    return Status::Corruption(msg);
  }
  if (MayHoldV1() && FindV1(name, &e).ok()) {
    *entry = std::move(e);
    return Status::Ok();
  }
  std::string msg = "no object named '" + name + "' in the store (" +
                    std::to_string(targets_.size()) + " targets searched)";
  if (!other.empty())
    msg += "; its manifest file " + NameManifestFileName(name) + " holds the object '" + other +
           "' (the names' SHA-256 hashes collide)";
  return Status::NotFound(msg);
}

Status Store::FindV1(const std::string& name, CatalogEntry* entry) const {
  // Only targets that may hold path-addressed manifests are listed.
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < targets_.size(); ++i)
      if (ids_[i].target_id.empty() || ids_[i].v1_objects) dirs.push_back(targets_[i].path);
  }
  std::map<ObjectId, Generations> found;
  ListV1Manifests(env_, dirs, nullptr, &found, nullptr);
  for (auto& [id, gens] : found) {
    // One copy tells the name; only the object of that name is read in full.
    if (!MayBeNamed(env_, id, gens, name)) continue;
    CatalogEntry e;
    std::string damaged;
    if (ReadV1Object(env_, dirs, id, gens, &e, &damaged) && e.manifest.name == name) {
      Resolve(&e.manifest);
      *entry = std::move(e);
      return Status::Ok();
    }
  }
  return Status::NotFound("no version 1 object named '" + name + "'");
}

void Store::WalkCatalog(const std::function<bool(CatalogEntry&)>& fn, CatalogWalk* walk,
                        const std::function<void(std::uint64_t)>& on_total) const {
  *walk = CatalogWalk{};
  walk->warnings = IdentityWarnings();
  std::vector<Hash> hashes;
  std::map<ObjectId, Generations> v1;
  for (const Target& t : targets_) {
    std::string hex;
    Status s = env_->ForEachChild(t.path, [&](std::string_view n) {
      ObjectId id;
      std::uint64_t gen = 0;
      if (ParseNameManifestFileName(n, &hex))
        hashes.push_back(HashFromHex(hex));
      else if (ParseManifestFileName(n, &id, &gen))
        v1[id][gen].push_back(JoinPath(t.path, std::string(n)));
      return true;
    });
    if (!s.ok()) walk->warnings.push_back("target " + t.path + " unreadable: " + s.message());
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  hashes.shrink_to_fit();
  walk->names = hashes.size() + v1.size();
  if (on_total) on_total(walk->names);
  for (const Hash& h : hashes) {
    const std::string file = "fls-n" + HexOf(h) + ".manifest";
    CatalogEntry e;
    const Copies c = ReadNameCopies(*this, file, nullptr, &e, nullptr);
    if (c.have && e.manifest.tombstone) {
      walk->tombstones.push_back(std::move(e));
    } else if (c.have) {
      if (!fn(e)) return;
    } else if (!e.bad_copies.empty()) {
      walk->unreadable.push_back({c.damaged_name, HexOf(h), e.bad_copies, e.problems});
    }
  }
  const std::vector<std::string> dirs = Dirs(*this);
  for (auto& [id, gens] : v1) {
    CatalogEntry e;
    std::string damaged;
    if (ReadV1Object(env_, dirs, id, gens, &e, &damaged)) {
      // A version 3 manifest of the same name supersedes it (an interrupted upgrade).
      if (std::binary_search(hashes.begin(), hashes.end(), HashFromHex(NameHash(e.manifest.name))))
        continue;
      Resolve(&e.manifest);
      if (!fn(e)) return;
    } else if (!e.bad_copies.empty()) {
      walk->unreadable.push_back({damaged, ObjectIdToHex(id), e.bad_copies, e.problems});
    }
  }
}

Catalog Store::ReadCatalog() const {
  Catalog catalog;
  CatalogWalk walk;
  WalkCatalog(
      [&](CatalogEntry& e) {
        catalog.objects.push_back(std::move(e));
        return true;
      },
      &walk);
  std::sort(catalog.objects.begin(), catalog.objects.end(),
            [](const CatalogEntry& a, const CatalogEntry& b) {
              return a.manifest.name < b.manifest.name;
            });
  catalog.warnings = std::move(walk.warnings);
  for (const UnreadableObject& u : walk.unreadable)
    for (const std::string& p : u.problems) catalog.warnings.push_back(p);
  catalog.unreadable = std::move(walk.unreadable);
  return catalog;
}

}  // namespace fls
