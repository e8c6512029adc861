#include "storage/series_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <span>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "base/status_macros.h"
#include "base/str_cat.h"
#include "storage/epoch.h"
#include "storage/series_key.h"

namespace metricsgate::storage {

const Buckets& DefaultBuckets() {
  static const Buckets buckets = std::make_shared<const std::vector<double>>(
      std::vector<double>{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10});
  return buckets;
}

struct SeriesTable::Histogram {
  explicit Histogram(Buckets b);
  const Buckets bounds;
  // Guards the rest, so a scrape reads classic buckets, native buckets, count and sum of the
  // same moment (Prometheus checks they agree). Held for one observation: a spin lock.
  std::atomic<bool> locked{false};
  void Lock() {
    while (locked.exchange(true, std::memory_order_acquire)) {
      while (locked.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void Unlock() { locked.store(false, std::memory_order_release); }
  // counts[i] holds the weight of values in (bounds[i-1], bounds[i]]; the last, above all.
  std::unique_ptr<double[]> counts;
  double sum = 0;
  NativeHistogram native;
};

// A summary's quantiles over a sliding window, as client_golang's.
struct SeriesTable::Summary {
  Summary(std::shared_ptr<const SummarySpec> s, absl::Time now);
  // Moves the window on to `now`, forgetting the parts older than max_age. REQUIRES: mu held.
  void Rotate(absl::Time now);
  const std::shared_ptr<const SummarySpec> spec;
  std::mutex mu;  // guards the rest
  std::vector<QuantileSketch> parts;
  size_t current = 0;
  absl::Time current_start;
  double sum = 0;  // since the start, as client_golang
  double count = 0;
};

struct SeriesTable::SetMembers {
  std::mutex mu;  // guards members
  absl::flat_hash_set<std::string, StringViewHash, StringViewEq> members;
};

// A series' values, settings and key, in one allocation: the key's bytes follow the struct.
struct SeriesTable::Series {
  Series(Kind k, size_t h, std::string_view key) : hash(h), key_size(key.size()), kind(k) {
    std::memcpy(static_cast<void*>(this + 1), key.data(), key.size());
    // 48 bytes, the key after them: 8 more cost a steady scrape of 1,000,000 series 40% more
    // time (the allocations moved up a size class; BENCHMARKS.md, 2026-12-05).
    static_assert(sizeof(Series) == 48);
  }
  ~Series();
  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }

  std::atomic<double> value{0};            // counters, gauges; sets: the last interval's count
  std::atomic<int64_t> last_update_ms{0};  // Unix ms; kept only when ttl_ms > 0
  int64_t ttl_ms = 0;                      // 0: never expires
  const size_t hash;
  void* extra = nullptr;  // Histogram*, Summary* or SetMembers*, by kind
  const uint32_t key_size;
  const Kind kind;
  // Set by the first update: scrapes skip a series until then, so a new gauge is never seen
  // at 0 between its creation and its first value.
  std::atomic<bool> ready{false};
  // Set when Expire() removes it, guarded by fresh_mu_: an update through a handle taken before
  // may still make it ready after, and it must not be listed in fresh_ then.
  bool removed = false;

  Histogram& histogram() { return *static_cast<Histogram*>(extra); }
  Summary& summary() { return *static_cast<Summary*>(extra); }
  SetMembers& set() { return *static_cast<SetMembers*>(extra); }
};

namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};
constexpr std::string_view kSummarySuffixes[] = {"_sum", "_count"};
static_assert(sizeof(size_t) == 8, "the shard is taken from the top bits of a 64-bit hash");

}  // namespace

SeriesTable::Series::~Series() {
  switch (kind) {
    case Kind::kHistogram:
      delete &histogram();
      break;
    case Kind::kSummary:
      delete &summary();
      break;
    case Kind::kSet:
      delete &set();
      break;
    default:
      break;
  }
}

// One shard's open-addressing array (linear probing). Slots hold 0 (never used), a series, or
// the tombstone of a removed one; readers probe until 0. A series' slot holds its address and,
// in the 16 bits above it, 16 bits of its hash (a tag): a probe passes a slot whose tag differs
// without reading the series, which is a cache miss of its own. A lookup of a new series
// probed past several (a quarter to three quarters of the slots are taken) and read each.
// User-space addresses take 47 bits on x86-64 and 48 on AArch64 (the kernel maps above that
// only when asked to); Pack() checks.
struct SeriesTable::Index {
  explicit Index(size_t capacity) : mask(capacity - 1), slots(new std::atomic<uint64_t>[capacity]) {
    for (size_t i = 0; i < capacity; ++i) slots[i].store(0, std::memory_order_relaxed);
  }
  size_t capacity() const { return mask + 1; }

