// VerifyObject and RepairObject (fls/archive.h).
#include <algorithm>
#include <cstring>
#include <set>

#include "chunk_checksum.h"
#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/codec.h"
#include "fls/crc32c.h"
#include "fls/sha256.h"
#include "manifest_commit.h"
#include "object_io.h"
#include "repair_plan.h"

namespace fls {
namespace {

void MarkBad(ChunkReport* r, std::uint64_t stripe, const std::string& state) {
  if (std::find(r->bad_stripes.begin(), r->bad_stripes.end(), stripe) == r->bad_stripes.end())
    r->bad_stripes.push_back(stripe);
  if (r->state == "ok") r->state = state;
}

std::string StripeList(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i == 8) {
      s += ", ... (" + std::to_string(v.size()) + " in all)";
      break;
    }
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s;
}

// Recomputes the parity of the stripes of `batch` whose data blocks are all
// good; a stored parity block that differs is marked bad. `scratch` holds
// stripes * m blocks.
Status CheckParity(Backend& backend, internal::ObjectReader& reader, internal::StripeBatch* b,
                   std::uint8_t* scratch) {
  const Manifest& mf = reader.manifest();
  const int k = mf.k, m = mf.m, n = k + m;
  std::vector<std::size_t> full;
  std::vector<const std::uint8_t*> data;
  std::vector<std::uint8_t*> out;
  for (std::size_t s = 0; s < b->stripes; ++s) {
    bool ok = true;
    for (int j = 0; j < k; ++j) ok = ok && b->shards[s * n + j] != nullptr;
    if (!ok) continue;
    for (int j = 0; j < k; ++j) data.push_back(b->shards[s * n + j]);
    for (int p = 0; p < m; ++p) out.push_back(scratch + (full.size() * m + p) * b->block);
    full.push_back(s);
  }
  if (full.empty()) return Status::Ok();
  EncodeBatch eb;
  eb.stripes = full.size();
  eb.block_bytes = b->block;
  eb.data = data;
  eb.parity = out;
  FLS_RETURN_IF_ERROR(backend.Encode(eb));
  for (std::size_t f = 0; f < full.size(); ++f) {
    const std::size_t s = full[f];
    for (int p = 0; p < m; ++p) {
      const std::uint8_t* stored = b->shards[s * n + k + p];
      if (stored == nullptr || std::memcmp(stored, out[f * m + p], b->block) == 0) continue;
      b->shards[s * n + k + p] = nullptr;
      b->reason[s * n + k + p] = internal::kParityMismatch;
      ChunkReport& r = reader.chunks()[k + p].report;
      MarkBad(&r, b->first + s, "damaged");
      if (r.detail.empty()) r.detail = "parity differs from the data (deep check)";
    }
  }
  return Status::Ok();
}

// What one read of every chunk found.
struct Scan {
  std::vector<std::uint32_t> sums;  // each chunk's checksum over the blocks read
  std::vector<std::uint64_t> unrecoverable;
  std::vector<std::string> notes;  // one per unrecoverable stripe
};

// Reads every block of every usable chunk of `reader` (Open()ed), checking
// block CRCs and building the chunk checksums; with `backend` (deep) also
// recomputes the parity of every stripe whose data blocks are good.
Status ScanObject(internal::ObjectReader& reader, Backend* backend, const ProgressFn& progress,
                  Scan* scan) {
  const Manifest& mf = reader.manifest();
  const int k = mf.k, m = mf.m, n = k + m;
  auto& chunks = reader.chunks();
  const StripeGeometry& g = reader.geometry();
  const internal::ChunkChecksummer checksummer(mf);
  *scan = Scan{};
  for (int i = 0; i < n; ++i) scan->sums.push_back(checksummer.Start(i));
  const std::size_t per = internal::StripesPerBatch(g.stripe_width(), g.stripes());
  internal::StripeBatch batch;
  // Only the deep check needs the blocks after their CRCs are checked.
  reader.Prepare(&batch, per, /*keep_data=*/backend != nullptr);
  std::vector<std::uint8_t> parity(backend ? per * m * g.full_block() : 0);
  for (std::uint64_t first = 0; first < g.stripes();) {
    const std::size_t count = static_cast<std::size_t>(g.uniform_run(first, per));
    FLS_RETURN_IF_ERROR(reader.Read(&batch, first, count, true, false));
    const std::uint64_t rec = batch.block + kBlockCrcBytes;
    for (int i = 0; i < n; ++i) {
      if (!chunks[i].usable) continue;
      // A short read has already marked the chunk bad, so its checksum no
      // longer matters.
      for (std::size_t s = 0; s < count && (s + 1) * rec <= batch.got[i]; ++s)
        scan->sums[i] = checksummer.Add(scan->sums[i], first + s, batch.block_crc[s * n + i]);
    }
    if (backend) FLS_RETURN_IF_ERROR(CheckParity(*backend, reader, &batch, parity.data()));
    for (std::size_t s = 0; s < count; ++s) {
      int good = 0;
      for (int i = 0; i < n; ++i) good += batch.reason[s * n + i] == internal::kGood;
      if (good < k) {
        scan->unrecoverable.push_back(first + s);
        scan->notes.push_back(reader.DescribeStripe(batch, s));
      }
    }
    first += count;
    if (progress) progress(std::min(mf.size, g.stripe_offset(first)), mf.size);
  }
  return Status::Ok();
}

}  // namespace

