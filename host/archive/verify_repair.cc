// VerifyObject and RepairObject (fls/archive.h).
#include <algorithm>
#include <cstring>
#include <set>

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

}  // namespace

Status VerifyObject(const Store& store, const CatalogEntry& entry, const VerifyOptions& opt,
                    ObjectReport* report) {
  const Manifest& mf = entry.manifest;
  const int k = mf.k, m = mf.m, n = k + m;
  const std::uint64_t B = mf.block_size;
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
  auto& chunks = reader.chunks();
  // Whole-chunk CRC, chained over the header and every record read.
  std::vector<std::uint32_t> whole(n, 0);
  for (int i = 0; i < n; ++i) {
    if (!chunks[i].usable) continue;
    std::uint8_t header[kChunkHeaderBytes];
    EncodeChunkHeader(mf.HeaderFor(i), header);  // usable => identical to the file's header
    whole[i] = Crc32c(header, sizeof header);
  }
  const std::size_t per = internal::StripesPerBatch(mf.stripe_width, mf.stripes);
  internal::StripeBatch batch;
  // Only the deep check needs the blocks after their CRCs are checked.
  reader.Prepare(&batch, per, /*keep_data=*/opt.deep);
  std::vector<std::uint8_t> parity(opt.deep ? per * m * B : 0);
  const std::uint64_t rec = B + kBlockCrcBytes;
  const Crc32cCombiner combine(rec);
  for (std::uint64_t first = 0; first < mf.stripes; first += per) {
    const std::size_t count =
        static_cast<std::size_t>(std::min<std::uint64_t>(per, mf.stripes - first));
    FLS_RETURN_IF_ERROR(reader.Read(&batch, first, count, true, false));
    for (int i = 0; i < n; ++i) {
      if (!chunks[i].usable) continue;
      // The block check computed each whole record's CRC. A short read has
      // already marked the chunk bad, so the whole-chunk CRC no longer matters.
      for (std::size_t s = 0; s < count && (s + 1) * rec <= batch.got[i]; ++s)
        whole[i] = combine.Combine(whole[i], batch.record_crc[s * n + i]);
    }
    if (opt.deep) {
      // Recompute parity for stripes whose data blocks are all good.
      std::vector<std::size_t> full;
      std::vector<const std::uint8_t*> data;
      std::vector<std::uint8_t*> out;
      for (std::size_t s = 0; s < count; ++s) {
        bool ok = true;
        for (int j = 0; j < k; ++j) ok = ok && batch.shards[s * n + j] != nullptr;
        if (!ok) continue;
        for (int j = 0; j < k; ++j) data.push_back(batch.shards[s * n + j]);
        for (int p = 0; p < m; ++p) out.push_back(parity.data() + (full.size() * m + p) * B);
        full.push_back(s);
      }
      if (!full.empty()) {
        EncodeBatch eb;
        eb.stripes = full.size();
        eb.block_bytes = B;
        eb.data = data;
        eb.parity = out;
        FLS_RETURN_IF_ERROR(backend->Encode(eb));
        for (std::size_t f = 0; f < full.size(); ++f) {
          const std::size_t s = full[f];
          for (int p = 0; p < m; ++p) {
            const std::uint8_t* stored = batch.shards[s * n + k + p];
            if (stored == nullptr) continue;
            if (std::memcmp(stored, out[f * m + p], B) != 0) {
              batch.shards[s * n + k + p] = nullptr;
              batch.reason[s * n + k + p] = internal::kParityMismatch;
              MarkBad(&chunks[k + p].report, first + s, "damaged");
              if (chunks[k + p].report.detail.empty())
                chunks[k + p].report.detail = "parity differs from the data (deep check)";
            }
          }
        }
      }
    }
    for (std::size_t s = 0; s < count; ++s) {
      int good = 0;
      for (int i = 0; i < n; ++i) good += batch.reason[s * n + i] == internal::kGood;
      if (good < k) {
        report->unrecoverable_stripes.push_back(first + s);
        report->notes.push_back(reader.DescribeStripe(batch, s));
      }
    }
    if (opt.progress) opt.progress(std::min(mf.size, (first + count) * mf.stripe_width), mf.size);
  }
  for (int i = 0; i < n; ++i) {
    ChunkReport& r = chunks[i].report;
    if (chunks[i].usable && r.state == "ok" && whole[i] != mf.chunks[i].crc32c) {
      r.state = "damaged";
      r.detail = "whole-chunk CRC32C differs from the manifest's";
    }
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
  const std::uint64_t B = mf.block_size;
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
    const std::size_t per = internal::StripesPerBatch(mf.stripe_width, mf.stripes);
    internal::StripeBatch batch;
    reader.Prepare(&batch, per);
    const std::size_t w = bad.size();
    std::vector<std::uint8_t> rebuilt(per * w * B);
    for (std::uint64_t first = 0; first < mf.stripes; first += per) {
      const std::size_t count =
          static_cast<std::size_t>(std::min<std::uint64_t>(per, mf.stripes - first));
      Status s = reader.Read(&batch, first, count, false, true);
      std::vector<std::uint8_t*> outputs;
      for (std::size_t i = 0; i < count * w; ++i) outputs.push_back(rebuilt.data() + i * B);
      if (s.ok()) {
        ReconstructBatch rb;
        rb.stripes = count;
        rb.block_bytes = B;
        rb.shards = std::span<const std::uint8_t* const>(batch.shards.data(), count * n);
        rb.wanted = bad;
        rb.outputs = outputs;
        s = backend->Reconstruct(rb);
      }
      for (std::size_t st = 0; st < count && s.ok(); ++st)
        s = writer.AppendStripe(&outputs[st * w]);
      if (!s.ok()) return s.WithContext("repairing object '" + mf.name + "'");
      if (opt.progress) opt.progress(std::min(mf.size, (first + count) * mf.stripe_width), mf.size);
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