  static constexpr int kTagShift = 48;
  static constexpr uint64_t kAddress = (uint64_t{1} << kTagShift) - 1;
  // Bits of the hash that neither the slot (the low ones) nor the shard (the top ones) use.
  static uint64_t Tag(size_t hash) { return hash >> 32 & 0xffff; }
  static uint64_t Pack(Series* series, size_t hash) {
    const auto address = reinterpret_cast<uintptr_t>(series);
    if ((address & ~kAddress) != 0) {
      std::fputs("metricsgate: a series above 2^48 in the address space; not supported\n", stderr);
      std::abort();
    }
    return Tag(hash) << kTagShift | address;
  }
  static Series* Unpack(uint64_t slot) { return reinterpret_cast<Series*>(slot & kAddress); }
  // Whether `slot` may hold the series of `hash`: a series with its tag (never a tombstone).
  static bool MayHold(uint64_t slot, size_t hash) {
    return slot >> kTagShift == Tag(hash) && slot > kTombstone;
  }
  // The tombstone: no series lives at this address, and its tag is 0.
  static constexpr uint64_t kTombstone = alignof(std::max_align_t);
  // The series in slot i, or null for an empty slot or a tombstone.
  Series* Live(size_t i, std::memory_order order) const {
    const uint64_t slot = slots[i].load(order);
    return slot == kTombstone ? nullptr : Unpack(slot);
  }

  const size_t mask;
  const std::unique_ptr<std::atomic<uint64_t>[]> slots;
};

struct SeriesTable::Shard {
  std::mutex mu;  // writers: insert, remove, grow
  std::atomic<Index*> index{new Index(kMinCapacity)};
  size_t live = 0;      // guarded by mu
  size_t occupied = 0;  // live + tombstones; guarded by mu
  static constexpr size_t kMinCapacity = 16;
};

SeriesTable::Histogram::Histogram(Buckets b)
    : bounds(std::move(b)), counts(new double[bounds->size() + 1]()) {}

SeriesTable::Summary::Summary(std::shared_ptr<const SummarySpec> s, absl::Time now)
    : spec(std::move(s)), parts(std::max(1, spec->age_buckets)), current_start(now) {}

void SeriesTable::Summary::Rotate(absl::Time now) {
  const absl::Duration width = absl::FromChrono(spec->max_age) / static_cast<int64_t>(parts.size());
  if (width <= absl::ZeroDuration()) return;
  if (now - current_start >= width * static_cast<int64_t>(parts.size() + 1)) {
    for (QuantileSketch& part : parts) part.Clear();  // idle for longer than the window
    current_start = now;
    return;
  }
  while (now - current_start >= width) {
    current = (current + 1) % parts.size();
    parts[current].Clear();
    current_start += width;
  }
}

SeriesTable::SeriesTable(size_t max_series, std::function<absl::Time()> clock)
    : max_series_(max_series),
      clock_(std::move(clock)),
      shards_(new Shard[kShards]),
      name_shards_(new NameShard[kShards]) {}

SeriesTable::~SeriesTable() {
  for (size_t s = 0; s < kShards; ++s) {
    Index* index = shards_[s].index.load(std::memory_order_acquire);
    for (size_t i = 0; i < index->capacity(); ++i) {
      if (Series* series = index->Live(i, std::memory_order_relaxed)) DeleteSeries(series);
    }
    delete index;
  }
  for (size_t s = 0; s < kShards; ++s) {
    for (NameOwner* owner : name_shards_[s].owners) {
      owner->~NameOwner();
      ::operator delete(owner);
    }
  }
}

std::string_view SeriesTable::KindName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "timer";
    case Kind::kSummary:
      return "summary timer";
    case Kind::kSet:
      return "set";
    case Kind::kUntyped:
      return "untyped";
  }
  return "unknown";
}

SeriesTable::NameShard& SeriesTable::NameShardOf(std::string_view name) const {
  return name_shards_[StringViewHash{}(name) >> (64 - kShardBits)];
}

class SeriesTable::NameLock {
 public:
  NameLock(const SeriesTable& table, std::span<const std::string_view> names) {
    for (std::string_view name : names) shards_.push_back(&table.NameShardOf(name));
    std::sort(shards_.begin(), shards_.end());
    shards_.erase(std::unique(shards_.begin(), shards_.end()), shards_.end());
    for (NameShard* shard : shards_) shard->mu.lock();
  }
  ~NameLock() {
    for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) (*it)->mu.unlock();
  }
  NameLock(const NameLock&) = delete;
  NameLock& operator=(const NameLock&) = delete;

 private:
  absl::InlinedVector<NameShard*, 4> shards_;
};

SeriesTable::NameOwner* SeriesTable::FindName(std::string_view name) const {
  const NameShard& shard = NameShardOf(name);
  auto it = shard.owners.find(name);
  return it == shard.owners.end() ? nullptr : *it;
}

