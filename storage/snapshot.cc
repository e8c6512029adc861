#include "storage/snapshot.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "storage/series_key.h"

namespace metricsgate::storage {
namespace {

constexpr size_t kBlockSize = size_t{1} << 20;
constexpr char kLabelStart = '\xff';
constexpr char kValueStart = '\xfe';

using Entry = Snapshot::Entry;

// The sort's digit for key byte `depth`: 0 past the end, then the label separator, then the
// value separator, then every other byte in byte order. So a name sorts before its longer
// names and before its own labelled series, and a label (or value) before a longer one.
inline unsigned Digit(const Entry& e, size_t depth) {
  if (depth >= e.key_size) return 0;
  const auto byte = static_cast<unsigned char>(e.key[depth]);
  if (byte == 0xff) return 1;
  if (byte == 0xfe) return 2;
  return byte + 3u;
}
constexpr size_t kDigits = 259;

// a < b in the sort's order, both equal before `depth`.
inline bool Less(const Entry& a, const Entry& b, size_t depth) {
  const size_t common = std::min(a.key_size, b.key_size);
  size_t i = depth;
  while (i < common && a.key[i] == b.key[i]) ++i;
  return Digit(a, i) < Digit(b, i);
}

void InsertionSort(Entry* begin, Entry* end, size_t depth) {
  for (Entry* i = begin + 1; i < end; ++i) {
    Entry value = *i;
    Entry* j = i;
    for (; j > begin && Less(value, *(j - 1), depth); --j) *j = *(j - 1);
    *j = value;
  }
}

// Sorts [begin, end), whose keys agree before `depth`; `scratch` holds as many entries.
void RadixSort(Entry* begin, Entry* end, size_t depth, Entry* scratch, int level) {
  const size_t n = end - begin;
  if (n < 2) return;
  if (n <= 32) {
    InsertionSort(begin, end, depth);
    return;
  }
  if (level > 48) {  // pathological keys (one split per byte): stop recursing
    std::sort(begin, end, [depth](const Entry& a, const Entry& b) { return Less(a, b, depth); });
    return;
  }
  // Skip the bytes every key shares, in one pass.
  size_t shared = begin->key_size;
  for (const Entry* e = begin + 1; e < end && shared > depth; ++e) {
    const size_t limit = std::min<size_t>(shared, e->key_size);
    size_t i = depth;
    while (i < limit && e->key[i] == begin->key[i]) ++i;
    shared = i;
  }
  depth = shared;
  size_t counts[kDigits + 1] = {};
  for (const Entry* e = begin; e < end; ++e) ++counts[Digit(*e, depth) + 1];
  for (size_t d = 1; d <= kDigits; ++d) counts[d] += counts[d - 1];
  // counts[d] is now where digit d starts.
  size_t starts[kDigits + 1];
  std::memcpy(starts, counts, sizeof(starts));
  for (const Entry* e = begin; e < end; ++e) scratch[counts[Digit(*e, depth)]++] = *e;
  std::copy(scratch, scratch + n, begin);
  // Digit 0 (keys that end here) are all equal; keep their order.
  for (size_t d = 1; d < kDigits; ++d) {
    RadixSort(begin + starts[d], begin + starts[d + 1], depth + 1, scratch, level + 1);
  }
}

}  // namespace

std::string_view Snapshot::Entry::Name() const { return SeriesKeyName(Key()); }

Snapshot::Snapshot() { AddHelp(""); }

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

char* Snapshot::Allocate(size_t size) {
  if (size > block_left_) {
    const size_t block = std::max(size, kBlockSize);
    blocks_.push_back(std::make_unique<char[]>(block));
    block_pos_ = blocks_.back().get();
    block_left_ = block;
  }
  char* out = block_pos_;
  block_pos_ += size;
  block_left_ -= size;
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

void Snapshot::AddScalar(std::string_view key, MetricType type, uint32_t help, double value) {
  entries_.push_back(
      Entry{key.data(), static_cast<uint32_t>(key.size()), help, type, Shape::kScalar, 0, value});
}

void Snapshot::AddHistogram(std::string_view key, uint32_t help, std::span<const double> bounds,
                            std::span<const double> cumulative, double sum,
                            const NativeHistogramView* native) {
  const auto offset = static_cast<uint32_t>(data_.size());
  const double count = cumulative.empty() ? 0 : cumulative.back();
  data_.insert(data_.end(),
               {static_cast<double>(bounds.size()), sum, count, native != nullptr ? 1.0 : 0.0});
  data_.insert(data_.end(), bounds.begin(), bounds.end());
  data_.insert(data_.end(), cumulative.begin(), cumulative.end());
  if (native != nullptr) {
    data_.insert(data_.end(),
                 {static_cast<double>(native->schema), native->zero_threshold, native->zero_count});
    for (std::span<const double> side : {native->positive, native->negative}) {
      data_.push_back(static_cast<double>(side.size() / 2));
      data_.insert(data_.end(), side.begin(), side.end());
    }
  }
  entries_.push_back(Entry{key.data(), static_cast<uint32_t>(key.size()), help,
                           MetricType::kHistogram, Shape::kHistogram, offset, 0});
}

void Snapshot::AddSummary(std::string_view key, uint32_t help, std::span<const double> quantiles,
                          double sum, double count) {
  const auto offset = static_cast<uint32_t>(data_.size());
  data_.insert(data_.end(), {static_cast<double>(quantiles.size() / 2), sum, count});
  data_.insert(data_.end(), quantiles.begin(), quantiles.end());
  entries_.push_back(Entry{key.data(), static_cast<uint32_t>(key.size()), help,
                           MetricType::kSummary, Shape::kSummary, offset, 0});
}

void Snapshot::AddFamilies(const std::vector<MetricFamily>& families) {
  std::vector<double> a, b;
  for (const MetricFamily& family : families) {
    const uint32_t help = AddHelp(family.help);
    for (const Sample& sample : family.samples) {
      const std::string_view key = EncodeKey(family.name, sample.labels);
      if (sample.histogram) {
        a.clear();
        b.clear();
        for (const auto& [bound, count] : sample.histogram->buckets) {
          a.push_back(bound);
          b.push_back(count);
        }
        if (a.empty() || a.back() != std::numeric_limits<double>::infinity()) {
          a.push_back(std::numeric_limits<double>::infinity());
          b.push_back(b.empty() ? 0 : b.back());
        }
        AddHistogram(key, help, a, b, sample.histogram->sum);
      } else if (sample.summary) {
        a.clear();
        for (const auto& [q, value] : sample.summary->quantiles) {
          a.push_back(q);
          a.push_back(value);
        }
        AddSummary(key, help, a, sample.summary->sum, sample.summary->count);
      } else {
        AddScalar(key, family.type, help, sample.value);
      }
    }
  }
}

void Snapshot::Sort() {
  if (entries_.size() < 2) return;
  std::vector<Entry> scratch(entries_.size());
  RadixSort(entries_.data(), entries_.data() + entries_.size(), 0, scratch.data(), 0);
  // Equal keys are adjacent now, in the order they were added: keep the first.
  auto last = std::unique(entries_.begin(), entries_.end(),
                          [](const Entry& a, const Entry& b) { return a.Key() == b.Key(); });
  entries_.erase(last, entries_.end());
}

HistogramView Snapshot::Histogram(const Entry& entry) const {
  const double* p = data_.data() + entry.data;
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
  const double* p = data_.data() + entry.data;
  SummaryView view;
  view.sum = p[1];
  view.count = p[2];
  view.quantiles = {p + 3, 2 * static_cast<size_t>(p[0])};
  return view;
}

std::vector<MetricFamily> Snapshot::ToFamilies() const {
  std::vector<MetricFamily> out;
  for (const Entry& entry : entries_) {
    const std::string_view name = entry.Name();
    if (out.empty() || out.back().name != name) {
      out.push_back(MetricFamily{std::string(name), std::string(help(entry.help)), entry.type, {}});
    }
    Sample& sample = out.back().samples.emplace_back();
    sample.labels = SeriesKeyLabels(entry.Key());
    switch (entry.shape) {
      case Shape::kScalar:
        sample.value = entry.value;
        break;
      case Shape::kHistogram: {
        const HistogramView view = Histogram(entry);
        HistogramValue value;
        for (size_t i = 0; i < view.bounds.size(); ++i) {
          value.buckets.emplace_back(view.bounds[i], view.cumulative[i]);
        }
        value.sum = view.sum;
        sample.histogram = std::move(value);
        break;
      }
      case Shape::kSummary: {
        const SummaryView view = Summary(entry);
        SummaryValue value;
        for (size_t i = 0; i + 1 < view.quantiles.size(); i += 2) {
          value.quantiles.emplace_back(view.quantiles[i], view.quantiles[i + 1]);
        }
        value.sum = view.sum;
        value.count = view.count;
        sample.summary = std::move(value);
        break;
      }
    }
  }
  return out;
}

}  // namespace metricsgate::storage
