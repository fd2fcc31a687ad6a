// ObjectStream and StripeCache (fls/object_stream.h).
#include "fls/object_stream.h"

#include <atomic>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "fls/backend_registry.h"
#include "object_io.h"

namespace fls {

DecodedStripe StripeCache::Get(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void StripeCache::Put(const std::string& key, DecodedStripe stripe) {
  if (!stripe || stripe->size() > capacity_) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second->second->size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  bytes_ += stripe->size();
  lru_.emplace_front(key, std::move(stripe));
  index_[key] = lru_.begin();
  while (bytes_ > capacity_ && !lru_.empty()) {
    bytes_ -= lru_.back().second->size();
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::uint64_t StripeCache::hits() const {
  std::lock_guard<std::mutex> l(mu_);
  return hits_;
}

std::uint64_t StripeCache::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

namespace {
// Stripes a stream keeps for itself (the one being read and the one read
// ahead), so that it does not depend on the shared cache's room.
constexpr std::size_t kHeldStripes = 3;
}  // namespace

struct ObjectStream::Impl {
  Impl(const Store& store, const Located& found, ObjectStreamOptions options)
      : located(found), opt(std::move(options)), reader(store, found.object.manifest) {}

  Located located;
  ObjectStreamOptions opt;
  std::shared_ptr<Backend> backend;
  std::uint64_t base = 0;  // the name's first byte in the object
  std::string key_prefix;  // object id and generation

  std::mutex decode_mu;  // guards reader, slot, reported
  internal::ObjectReader reader;
  internal::DecodeSlot slot;
  std::set<int> reported;                            // chunks whose damage was reported
  std::set<std::pair<int, std::uint64_t>> recorded;  // (chunk, stripe) given to on_chunk_damage

  std::mutex held_mu;  // guards held, last_end
  std::map<std::uint64_t, DecodedStripe> held;
  std::uint64_t last_end = UINT64_MAX;

  std::mutex ahead_mu;  // guards ahead
  std::thread ahead;
  std::atomic<bool> ahead_busy{false};

  const Manifest& mf() const { return located.object.manifest; }
  void Report(int chunk, const std::string& why);
  void Record(int chunk, const std::string& state, const std::string& detail,
              std::optional<std::uint64_t> stripe);
  void ReportOpenProblems();
  void ReportBatch(std::uint64_t stripe);
  bool Lookup(std::uint64_t s, DecodedStripe* out);
  void Hold(std::uint64_t s, const DecodedStripe& d);
  Status Decode(std::uint64_t s, DecodedStripe* out);
  Status Stripe(std::uint64_t s, DecodedStripe* out) {
    if (Lookup(s, out)) return Status::Ok();
    return Decode(s, out);
  }
  void StartAhead(std::uint64_t s);
};

void ObjectStream::Impl::Report(int chunk, const std::string& why) {
  if (!reported.insert(chunk).second || !opt.on_damage) return;
  opt.on_damage("object '" + mf().name + "' chunk " + std::to_string(chunk) + " (" +
                reader.chunks()[chunk].path + "): " + why);
}

void ObjectStream::Impl::Record(int chunk, const std::string& state, const std::string& detail,
                                std::optional<std::uint64_t> stripe) {
  if (!opt.on_chunk_damage || !recorded.insert({chunk, stripe.value_or(UINT64_MAX)}).second) return;
  StreamDamage d;
  d.chunk = chunk;
  d.state = state;
  d.detail = detail;
  if (stripe) d.stripes.push_back(*stripe);
  opt.on_chunk_damage(mf(), d);
}

void ObjectStream::Impl::ReportOpenProblems() {
  for (const auto& c : reader.chunks()) {
    if (c.usable) continue;
    Report(c.report.index,
           c.report.state + (c.report.detail.empty() ? "" : ": " + c.report.detail));
    Record(c.report.index, c.report.state, c.report.detail, std::nullopt);
  }
}

void ObjectStream::Impl::ReportBatch(std::uint64_t stripe) {
  const int n = mf().k + mf().m;
  const internal::StripeBatch& b = slot.batch;
  for (int i = 0; i < n; ++i) {
    const std::uint8_t why = b.reason[i];
    if (why == internal::kGood || why == internal::kNotRead) continue;
    Report(i, std::string(internal::BadReasonName(why)) + " in stripe " + std::to_string(stripe));
    // An unusable chunk was recorded whole when the stream opened.
    if (why != internal::kChunkUnusable) Record(i, "damaged", internal::BadReasonName(why), stripe);
  }
}

bool ObjectStream::Impl::Lookup(std::uint64_t s, DecodedStripe* out) {
  {
    std::lock_guard<std::mutex> l(held_mu);
    auto it = held.find(s);
    if (it != held.end()) {
      *out = it->second;
      return true;
    }
  }
  if (opt.cache == nullptr) return false;
  *out = opt.cache->Get(key_prefix + std::to_string(s));
  if (!*out) return false;
  Hold(s, *out);
  return true;
}

void ObjectStream::Impl::Hold(std::uint64_t s, const DecodedStripe& d) {
  std::lock_guard<std::mutex> l(held_mu);
  held[s] = d;
  // Forget the stripe farthest from this one: reads move forward or stay.
  while (held.size() > kHeldStripes) {
    auto first = held.begin(), last = std::prev(held.end());
    held.erase(s - first->first > last->first - s ? first : last);
  }
}

Status ObjectStream::Impl::Decode(std::uint64_t s, DecodedStripe* out) {
  std::lock_guard<std::mutex> l(decode_mu);
  if (Lookup(s, out)) return Status::Ok();  // decoded while this one waited
  Status st = reader.Read(&slot.batch, s, 1, false, true);
  ReportBatch(s);
  FLS_RETURN_IF_ERROR(st);
  FLS_RETURN_IF_ERROR(internal::RebuildDataBlocks(mf(), *backend, &slot, nullptr));
  const StripeGeometry& g = reader.geometry();
  auto bytes = std::make_shared<std::string>();
  bytes->reserve(g.stripe_bytes(s));
  for (int j = 0; j < mf().k; ++j) {
    const ByteRange r = g.data_block_range(s, j);
    if (r.size() == 0) break;
    bytes->append(reinterpret_cast<const char*>(slot.data[j]), r.size());
  }
  *out = std::move(bytes);
  Hold(s, *out);
  if (opt.cache != nullptr) opt.cache->Put(key_prefix + std::to_string(s), *out);
  return Status::Ok();
}

void ObjectStream::Impl::StartAhead(std::uint64_t s) {
  std::lock_guard<std::mutex> l(ahead_mu);
  if (ahead_busy.load()) return;
  if (ahead.joinable()) ahead.join();
  ahead_busy = true;
  // Errors are not kept: the read that needs the stripe decodes it again
  // and returns them.
  ahead = std::thread([this, s] {
    DecodedStripe d;
    (void)Stripe(s, &d);
    ahead_busy = false;
  });
}

ObjectStream::ObjectStream(std::unique_ptr<Impl> impl, std::uint64_t size)
    : impl_(std::move(impl)), size_(size) {}

ObjectStream::~ObjectStream() {
  std::lock_guard<std::mutex> l(impl_->ahead_mu);
  if (impl_->ahead.joinable()) impl_->ahead.join();
}

Status ObjectStream::Open(const Store& store, const Located& found, const ObjectStreamOptions& opt,
                          std::unique_ptr<ObjectStream>* out) {
  auto impl = std::make_unique<Impl>(store, found, opt);
  const Manifest& mf = found.object.manifest;
  if (opt.make_backend) {
    FLS_RETURN_IF_ERROR(opt.make_backend(mf.k, mf.m, mf.matrix, &impl->backend));
  } else {
    FLS_RETURN_IF_ERROR(
        SharedOrNewBackend(nullptr, "auto", 1, mf.k, mf.m, mf.matrix, &impl->backend));
  }
  impl->base = found.member ? found.packed.offset : 0;
  const std::uint64_t size = found.member ? found.packed.length : mf.size;
  if (impl->base > mf.size || size > mf.size - impl->base)
    return Status::Corruption("packed file '" + found.packed.name + "' range " +
                              std::to_string(impl->base) + "+" + std::to_string(size) +
                              " lies outside its pack '" + mf.name + "' of " +
                              std::to_string(mf.size) + " bytes");
  impl->key_prefix = ObjectIdToHex(mf.id) + "/" + std::to_string(mf.generation) + "/";
  impl->reader.Open();
  impl->slot.Prepare(impl->reader, 1);
  impl->ReportOpenProblems();
  out->reset(new ObjectStream(std::move(impl), size));
  return Status::Ok();
}

Status ObjectStream::Read(std::uint64_t offset, std::size_t n, std::uint8_t* dst,
                          std::size_t* got) {
  *got = 0;
  if (offset >= size_ || n == 0) return Status::Ok();
  const std::uint64_t end = offset + std::min<std::uint64_t>(n, size_ - offset);
  const StripeGeometry& g = impl_->reader.geometry();
  std::uint64_t pos = offset;
  while (pos < end) {
    const std::uint64_t at = impl_->base + pos;
    const std::uint64_t s = g.stripe_of(at);
    DecodedStripe d;
    FLS_RETURN_IF_ERROR(impl_->Stripe(s, &d));
    const std::uint64_t within = at - g.stripe_offset(s);
    if (within >= d->size())
      return Status::Internal("object '" + impl_->mf().name + "' stripe " + std::to_string(s) +
                              " decoded to " + std::to_string(d->size()) + " bytes, short of " +
                              std::to_string(within + 1));
    const std::uint64_t take = std::min<std::uint64_t>(end - pos, d->size() - within);
    std::memcpy(dst + (pos - offset), d->data() + within, take);
    pos += take;
  }
  *got = end - offset;
  bool sequential;
  {
    std::lock_guard<std::mutex> l(impl_->held_mu);
    sequential = impl_->last_end == offset;
    impl_->last_end = end;
  }
  // Read ahead the stripe after the one this read ended in.
  if (impl_->opt.read_ahead && sequential && end < size_) {
    const std::uint64_t next = g.stripe_of(impl_->base + end - 1) + 1;
    if (g.stripe_offset(next) < impl_->base + size_) {
      DecodedStripe d;
      if (!impl_->Lookup(next, &d)) impl_->StartAhead(next);
    }
  }
  return Status::Ok();
}

}  // namespace fls