void SeriesTable::AddName(std::string_view name, Kind kind, bool derived, const std::string* help) {
  void* memory = ::operator new(sizeof(NameOwner) + name.size());
  auto* owner = new (memory) NameOwner{kind, derived, static_cast<uint32_t>(name.size()), help,
                                       derived ? size_t{0} : size_t{1}};
  std::memcpy(static_cast<void*>(owner + 1), name.data(), name.size());
  NameShardOf(name).owners.insert(owner);
  if (!derived && help != nullptr && *help != kStatsdHelp) {
    own_helps_.fetch_add(1, std::memory_order_relaxed);
  }
}

void SeriesTable::RemoveName(std::string_view name) {
  NameShard& shard = NameShardOf(name);
  auto it = shard.owners.find(name);
  if (it == shard.owners.end()) return;
  NameOwner* owner = *it;
  shard.owners.erase(it);
  if (!owner->derived && owner->help != nullptr && *owner->help != kStatsdHelp) {
    own_helps_.fetch_sub(1, std::memory_order_relaxed);
  }
  owner->~NameOwner();
  ::operator delete(owner);
}

namespace {

// A histogram's or summary's derived names' suffixes; none for other kinds.
std::span<const std::string_view> DerivedSuffixes(SeriesTable::Kind kind) {
  if (kind == SeriesTable::Kind::kHistogram) return kHistogramSuffixes;
  if (kind == SeriesTable::Kind::kSummary) return kSummarySuffixes;
  return {};
}

}  // namespace

absl::Status SeriesTable::ClaimName(std::string_view name, Kind kind, std::string_view help) {
  absl::InlinedVector<std::string, 3> derived;
  for (std::string_view suffix : DerivedSuffixes(kind)) derived.push_back(StrCat(name, suffix));
  absl::InlinedVector<std::string_view, 4> names = {name};
  names.insert(names.end(), derived.begin(), derived.end());
  NameLock lock(*this, names);
  if (NameOwner* owner = FindName(name); owner != nullptr) {
    if (owner->derived) {
      return absl::FailedPreconditionError(StrCat("metric \"", name,
                                                  "\" is written by a timer's histogram; a ",
                                                  KindName(kind), " sample cannot take the name"));
    }
    if (owner->kind != kind) {
      return absl::FailedPreconditionError(StrCat("metric \"", name, "\" is a ",
                                                  KindName(owner->kind), "; a ", KindName(kind),
                                                  " sample cannot update it"));
    }
    ++owner->series;
    return absl::OkStatus();  // another label set of a known name
  }
  for (const std::string& other : derived) {
    if (FindName(other) != nullptr) {
      return absl::FailedPreconditionError(
          StrCat("metric \"", other, "\" exists; a timer \"", name, "\" would write it too"));
    }
  }
  for (const std::string& other : derived) AddName(other, kind, /*derived=*/true, nullptr);
  if (help.empty()) help = kStatsdHelp;
  const std::string* interned;
  {
    std::lock_guard helps_lock(helps_mu_);
    auto it = helps_.find(help);
    if (it == helps_.end()) it = helps_.emplace(help).first;
    interned = &*it;
  }
  AddName(name, kind, /*derived=*/false, interned);
  return absl::OkStatus();
}

void SeriesTable::ReleaseName(std::string_view name, Kind kind) {
  absl::InlinedVector<std::string, 3> derived;
  for (std::string_view suffix : DerivedSuffixes(kind)) derived.push_back(StrCat(name, suffix));
  absl::InlinedVector<std::string_view, 4> names = {name};
  names.insert(names.end(), derived.begin(), derived.end());
  NameLock lock(*this, names);
  NameOwner* owner = FindName(name);
  if (owner == nullptr || --owner->series > 0) return;
  RemoveName(name);
  for (const std::string& other : derived) RemoveName(other);
}

SeriesTable::Series* SeriesTable::Find(const Index& index, std::string_view key,
                                       size_t hash) const {
  for (size_t i = hash & index.mask;; i = (i + 1) & index.mask) {
    const uint64_t slot = index.slots[i].load(std::memory_order_acquire);
    if (slot == 0) return nullptr;
    if (!Index::MayHold(slot, hash)) continue;
    Series* series = Index::Unpack(slot);
    if (series->hash == hash && series->key() == key) return series;
  }
}

namespace {

absl::Status KindConflict(std::string_view key, SeriesTable::Kind held, SeriesTable::Kind wanted) {
  return absl::FailedPreconditionError(
      StrCat("metric \"", SeriesKeyName(key), "\" is a ", SeriesTable::KindName(held), "; a ",
             SeriesTable::KindName(wanted), " sample cannot update it"));
}

}  // namespace

absl::StatusOr<SeriesTable::Handle> SeriesTable::Resolve(std::string_view key, Kind kind,
                                                         const SeriesOptions& options) {
  const size_t hash = StringViewHash{}(key);
  Shard& shard = shards_[hash >> (64 - kShardBits)];
  Series* series = Find(*shard.index.load(std::memory_order_acquire), key, hash);
  if (series == nullptr) return Create(shard, key, hash, kind, options);
  if (series->kind != kind) return KindConflict(key, series->kind, kind);
  return Handle(series);
}

