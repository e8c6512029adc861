#include "storage/snapshot.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>

#include "storage/series_key.h"

namespace metricsgate::storage {
namespace {

// The key arena grows in blocks of whole huge pages (base/huge_pages.h).
constexpr size_t kBlockSize = kHugePageSize;

constexpr char kLabelStart = '\xff';
constexpr char kValueStart = '\xfe';

using Entry = Snapshot::Entry;

// The sort's digit for key byte `depth`: 0 past the end, then the label separator, then the
// value separator, then every other byte in byte order. So a name sorts before its longer
// names and before its own labelled series, and a label (or value) before a longer one.
template <typename K>  // Entry or Item: anything with key and key_size
inline unsigned Digit(const K& e, size_t depth) {
  if (depth >= e.key_size) return 0;
  const auto byte = static_cast<unsigned char>(e.key[depth]);
  if (byte == 0xff) return 1;
  if (byte == 0xfe) return 2;
  return byte + 3u;
}

// a < b in the sort's order, both equal before `depth`.
template <typename K>
inline bool Less(const K& a, const K& b, size_t depth) {
  const size_t common = std::min(a.key_size, b.key_size);
  size_t i = depth;
  while (i < common && a.key[i] == b.key[i]) ++i;
  return Digit(a, i) < Digit(b, i);
}

// The sort works on (window, index) items: a window is 8 key bytes from some depth, mapped as
// Digit() maps them (clamped to one byte: 0xfc and above, never in UTF-8, all become 0xff) and
// packed big-endian, so comparing windows compares those 8 bytes. Past a clamped byte a
// window is all 0xff, so keys that agree up to one fall into one run, which is then sorted by
// comparing whole keys. Sorting items by window is
// cache-friendly; only filling a window touches the key, once per item per 8 bytes of depth
// that still tell keys apart (shared prefixes are skipped first).
// Items carry their key's address and size, so sorting them never reads the entries, only the
// keys (each a random access once items are reordered; this VM makes those dear).
struct Item {
  uint64_t window;
  const char* key;
  uint32_t key_size;
  uint32_t index_and_duplicate;  // the entry's index; the top bit: the key of the item before
  uint32_t index() const { return index_and_duplicate & 0x7fffffffu; }
  bool duplicate() const { return (index_and_duplicate >> 31) != 0; }
  void set_duplicate() { index_and_duplicate |= 0x80000000u; }
};
static_assert(sizeof(Item) == 24);

inline uint64_t Window(const Item& e, size_t depth) {
  if (depth + 8 <= e.key_size) {
    // Eight bytes at once: when none is 0xfc or above, each maps to itself + 3, no carries.
    uint64_t bytes;
    std::memcpy(&bytes, e.key + depth, 8);
    constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL, kHigh = 0x8080808080808080ULL;
    const uint64_t at_least_fc = bytes & ((bytes & kLow7) + 0x0404040404040404ULL) & kHigh;
    if (at_least_fc == 0) return __builtin_bswap64(bytes + 0x0303030303030303ULL);
  }
  uint64_t window = 0;
  bool clamped = false;
  for (size_t j = 0; j < 8; ++j) {
    unsigned byte = 0;
    if (clamped) {
      byte = 0xff;  // past a clamped byte the window says nothing: all keys alike there
    } else if (depth + j < e.key_size) {
      const auto b = static_cast<unsigned char>(e.key[depth + j]);
      byte = b == 0xff ? 1 : b == 0xfe ? 2 : b < 0xfc ? b + 3u : 0xffu;
      clamped = byte == 0xff;
    }
    window = window << 8 | byte;
  }
  return window;
}

inline bool HasClampedByte(uint64_t window) {
  for (int j = 0; j < 8; ++j) {
    if ((window >> (8 * j) & 0xff) == 0xff) return true;
  }
  return false;
}

// Stable sort of items by window: LSD radix, one byte a pass, skipping bytes all items share.
void SortByWindow(Item* begin, Item* end, Item* scratch) {
  const size_t n = end - begin;
  if (n <= 64) {
    std::stable_sort(begin, end, [](const Item& a, const Item& b) { return a.window < b.window; });
    return;
  }
  size_t counts[8][256] = {};
  for (const Item* item = begin; item < end; ++item) {
    for (int j = 0; j < 8; ++j) ++counts[j][item->window >> (8 * j) & 0xff];
  }
  Item* from = begin;
  Item* to = scratch;
  for (int j = 0; j < 8; ++j) {
    size_t* count = counts[j];
    if (count[from->window >> (8 * j) & 0xff] == n) continue;  // one value: nothing to do
    size_t position = 0;
    for (size_t d = 0; d < 256; ++d) {
      const size_t here = count[d];
      count[d] = position;
      position += here;
    }
    for (const Item* item = from; item < from + n; ++item) {
      to[count[item->window >> (8 * j) & 0xff]++] = *item;
    }
    std::swap(from, to);
  }
  if (from != begin) std::copy(from, from + n, begin);
}

// The first i in [from, limit) where a[i] != b[i], or limit; eight bytes a step.
inline size_t CommonPrefix(const char* a, const char* b, size_t from, size_t limit) {
  size_t i = from;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return i + static_cast<size_t>(__builtin_ctzll(x ^ y) / 8);  // little-endian
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

// Keys lie scattered in memory once items are sorted by a first window: ask for the key of
// the item 32 ahead. Always inlined: GCC 12 at -O2 finds a function that only prefetches
// free of side effects and drops its calls (the sort of a million keys took 1.5x as long).
[[gnu::always_inline]] inline void Prefetch(const Item* item, const Item* end, size_t depth) {
  if (item + 32 < end) {
    __builtin_prefetch(item[32].key + depth);
    __builtin_prefetch(item[32].key + depth + 32);
  }
}

// Marks each item whose key equals the key of the item before it. REQUIRES: sorted, keys
// equal before `depth`.
void MarkDuplicates(Item* begin, Item* end, size_t depth) {
  for (Item* item = begin + 1; item < end; ++item) {
    const Item& a = item[-1];
    if (a.key_size == item->key_size &&
        std::memcmp(a.key + depth, item->key + depth, a.key_size - depth) == 0) {
      item->set_duplicate();
    }
  }
}

// Sorts items [begin, end), whose keys agree before `depth`, by key; equal keys keep their
// order, and all but the first of them are marked duplicate. `scratch` holds as many items.
void SortItems(Item* begin, Item* end, size_t depth, Item* scratch, int level) {
  const size_t n = end - begin;
  if (n < 2) return;
  const auto less = [depth](const Item& a, const Item& b) { return Less(a, b, depth); };
  if (n <= 16 || level > 64) {  // few items, or pathological keys: compare whole keys
    std::stable_sort(begin, end, less);
    MarkDuplicates(begin, end, depth);
    return;
  }
  // Skip the bytes every key shares.
  const Item& first = *begin;
  size_t shared = first.key_size;
  for (const Item* item = begin + 1; item < end && shared > depth; ++item) {
    Prefetch(item, end, depth);
    shared = CommonPrefix(item->key, first.key, depth, std::min<size_t>(shared, item->key_size));
  }
  depth = shared;
  for (Item* item = begin; item < end; ++item) {
    Prefetch(item, end, depth);
    item->window = Window(*item, depth);
  }
  SortByWindow(begin, end, scratch);
  for (Item* run = begin; run < end;) {
    Item* run_end = run + 1;
    while (run_end < end && run_end->window == run->window) ++run_end;
    if (run_end - run > 1) {
      if (HasClampedByte(run->window)) {  // equal windows, maybe different bytes
        const auto run_less = [depth](const Item& a, const Item& b) { return Less(a, b, depth); };
        std::stable_sort(run, run_end, run_less);
        MarkDuplicates(run, run_end, depth);
      } else if ((run->window & 0xff) == 0) {
        // Every key of the run ended inside the window: they are equal.
        for (Item* item = run + 1; item < run_end; ++item) item->set_duplicate();
      } else {
        SortItems(run, run_end, depth + 8, scratch, level + 1);
      }
    }
    run = run_end;
  }
}

}  // namespace

std::string_view Snapshot::Entry::Name() const { return SeriesKeyName(Key()); }

struct Snapshot::Buffers {
  // Each of these reaches megabytes in a large scrape: in huge pages (base/huge_pages.h).
  LargeVector<Entry> entries;
  LargeVector<const void*> sources;  // one per entry
  LargeVector<Entry> sorted;         // Sort()'s output, swapped with entries
  LargeVector<const void*> sorted_sources;
  LargeVector<double> data;
  LargeVector<Item> items, scratch;
  std::vector<char*> blocks;  // the key arena, kBlockSize each or larger (AllocateLarge)
  std::vector<size_t> block_sizes;
  size_t block = 0;  // the block being filled
  char* pos = nullptr;
  size_t left = 0;