Status VerifyObject(const Store& store, const CatalogEntry& entry, const VerifyOptions& opt,
                    ObjectReport* report) {
  const Manifest& mf = entry.manifest;
  const int k = mf.k, m = mf.m, n = k + m;
  *report = ObjectReport{};
  report->name = mf.name;
  report->id = ObjectIdToHex(mf.id);
  report->size = mf.size;
  report->generation = mf.generation;
  report->deep = opt.deep;
  report->manifest_copies = static_cast<int>(entry.copies.size());
  report->manifest_copies_expected = static_cast<int>(mf.manifest_targets.size());
  std::unique_ptr<Backend> backend;
  if (opt.deep)
    FLS_RETURN_IF_ERROR(MakeBackend(opt.backend, opt.threads, k, m, mf.matrix, &backend));

  internal::ObjectReader reader(store, mf);
  reader.Open();
  Scan scan;
  FLS_RETURN_IF_ERROR(ScanObject(reader, backend.get(), opt.progress, &scan));
  // A chunk whose every block passed its CRC but whose checksum differs from
  // the manifest's was rewritten block and CRC alike: none of its blocks can
  // be trusted, and which is wrong is not known. Scanned again without it
  // (rare), so that stripe counts and the deep parity check hold.
  std::vector<ChunkReport> distrusted;
  for (int i = 0; i < n; ++i) {
    const internal::OpenedChunk& c = reader.chunks()[i];
    if (c.usable && c.report.state == "ok" && scan.sums[i] != mf.chunks[i].crc32c) {
      ChunkReport r = c.report;
      r.state = kBadChecksum;
      r.detail =
          "every block passes its CRC32C but the chunk's checksum differs from the "
          "manifest's: the chunk is not used";
      distrusted.push_back(r);
    }
  }
  if (!distrusted.empty()) {
    reader.Open();
    reader.Exclude(distrusted);
    FLS_RETURN_IF_ERROR(ScanObject(reader, backend.get(), opt.progress, &scan));
  }
  report->unrecoverable_stripes = scan.unrecoverable;
  report->notes = scan.notes;
  for (int i = 0; i < n; ++i) {
    ChunkReport& r = reader.chunks()[i].report;
    std::sort(r.bad_stripes.begin(), r.bad_stripes.end());
    if (r.state != "ok") {
      std::string note = "chunk " + std::to_string(i) + " " + r.state + " (" + r.path + ")";
      if (!r.detail.empty()) note += ": " + r.detail;
      if (!r.bad_stripes.empty()) note += "; bad stripes " + StripeList(r.bad_stripes);
      report->notes.push_back(note);
    }
    report->chunks.push_back(r);
  }
  if (report->manifest_copies < report->manifest_copies_expected)
    report->notes.push_back("manifest copies: " + std::to_string(report->manifest_copies) + " of " +
                            std::to_string(report->manifest_copies_expected) + " found");
  for (const auto& p : entry.problems) report->notes.push_back("manifest copy unreadable: " + p);

  bool degraded =
      report->manifest_copies < report->manifest_copies_expected || !entry.problems.empty();
  for (const ChunkReport& r : report->chunks) degraded = degraded || r.state != "ok";
  report->health = degraded ? Health::kDegraded : Health::kHealthy;
  if (!report->unrecoverable_stripes.empty()) {
    report->health = Health::kUnrecoverable;
  } else if (opt.deep) {
    Sha256 sha;
    internal::ObjectReader again(store, mf);
    again.Open();
    again.Exclude(report->chunks);
    Status s = internal::StreamObject(
        again, *backend, 0, mf.size,
        [&](const std::uint8_t* p, std::size_t len) {
          sha.Update(p, len);
          return Status::Ok();
        },
        nullptr, nullptr, nullptr);
    const std::string digest = s.ok() ? sha.FinishHex() : "";
    if (!s.ok() || digest != mf.sha256) {
      report->health = Health::kUnrecoverable;
      report->notes.push_back(s.ok() ? "SHA-256 of the object's bytes " + digest +
                                           " differs from the manifest's " + mf.sha256
                                     : "reading the object failed: " + s.message());
    }
  }
  return Status::Ok();
}