absl::StatusOr<SeriesTable::Handle> SeriesTable::Create(Shard& shard, std::string_view key,
                                                        size_t hash, Kind kind,
                                                        const SeriesOptions& options) {
  std::lock_guard lock(shard.mu);
  Index* index = shard.index.load(std::memory_order_relaxed);
  if (Series* series = Find(*index, key, hash); series != nullptr) {  // created meanwhile
    if (series->kind != kind) return KindConflict(key, series->kind, kind);
    return Handle(series);
  }
  // Reserve a place under the cap first, so shards creating at once never pass it together.
  for (size_t held = size_.load(std::memory_order_relaxed);;) {
    if (held >= max_series_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          StrCat("the store holds its maximum of ", max_series_,
                 " series (--storage.max-series); new series are refused"));
    }
    if (size_.compare_exchange_weak(held, held + 1, std::memory_order_relaxed)) break;
  }
  if (absl::Status claimed = ClaimName(SeriesKeyName(key), kind, options.help); !claimed.ok()) {
    size_.fetch_sub(1, std::memory_order_relaxed);
    return claimed;
  }
  void* memory = ::operator new(sizeof(Series) + key.size());
  auto* series = new (memory) Series(kind, hash, key);
  if (kind == Kind::kHistogram) {
    series->extra = new Histogram(options.buckets ? options.buckets : DefaultBuckets());
  } else if (kind == Kind::kSummary) {
    series->extra = new Summary(options.summary, clock_());
  } else if (kind == Kind::kSet) {
    series->extra = new SetMembers;
  }
  series->ttl_ms = options.ttl.count();
  if (series->ttl_ms > 0) {
    series->last_update_ms.store(absl::ToUnixMillis(clock_()), std::memory_order_relaxed);
    any_ttl_.store(true, std::memory_order_relaxed);
  }
  // Keep at least a quarter of the slots null, so probes stay short and always end. Growing
  // copies the live pointers (dropping tombstones) into a new array that readers pick up with
  // one load; readers still probing the old one finish there, and it is freed after them.
  if ((shard.occupied + 1) * 4 > index->capacity() * 3) {
    size_t capacity = Shard::kMinCapacity;
    while (capacity < (shard.live + 1) * 2) capacity *= 2;
    auto* grown = new Index(capacity);
    for (size_t i = 0; i < index->capacity(); ++i) {
      const uint64_t held = index->slots[i].load(std::memory_order_relaxed);
      if (held == 0 || held == Index::kTombstone) continue;
      size_t j = Index::Unpack(held)->hash & grown->mask;
      while (grown->slots[j].load(std::memory_order_relaxed) != 0) j = (j + 1) & grown->mask;
      grown->slots[j].store(held, std::memory_order_relaxed);  // with its tag
    }
    shard.index.store(grown, std::memory_order_release);
    EpochDomain::Global().Retire(index);
    index = grown;
    shard.occupied = shard.live;
  }
  size_t slot = hash & index->mask;
  for (;; slot = (slot + 1) & index->mask) {
    const uint64_t held = index->slots[slot].load(std::memory_order_relaxed);
    if (held == 0) {
      ++shard.occupied;
      break;
    }
    if (held == Index::kTombstone) break;
  }
  ++shard.live;
  index->slots[slot].store(Index::Pack(series, hash), std::memory_order_release);
  return Handle(series);
}

// fresh_ lists up to this many series, or as many as the store holds if more (8 bytes each
// beside the ~200 of a series): a burst that more than doubles the store between two sorts is
// still merged, not sorted whole. It is cleared only when removed series fill it (churn with
// no scrape and no sorter); the next scrape then sorts everything.
constexpr size_t kMaxFresh = 65536;

void SeriesTable::Touch(Series& series) {
  // Release: a scrape that sees the series ready (acquire) sees the update before this.
  if (!series.ready.load(std::memory_order_relaxed) &&
      !series.ready.exchange(true, std::memory_order_acq_rel)) {
    // Listed and counted together, so the count tells where the series is in fresh_. The
    // count after: see AddTo. Once per series: the lock is rare.
    std::lock_guard lock(fresh_mu_);
    if (fresh_.size() >= std::max(kMaxFresh, size())) {  // see kMaxFresh
      fresh_base_ += fresh_.size();
      fresh_.clear();
    }
    fresh_.push_back(series.removed ? nullptr : &series);  // a place for each count
    readied_.fetch_add(1, std::memory_order_release);
  }
  if (series.ttl_ms > 0) {
    series.last_update_ms.store(absl::ToUnixMillis(clock_()), std::memory_order_relaxed);
  }
}

void SeriesTable::Add(Handle handle, double delta) {
  handle.series_->value.fetch_add(delta, std::memory_order_relaxed);
  Touch(*handle.series_);
}

void SeriesTable::Set(Handle handle, double value) {
  handle.series_->value.store(value, std::memory_order_relaxed);
  Touch(*handle.series_);
}