  Buffers() = default;
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  ~Buffers() {
    for (size_t i = 0; i < blocks.size(); ++i) FreeLarge(blocks[i], block_sizes[i]);
  }

  void Clear() {
    entries.clear();
    sources.clear();
    sorted.clear();
    sorted_sources.clear();
    data.clear();
    block = 0;
    pos = blocks.empty() ? nullptr : blocks[0];
    left = blocks.empty() ? 0 : block_sizes[0];
  }
};

namespace {
std::mutex pool_mu;
Snapshot::Buffers* pool = nullptr;  // guarded by pool_mu; one set, owned
}  // namespace

Snapshot::Snapshot() {
  {
    std::lock_guard lock(pool_mu);
    buffers_.reset(pool);
    pool = nullptr;
  }
  if (buffers_ == nullptr) buffers_ = std::make_unique<Buffers>();
  entries_ = &buffers_->entries;
  data_ = &buffers_->data;
  AddHelp("");
}

Snapshot::Snapshot(Snapshot&&) noexcept = default;
Snapshot& Snapshot::operator=(Snapshot&&) noexcept = default;

Snapshot::~Snapshot() {
  if (buffers_ == nullptr) return;  // moved from
  buffers_->Clear();
  std::lock_guard lock(pool_mu);
  if (pool == nullptr) {
    pool = buffers_.release();
  }
}

void Snapshot::ReleasePooledBuffers() {
  std::unique_ptr<Buffers> kept;
  std::lock_guard lock(pool_mu);
  kept.reset(pool);
  pool = nullptr;
}

uint32_t Snapshot::AddHelp(std::string_view help) {
  auto it = help_index_.find(help);
  if (it != help_index_.end()) return it->second;
  help_storage_.push_back(std::make_unique<std::string>(help));
  const std::string_view stored = *help_storage_.back();
  const auto index = static_cast<uint32_t>(helps_.size());
  helps_.push_back(stored);
  help_index_.emplace(stored, index);
  return index;
}

void Snapshot::Reserve(size_t more) {
  Buffers& b = *buffers_;
  const size_t want = b.entries.size() + more;
  if (b.entries.capacity() < want) b.entries.reserve(want * 5 / 4);
  if (b.sources.capacity() < want) b.sources.reserve(want * 5 / 4);
}

char* Snapshot::Allocate(size_t size) {
  Buffers& b = *buffers_;
  while (size > b.left) {
    if (b.pos != nullptr && b.block + 1 < b.blocks.size()) {
      ++b.block;  // a kept block
    } else {
      const size_t bytes = std::max(size, kBlockSize);
      b.blocks.reserve(b.blocks.size() + 1);  // so that neither push_back below can throw
      b.block_sizes.reserve(b.block_sizes.size() + 1);
      b.blocks.push_back(static_cast<char*>(AllocateLarge(bytes)));
      b.block_sizes.push_back(bytes);
      b.block = b.blocks.size() - 1;
    }
    b.pos = b.blocks[b.block];
    b.left = b.block_sizes[b.block];
  }
  char* out = b.pos;
  b.pos += size;
  b.left -= size;
  return out;
}

std::string_view Snapshot::CopyKey(std::string_view key) {
  char* out = Allocate(key.size());
  std::memcpy(out, key.data(), key.size());
  return {out, key.size()};
}

std::string_view Snapshot::EncodeKey(std::string_view name, std::span<const Label> labels) {
  size_t size = name.size();
  for (const Label& label : labels) size += 2 + label.first.size() + label.second.size();
  char* out = Allocate(size);
  char* p = out;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  for (const Label& label : labels) {
    *p++ = kLabelStart;
    std::memcpy(p, label.first.data(), label.first.size());
    p += label.first.size();
    *p++ = kValueStart;
    std::memcpy(p, label.second.data(), label.second.size());
    p += label.second.size();
  }
  return {out, size};
}

void Snapshot::BeginSorted() { sorted_begin_ = sorted_end_ = entries_->size(); }
void Snapshot::EndSorted() { sorted_end_ = entries_->size(); }

void Snapshot::AddScalar(std::string_view key, MetricType type, uint32_t help, double value) {
  buffers_->sources.push_back(source_);
  entries_->push_back(
      Entry{key.data(), static_cast<uint32_t>(key.size()), help, type, Shape::kScalar, 0, value});
}

void Snapshot::AddHistogram(std::string_view key, uint32_t help, std::span<const double> bounds,
                            std::span<const double> cumulative, double sum,
                            const NativeHistogramView* native) {
  buffers_->sources.push_back(source_);
  const auto offset = static_cast<uint32_t>(data_->size());
  const double count = cumulative.empty() ? 0 : cumulative.back();
  data_->insert(data_->end(),
                {static_cast<double>(bounds.size()), sum, count, native != nullptr ? 1.0 : 0.0});
  data_->insert(data_->end(), bounds.begin(), bounds.end());
  data_->insert(data_->end(), cumulative.begin(), cumulative.end());
  if (native != nullptr) {
    data_->insert(data_->end(), {static_cast<double>(native->schema), native->zero_threshold,
                                 native->zero_count});
    for (std::span<const double> side : {native->positive, native->negative}) {
      data_->push_back(static_cast<double>(side.size() / 2));
      data_->insert(data_->end(), side.begin(), side.end());
    }
  }
  entries_->push_back(Entry{key.data(), static_cast<uint32_t>(key.size()), help,
                            MetricType::kHistogram, Shape::kHistogram, offset, 0});
}

void Snapshot::AddSummary(std::string_view key, uint32_t help, std::span<const double> quantiles,
                          double sum, double count) {
  buffers_->sources.push_back(source_);
  const auto offset = static_cast<uint32_t>(data_->size());
  data_->insert(data_->end(), {static_cast<double>(quantiles.size() / 2), sum, count});
  data_->insert(data_->end(), quantiles.begin(), quantiles.end());
  entries_->push_back(Entry{key.data(), static_cast<uint32_t>(key.size()), help,
                            MetricType::kSummary, Shape::kSummary, offset, 0});
}

void Snapshot::AddSample(std::string_view name, MetricType type, uint32_t help,
                         const Sample& sample) {
  const std::string_view key = EncodeKey(name, sample.labels);
  if (sample.histogram) {
    bounds_scratch_.clear();
    values_scratch_.clear();
    for (const auto& [bound, count] : sample.histogram->buckets) {
      bounds_scratch_.push_back(bound);
      values_scratch_.push_back(count);
    }
    if (bounds_scratch_.empty() ||
        bounds_scratch_.back() != std::numeric_limits<double>::infinity()) {
      bounds_scratch_.push_back(std::numeric_limits<double>::infinity());
      values_scratch_.push_back(values_scratch_.empty() ? 0 : values_scratch_.back());
    }
    AddHistogram(key, help, bounds_scratch_, values_scratch_, sample.histogram->sum);
  } else if (sample.summary) {
    values_scratch_.clear();
    for (const auto& [q, value] : sample.summary->quantiles) {
      values_scratch_.push_back(q);
      values_scratch_.push_back(value);
    }
    AddSummary(key, help, values_scratch_, sample.summary->sum, sample.summary->count);
  } else {
    AddScalar(key, type, help, sample.value);
  }
}

void Snapshot::AddFamilies(const std::vector<MetricFamily>& families) {
  for (const MetricFamily& family : families) {
    const uint32_t help = AddHelp(family.help);
    for (const Sample& sample : family.samples) AddSample(family.name, family.type, help, sample);
  }
}

void Snapshot::Sort() {
  Buffers& b = *buffers_;
  const size_t n = b.entries.size();
  // The run declared sorted stays as it is; the other entries are sorted, then both merged.
  const size_t run_begin = sorted_begin_, run_end = std::max(sorted_begin_, sorted_end_);
  const size_t others = n - (run_end - run_begin);
  const auto done = [&] {
    sorted_begin_ = sorted_end_ = 0;
    for (const auto& fn : on_sorted_) fn(b.sources);
    on_sorted_.clear();
  };
  if (others == 0) {  // all in the run: in order with unique keys already, nothing to copy
    done();
    return;
  }
  // Every item is written below and scratch before it is read: grow them, never clear them.
  if (b.items.size() < others) b.items.resize(others);
  if (b.scratch.size() < others) b.scratch.resize(others);
  for (size_t i = 0, k = 0; i < n; ++i) {
    if (i < run_begin || i >= run_end) {
      const Entry& e = b.entries[i];
      b.items[k++] = Item{0, e.key, e.key_size, static_cast<uint32_t>(i)};
    }
  }
  SortItems(b.items.data(), b.items.data() + others, 0, b.scratch.data(), 0);
  // Reserved with room to spare, so a store that grows a little between scrapes does not
  // move these (and fault fresh pages in) on every one.
  b.sorted.clear();
  if (b.sorted.capacity() < n) b.sorted.reserve(n * 5 / 4);
  b.sorted_sources.clear();
  if (b.sorted_sources.capacity() < n) b.sorted_sources.reserve(n * 5 / 4);
  const auto take = [&b](size_t index) {
    b.sorted.push_back(b.entries[index]);
    b.sorted_sources.push_back(b.sources[index]);
  };
  size_t run = run_begin, k = 0;
  while (run < run_end || k < others) {
    if (k + 64 < others) {
      __builtin_prefetch(&b.entries[b.items[k + 64].index()]);
      __builtin_prefetch(&b.sources[b.items[k + 64].index()]);
    }
    if (k < others && b.items[k].duplicate()) {
      ++k;
      continue;
    }
    if (run == run_end) {
      take(b.items[k++].index());
      continue;
    }
    if (k == others) {
      take(run++);
      continue;
    }
    const Entry& a = b.entries[run];
    const Entry& c = b.entries[b.items[k].index()];
    if (a.Key() == c.Key()) {  // keep the first added, drop the other
      if (run < b.items[k].index()) {
        take(run++);
        ++k;
      } else {
        take(b.items[k++].index());
        ++run;
      }
    } else if (Less(a, c, 0)) {
      take(run++);
    } else {
      take(b.items[k++].index());
    }
  }
  std::swap(b.entries, b.sorted);
  std::swap(b.sources, b.sorted_sources);
  done();
}

HistogramView Snapshot::Histogram(const Entry& entry) const {
  const double* p = data_->data() + entry.data;
  const auto n = static_cast<size_t>(p[0]);
  HistogramView view;
  view.sum = p[1];
  view.count = p[2];
  view.has_native = p[3] != 0;
  view.bounds = {p + 4, n};
  view.cumulative = {p + 4 + n, n};
  if (view.has_native) {
    const double* q = p + 4 + 2 * n;
    view.native.schema = static_cast<int>(q[0]);
    view.native.zero_threshold = q[1];
    view.native.zero_count = q[2];
    const auto positive = static_cast<size_t>(q[3]);
    view.native.positive = {q + 4, 2 * positive};
    const double* r = q + 4 + 2 * positive;
    view.native.negative = {r + 1, 2 * static_cast<size_t>(r[0])};
  }
  return view;
}

SummaryView Snapshot::Summary(const Entry& entry) const {
  const double* p = data_->data() + entry.data;
  SummaryView view;
  view.sum = p[1];
  view.count = p[2];
  view.quantiles = {p + 3, 2 * static_cast<size_t>(p[0])};
  return view;
}

}  // namespace metricsgate::storage