void QuickCheckObject(const Store& store, const CatalogEntry& entry, ObjectReport* report) {
  const Manifest& mf = entry.manifest;
  *report = ObjectReport{};
  report->name = mf.name;
  report->id = ObjectIdToHex(mf.id);
  report->size = mf.size;
  report->generation = mf.generation;
  report->manifest_copies = static_cast<int>(entry.copies.size());
  report->manifest_copies_expected = static_cast<int>(mf.manifest_targets.size());
  internal::ObjectReader reader(store, mf);
  reader.Open();
  int bad = 0;
  for (auto& c : reader.chunks()) {
    report->chunks.push_back(c.report);
    if (c.report.state != "ok") {
      ++bad;
      report->notes.push_back("chunk " + std::to_string(c.report.index) + " " + c.report.state +
                              " (" + c.path + ")" +
                              (c.report.detail.empty() ? "" : ": " + c.report.detail));
    }
  }
  if (report->manifest_copies < report->manifest_copies_expected)
    report->notes.push_back("manifest copies: " + std::to_string(report->manifest_copies) + " of " +
                            std::to_string(report->manifest_copies_expected) + " found");
  if (bad > mf.m)
    report->health = Health::kUnrecoverable;
  else if (bad > 0 || report->manifest_copies < report->manifest_copies_expected)
    report->health = Health::kDegraded;
}

Status RepairObject(const Store& store, const CatalogEntry& entry, const RepairOptions& opt,
                    RepairResult* result) {
  Env* env = store.env();
  *result = RepairResult{};
  // Rebuilt chunks may go to targets that have not joined yet.
  FLS_RETURN_IF_ERROR(store.Join());
  VerifyOptions vopt;
  vopt.backend = opt.backend;
  vopt.threads = opt.threads;
  FLS_RETURN_IF_ERROR(VerifyObject(store, entry, vopt, &result->before));
  const ObjectReport& before = result->before;
  Manifest mf = entry.manifest;
  if (before.health == Health::kUnrecoverable)
    return Status::Unrecoverable("object '" + mf.name + "' cannot be repaired: stripes " +
                                 StripeList(before.unrecoverable_stripes) +
                                 " have more than m bad blocks");
  const int k = mf.k, m = mf.m, n = k + m;
  std::vector<int> bad;
  for (const ChunkReport& r : before.chunks)
    if (r.state != "ok") bad.push_back(r.index);
  if (before.health == Health::kHealthy && entry.stale_copies.empty() && entry.bad_copies.empty())
    return Status::Ok();

  std::vector<int> new_target;
  internal::TargetProbe probe = internal::ProbeTargets(store);
  FLS_RETURN_IF_ERROR(internal::ChooseRepairTargets(store, mf, bad, &probe, &new_target));
  if (!bad.empty()) {
    std::unique_ptr<Backend> backend;
    FLS_RETURN_IF_ERROR(MakeBackend(opt.backend, opt.threads, k, m, mf.matrix, &backend));
    const Manifest next = internal::MovedManifest(store, mf, bad, new_target);
    internal::RebuiltChunkWriter writer(env, next, bad);
    FLS_RETURN_IF_ERROR(writer.Open());
    internal::ObjectReader reader(store, mf);
    reader.Open();
    reader.Exclude(before.chunks);
    const StripeGeometry& g = reader.geometry();
    const std::size_t per = internal::StripesPerBatch(g.stripe_width(), g.stripes());
    internal::StripeBatch batch;
    reader.Prepare(&batch, per);
    const std::size_t w = bad.size();
    std::vector<std::uint8_t> rebuilt(per * w * g.full_block());
    for (std::uint64_t first = 0; first < g.stripes();) {
      const std::size_t count = static_cast<std::size_t>(g.uniform_run(first, per));
      Status s = reader.Read(&batch, first, count, false, true);
      std::vector<std::uint8_t*> outputs;
      for (std::size_t i = 0; i < count * w; ++i)
        outputs.push_back(rebuilt.data() + i * batch.block);
      if (s.ok()) {
        ReconstructBatch rb;
        rb.stripes = count;
        rb.block_bytes = batch.block;
        rb.shards = std::span<const std::uint8_t* const>(batch.shards.data(), count * n);
        rb.wanted = bad;
        rb.outputs = outputs;
        s = backend->Reconstruct(rb);
      }
      for (std::size_t st = 0; st < count && s.ok(); ++st)
        s = writer.AppendStripe(&outputs[st * w]);
      if (!s.ok()) return s.WithContext("repairing object '" + mf.name + "'");
      first += count;
      if (opt.progress) opt.progress(std::min(mf.size, g.stripe_offset(first)), mf.size);
    }
    FLS_RETURN_IF_ERROR(writer.Finish(&result->new_paths));
    result->rebuilt = bad;
    mf = next;
  }
  // A new manifest generation, on targets that exist now.
  FLS_RETURN_IF_ERROR(internal::CommitRepairedManifest(store, entry, mf, &result->new_generation));
  result->manifest_rewritten = true;
  return Status::Ok();
}

}  // namespace fls