void SeriesTable::Observe(Handle handle, double value, double weight) {
  Series& series = *handle.series_;
  if (series.kind == Kind::kSummary) {
    Summary& summary = series.summary();
    std::lock_guard lock(summary.mu);
    summary.Rotate(clock_());
    summary.parts[summary.current].Add(value, weight);
    summary.sum += value * weight;
    summary.count += weight;
  } else {
    Histogram& histogram = series.histogram();
    const std::vector<double>& bounds = *histogram.bounds;
    const size_t index = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
    histogram.Lock();
    histogram.counts[index] += weight;
    histogram.sum += value * weight;
    histogram.native.Observe(value, weight);
    histogram.Unlock();
  }
  Touch(series);
}

void SeriesTable::AddMember(Handle handle, std::string_view member) {
  SetMembers& set = handle.series_->set();
  {
    std::lock_guard lock(set.mu);
    if (!set.members.contains(member)) set.members.emplace(member);
  }
  Touch(*handle.series_);
}

template <typename Fn>
absl::Status SeriesTable::Update(std::string_view key, Kind kind, const SeriesOptions& options,
                                 Fn&& fn) {
  EpochGuard guard;
  absl::StatusOr<Handle> handle = Resolve(key, kind, options);
  if (!handle.ok()) return handle.status();
  fn(*handle);
  return absl::OkStatus();
}

absl::Status SeriesTable::AddToCounter(std::string_view key, double delta,
                                       const SeriesOptions& options) {
  return Update(key, Kind::kCounter, options, [&](Handle h) { Add(h, delta); });
}

absl::Status SeriesTable::SetGauge(std::string_view key, double value,
                                   const SeriesOptions& options) {
  return Update(key, Kind::kGauge, options, [&](Handle h) { Set(h, value); });
}

absl::Status SeriesTable::AddToGauge(std::string_view key, double delta,
                                     const SeriesOptions& options) {
  return Update(key, Kind::kGauge, options, [&](Handle h) { Add(h, delta); });
}

absl::Status SeriesTable::Observe(std::string_view key, double value, double weight,
                                  const SeriesOptions& options) {
  return Update(key, options.summary ? Kind::kSummary : Kind::kHistogram, options,
                [&](Handle h) { Observe(h, value, weight); });
}

absl::Status SeriesTable::AddToSet(std::string_view key, std::string_view member,
                                   const SeriesOptions& options) {
  return Update(key, Kind::kSet, options, [&](Handle h) { AddMember(h, member); });
}

template <typename Fn>
void SeriesTable::ForEach(Fn&& fn) const {
  // Series live wherever the allocator put them, so a walk over a large table misses the cache
  // (and, in a VM, the TLB) on nearly every one: ask for each a few slots ahead.
  constexpr size_t kAhead = 12;
  for (size_t s = 0; s < kShards; ++s) {
    const Index& index = *shards_[s].index.load(std::memory_order_acquire);
    for (size_t i = 0; i < index.capacity(); ++i) {
      if (i + kAhead < index.capacity()) {
        if (Series* ahead = index.Live(i + kAhead, std::memory_order_relaxed)) {
          __builtin_prefetch(ahead);
          __builtin_prefetch(reinterpret_cast<const char*>(ahead) + 64);
        }
      }
      Series* series = index.Live(i, std::memory_order_acquire);
      if (series != nullptr && series->ready.load(std::memory_order_acquire)) fn(*series);
    }
  }
}

std::shared_ptr<SeriesTable::ScrapeOrder> SeriesTable::NewOrder() const {
  std::unique_ptr<ScrapeOrder> order;
  {
    std::lock_guard lock(spare_mu_);
    order = std::move(spare_order_);
  }
  if (order == nullptr) {
    order = std::make_unique<ScrapeOrder>();
  } else {
    order->series.clear();
  }
  return std::shared_ptr<ScrapeOrder>(order.release(), OrderRecycler{this});
}

void SeriesTable::OrderRecycler::operator()(ScrapeOrder* order) const {
  std::unique_ptr<ScrapeOrder> returned(order);
  std::lock_guard lock(table->spare_mu_);
  if (table->spare_order_ == nullptr) table->spare_order_ = std::move(returned);
}

// Takes `removed` out of the learnt order, if it was learnt at `generation` (the one before
// their removal), and out of fresh_: so the next scrape merges as after any change, instead of
// sorting everything again. A new order, as scrapes may be reading the old one. Before the
// series are retired, so no pointer here outlives its series. The locks in OnSorted's order.
void SeriesTable::ForgetInOrder(const std::vector<Series*>& removed, uint64_t generation) {
  std::lock_guard order_lock(order_mu_);
  std::lock_guard fresh_lock(fresh_mu_);
  for (Series* series : removed) series->removed = true;
  for (Series*& series : fresh_) {
    if (series != nullptr && series->removed) series = nullptr;
  }
  if (order_ == nullptr || order_->generation != generation) return;
  std::shared_ptr<ScrapeOrder> kept = NewOrder();
  kept->readied = order_->readied;
  kept->generation = generation + 1;
  kept->series.reserve(order_->series.capacity());
  for (Series* series : order_->series) {
    if (!series->removed) kept->series.push_back(series);
  }
  order_ = std::move(kept);
}

size_t SeriesTable::Expire() {
  EpochDomain& domain = EpochDomain::Global();
  if (!any_ttl_.load(std::memory_order_relaxed)) {
    domain.Reclaim();  // arrays left by growing
    return 0;
  }
  const int64_t now_ms = absl::ToUnixMillis(clock_());
  std::vector<Series*> removed;
  for (size_t s = 0; s < kShards; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mu);
    Index& index = *shard.index.load(std::memory_order_relaxed);
    for (size_t i = 0; i < index.capacity(); ++i) {
      Series* series = index.Live(i, std::memory_order_relaxed);
      if (series == nullptr || series->ttl_ms <= 0 ||
          now_ms - series->last_update_ms.load(std::memory_order_relaxed) < series->ttl_ms) {
        continue;
      }
      index.slots[i].store(Index::kTombstone, std::memory_order_release);
      --shard.live;
      ReleaseName(SeriesKeyName(series->key()), series->kind);
      removed.push_back(series);
    }
  }
  if (!removed.empty()) {
    // Bumped before retiring: a cache that sees the old generation is in a section the
    // retirement waits for.
    const uint64_t before = generation_.fetch_add(1, std::memory_order_seq_cst);
    ForgetInOrder(removed, before);
    for (Series* series : removed) domain.Retire(series, DeleteSeries);
    size_.fetch_sub(removed.size(), std::memory_order_relaxed);
    expired_.fetch_add(removed.size(), std::memory_order_relaxed);
  }
  domain.Reclaim();
  return removed.size();
}

void SeriesTable::EndInterval() {
  EpochGuard guard;
  ForEach([](Series& series) {
    if (series.kind != Kind::kSet) return;
    SetMembers& set = series.set();
    std::lock_guard lock(set.mu);
    series.value.store(static_cast<double>(set.members.size()), std::memory_order_relaxed);
    set.members.clear();
  });
}

void SeriesTable::Collect(std::vector<MetricFamily>* out) const {
  absl::flat_hash_map<std::string, size_t, StringViewHash, StringViewEq> family_index;
  const auto help_of = [this](std::string_view name) {
    NameShard& shard = NameShardOf(name);
    std::lock_guard lock(shard.mu);
    const NameOwner* owner = FindName(name);
    return owner == nullptr || owner->help == nullptr ? std::string(kStatsdHelp) : *owner->help;
  };
  EpochGuard guard;
  ForEach([&](Series& series) {
    const std::string_view key = series.key();
    const std::string_view name = SeriesKeyName(key);
    auto it = family_index.find(name);
    if (it == family_index.end()) {
      it = family_index.emplace(std::string(name), out->size()).first;
      MetricFamily& family = out->emplace_back();
      family.name = std::string(name);
      family.help = help_of(name);
      family.type = series.kind == Kind::kCounter     ? MetricType::kCounter
                    : series.kind == Kind::kHistogram ? MetricType::kHistogram
                    : series.kind == Kind::kSummary   ? MetricType::kSummary
                                                      : MetricType::kGauge;
    }
    Sample& sample = (*out)[it->second].samples.emplace_back();
    sample.labels = SeriesKeyLabels(key);
    if (series.kind == Kind::kSummary) {
      Summary& summary = series.summary();
      SummaryValue value;
      QuantileSketch window;
      std::lock_guard summary_lock(summary.mu);
      summary.Rotate(clock_());
      for (const QuantileSketch& part : summary.parts) window.Merge(part);
      for (double q : summary.spec->quantiles) value.quantiles.emplace_back(q, window.Quantile(q));
      value.sum = summary.sum;
      value.count = summary.count;
      sample.summary = std::move(value);
      return;
    }
    if (series.kind != Kind::kHistogram) {
      sample.value = series.value.load(std::memory_order_relaxed);
      return;
    }
    Histogram& histogram = series.histogram();
    HistogramValue value;
    double cumulative = 0;
    histogram.Lock();
    for (size_t i = 0; i <= histogram.bounds->size(); ++i) {
      cumulative += histogram.counts[i];
      value.buckets.emplace_back(i < histogram.bounds->size()
                                     ? (*histogram.bounds)[i]
                                     : std::numeric_limits<double>::infinity(),
                                 cumulative);
    }
    value.sum = histogram.sum;
    histogram.Unlock();
    sample.histogram = std::move(value);
  });
}

void SeriesTable::AddTo(Snapshot* out) const {
  // A sort ahead under way ends sooner than this scrape's own sort of the same series would,
  // and leaves it only a merge.
  { std::lock_guard wait(sort_ahead_mu_); }
  Fill(out);
}

void SeriesTable::Fill(Snapshot* out) const {
  // Names with a help of their own (from the mapping); every other name has kStatsdHelp.
  absl::flat_hash_map<std::string, uint32_t, StringViewHash, StringViewEq> helps;
  for (size_t s = 0; s < kShards && own_helps_.load(std::memory_order_relaxed) > 0; ++s) {
    NameShard& shard = name_shards_[s];
    std::lock_guard lock(shard.mu);
    for (const NameOwner* owner : shard.owners) {
      if (!owner->derived && owner->series > 0 && owner->help != nullptr &&
          *owner->help != kStatsdHelp) {
        helps.emplace(owner->name(), out->AddHelp(*owner->help));
      }
    }
  }
  const uint32_t default_help = out->AddHelp(kStatsdHelp);
  out->Reserve(size());
  std::vector<double> bounds, cumulative, quantiles, positive, negative;
  EpochGuard guard;
  // Read before the walk: a series counted here was ready before it, so the walk sees it.
  const uint64_t readied = readied_.load(std::memory_order_acquire);
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  std::shared_ptr<const ScrapeOrder> order;
  {
    std::lock_guard lock(order_mu_);
    order = order_;
  }
  const auto add = [&](Series& series) {
    out->SetSource(&series);
    const std::string_view key = out->CopyKey(series.key());
    uint32_t help = default_help;
    if (!helps.empty()) {
      auto it = helps.find(SeriesKeyName(key));
      if (it != helps.end()) help = it->second;
    }
    switch (series.kind) {
      case Kind::kSummary: {
        Summary& summary = series.summary();
        QuantileSketch window;
        std::lock_guard summary_lock(summary.mu);
        summary.Rotate(clock_());
        for (const QuantileSketch& part : summary.parts) window.Merge(part);
        quantiles.clear();
        for (double q : summary.spec->quantiles) {
          quantiles.push_back(q);
          quantiles.push_back(window.Quantile(q));
        }
        out->AddSummary(key, help, quantiles, summary.sum, summary.count);
        return;
      }
      case Kind::kHistogram: {
        Histogram& histogram = series.histogram();
        const std::vector<double>& finite = *histogram.bounds;
        bounds.assign(finite.begin(), finite.end());
        bounds.push_back(std::numeric_limits<double>::infinity());
        cumulative.clear();
        positive.clear();
        negative.clear();
        double total = 0;
        histogram.Lock();
        for (size_t i = 0; i < bounds.size(); ++i) {
          total += histogram.counts[i];
          cumulative.push_back(total);
        }
        const double sum = histogram.sum;
        NativeHistogramView native{histogram.native.schema(),
                                   NativeHistogram::kZeroThreshold,
                                   histogram.native.zero_count(),
                                   {},
                                   {}};
        histogram.native.AppendBuckets(true, &positive);
        histogram.native.AppendBuckets(false, &negative);
        histogram.Unlock();
        native.positive = positive;
        native.negative = negative;
        out->AddHistogram(key, help, bounds, cumulative, sum, &native);
        return;
      }
      case Kind::kCounter:
        out->AddScalar(key, MetricType::kCounter, help,
                       series.value.load(std::memory_order_relaxed));
        return;
      default:  // gauges, and sets (exported as gauges)
        out->AddScalar(key, MetricType::kGauge, help, series.value.load(std::memory_order_relaxed));
        return;
    }
  };
  // The learnt order's series, in that order, declared sorted.
  const auto add_in_order = [&] {
    const auto& list = order->series;
    out->BeginSorted();
    for (size_t i = 0; i < list.size(); ++i) {
      if (i + 16 < list.size()) {
        __builtin_prefetch(list[i + 16]);
        __builtin_prefetch(reinterpret_cast<const char*>(list[i + 16]) + 64);
      }
      add(*list[i]);
    }
    out->EndSorted();
  };
  if (order != nullptr && order->readied == readied && order->generation == generation) {
    // No series became ready or was removed since the order was learnt: its pointers are all
    // live (a removal bumps the generation before it retires the series, and this section
    // holds them), and adding the series in that order spares Sort() the work.
    add_in_order();
    out->SetSource(nullptr);
    return;
  }
  // Series became ready since the order was learnt and none was removed: the order's series
  // are all live still and go in its order, and only the series readied since (fresh_ from
  // the order's count on) are sorted, then merged with them. So a scrape after a change sorts
  // the few new series, not all (BENCHMARKS.md, 2026-12-05). One that became ready during the
  // walk that learnt the order may be in it already and is added again: Sort() keeps the
  // first of two equal keys.
  std::vector<Series*> fresh;
  bool incremental = false;
  if (order != nullptr && order->generation == generation && order->readied < readied) {
    std::lock_guard lock(fresh_mu_);
    if (order->readied >= fresh_base_ && readied - fresh_base_ <= fresh_.size()) {
      fresh.assign(fresh_.begin() + static_cast<ptrdiff_t>(order->readied - fresh_base_),
                   fresh_.begin() + static_cast<ptrdiff_t>(readied - fresh_base_));
      incremental = true;
    }
  }
  if (incremental) {
    add_in_order();
    for (Series* series : fresh) {
      if (series != nullptr) add(*series);  // null: removed since it came
    }
  } else {
    ForEach(add);
  }
  out->SetSource(nullptr);
  out->OnSorted([this, readied, generation](std::span<const void* const> sources) {
    std::lock_guard lock(order_mu_);
    if (order_ != nullptr && (order_->generation > generation ||
                              (order_->generation == generation && order_->readied > readied))) {
      return;  // a later scrape learnt a newer order already
    }
    // In the memory of an order no scrape holds any more, where there is one (NewOrder).
    std::shared_ptr<ScrapeOrder> learnt = NewOrder();
    learnt->readied = readied;
    learnt->generation = generation;
    {
      // The series readied before this order are in it: later scrapes need only the rest.
      std::lock_guard fresh_lock(fresh_mu_);
      if (readied > fresh_base_) {
        const size_t known = std::min<size_t>(readied - fresh_base_, fresh_.size());
        fresh_.erase(fresh_.begin(), fresh_.begin() + static_cast<ptrdiff_t>(known));
        fresh_base_ += known;
      }
    }
    // With room to spare: growing it by exactly the few series added since would move (and
    // fault in) all of it on every scrape.
    if (learnt->series.capacity() < sources.size()) learnt->series.reserve(sources.size() * 5 / 4);
    for (const void* source : sources) {
      if (source != nullptr)
        learnt->series.push_back(static_cast<Series*>(const_cast<void*>(source)));
    }
    order_ = std::move(learnt);
  });
}

size_t SeriesTable::Unsorted() const {
  // In the order AddTo() reads them.
  const uint64_t readied = readied_.load(std::memory_order_acquire);
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  std::shared_ptr<const ScrapeOrder> order;
  {
    std::lock_guard lock(order_mu_);
    order = order_;
  }
  if (order != nullptr && order->generation == generation) {
    if (order->readied >= readied) return 0;
    std::lock_guard lock(fresh_mu_);
    if (order->readied >= fresh_base_ && readied - fresh_base_ <= fresh_.size()) {
      return static_cast<size_t>(readied - order->readied);
    }
  }
  return static_cast<size_t>(std::min<uint64_t>(readied, size()));
}

bool SeriesTable::SortAheadIfDue() {
  const size_t due = std::min(kSortAheadMax, std::max(kSortAheadMin, size() / 16));
  if (Unsorted() < due) return false;
  std::lock_guard lock(sort_ahead_mu_);
  sorting_ahead_.store(true, std::memory_order_relaxed);
  Snapshot snapshot;
  Fill(&snapshot);
  snapshot.Sort();  // learns the order (see AddTo)
  sorted_ahead_.fetch_add(1, std::memory_order_relaxed);
  sorting_ahead_.store(false, std::memory_order_relaxed);
  return true;
}

void SeriesTable::DeleteSeries(void* object) {
  auto* series = static_cast<Series*>(object);
  series->~Series();
  ::operator delete(object);
}

void SeriesTable::CollectOwnMetrics(std::vector<MetricFamily>* out) const {
  out->push_back(MetricFamily{"metricsgate_series",
                              "Series held in the store.",
                              MetricType::kGauge,
                              {Sample{{}, static_cast<double>(size())}}});
  out->push_back(MetricFamily{"metricsgate_series_limit",
                              "The most series the store holds (--storage.max-series).",
                              MetricType::kGauge,
                              {Sample{{}, static_cast<double>(max_series_)}}});
  out->push_back(
      MetricFamily{"metricsgate_series_rejected_total",
                   "New series refused because the store held --storage.max-series series.",
                   MetricType::kCounter,
                   {Sample{{}, static_cast<double>(rejected_.load(std::memory_order_relaxed))}}});
  out->push_back(
      MetricFamily{"metricsgate_series_expired_total",
                   "Series removed because their TTL passed without an update.",
                   MetricType::kCounter,
                   {Sample{{}, static_cast<double>(expired_.load(std::memory_order_relaxed))}}});
  out->push_back(MetricFamily{
      "metricsgate_series_unsorted",
      "Series a scrape now would sort: not in the order the last sort learnt (new since; all "
      "of them before the first sort, and after more series came and went unscraped than the "
      "store holds).",
      MetricType::kGauge,
      {Sample{{}, static_cast<double>(Unsorted())}}});
  out->push_back(MetricFamily{
      "metricsgate_series_sorts_ahead_total",
      "Sorts of the store done in the background, ahead of scrapes, after many new series.",
      MetricType::kCounter,
      {Sample{{}, static_cast<double>(sorted_ahead_.load(std::memory_order_relaxed))}}});
}

}  // namespace metricsgate::storage
