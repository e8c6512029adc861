// Snapshot: a scrape's copy of everything the server exports, packed flat so that a million
// series cost a few allocations, sort in one pass and render without touching the store again.
//
// Each entry is one series: its key (EncodeSeriesKey() form: name, then sorted labels), its
// family's type and help, and its value (counters, gauges, untyped) or the offset of its
// histogram or summary in one shared array of doubles. Keys live in the snapshot's own arena,
// so a snapshot stays valid after the store changes and no reader of it needs an EpochGuard.
//
// Sort() orders entries by metric name, then by labels (each label by name, then value; fewer
// labels first on a tie), which is the exposition's order, and drops all but the first of
// entries with the same key. It is a radix sort on 8-byte windows of the keys, after skipping
// the prefix a group of keys shares: a comparison sort of a million keys sharing long
// prefixes costs several times more, and a byte-at-a-time radix sort reads every key (scattered
// over memory) once per byte.
//
// Thread safety: none; a snapshot belongs to one thread. Moving it keeps entries' keys valid.
#ifndef METRICSGATE_STORAGE_SNAPSHOT_H_
#define METRICSGATE_STORAGE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/huge_pages.h"
#include "storage/metric_family.h"

namespace metricsgate::storage {

// A native (exponential) histogram, as Prometheus' protobuf carries it: bucket i of schema s
// holds values in (2^((i-1)/2^s), 2^(i/2^s)]; `positive` and `negative` are (index, count)
// pairs in increasing index order, counts > 0.
struct NativeHistogramView {
  int schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  std::span<const double> positive;  // index, count, index, count, ...
  std::span<const double> negative;
};

struct HistogramView {
  std::span<const double> bounds;      // increasing, the last one +Inf
  std::span<const double> cumulative;  // one per bound; the last is the count
  double sum = 0;
  double count = 0;
  bool has_native = false;
  NativeHistogramView native;
};

struct SummaryView {
  std::span<const double> quantiles;  // quantile, value, quantile, value, ...
  double sum = 0;
  double count = 0;
};

class Snapshot {
 public:
  enum class Shape : uint8_t { kScalar, kHistogram, kSummary };
  struct Entry {
    const char* key;
    uint32_t key_size;
    uint32_t help;  // index into helps()
    MetricType type;
    Shape shape;
    uint32_t data;  // kHistogram, kSummary: offset in the data array
    double value;   // kScalar

    std::string_view Key() const { return {key, key_size}; }
    std::string_view Name() const;
  };

  // Takes the memory the last snapshot gave back, if any (see ~Snapshot).
  Snapshot();
  // Gives its memory (cleared, capacity kept) back for the next snapshot to reuse: a scrape of
  // a million series fills ~100 MB, and first touching fresh pages costs more than the scrape
  // itself in a VM. One set of buffers is kept, so the memory held is one snapshot's.
  ~Snapshot();
  Snapshot(Snapshot&&) noexcept;
  Snapshot& operator=(Snapshot&&) noexcept;
  // Frees the kept buffers, so the next snapshot starts in fresh memory as a process's first
  // does (benchmarks measure that first scrape with it).
  static void ReleasePooledBuffers();

  // Makes room for `more` entries beyond those added, with a quarter to spare, so that adding a
  // million series neither copies the entries as they grow nor faults in each larger copy.
  void Reserve(size_t more);

  // Interns a help text; returns its index. Index 0 is always "".
  uint32_t AddHelp(std::string_view help);

  // Copies `key` into the arena and returns the copy (valid for the snapshot's lifetime).
  std::string_view CopyKey(std::string_view key);
  // Encodes `name` and `labels` (sorted by name, names unique) as a key in the arena.
  std::string_view EncodeKey(std::string_view name, std::span<const Label> labels);

  // Adds one series. `key` must come from CopyKey()/EncodeKey() of this snapshot.
  void AddScalar(std::string_view key, MetricType type, uint32_t help, double value);
  // `bounds` increasing, ending with +Inf; `cumulative` the same length. `native` may be null.
  void AddHistogram(std::string_view key, uint32_t help, std::span<const double> bounds,
                    std::span<const double> cumulative, double sum,
                    const NativeHistogramView* native = nullptr);
  // `quantiles`: quantile, value pairs.
  void AddSummary(std::string_view key, uint32_t help, std::span<const double> quantiles,
                  double sum, double count);
  // Adds one sample of the family `name` (of `type`, with help index `help`), as MetricFamily
  // documents samples; a histogram without a +Inf bucket gets one.
  void AddSample(std::string_view name, MetricType type, uint32_t help, const Sample& sample);
  // Adds every sample of `families`.
  void AddFamilies(const std::vector<MetricFamily>& families);

  // Records `source` with every entry added from now on (until the next call), so that the
  // owner that adds them can learn their order after Sort() (see OnSorted). Null: none.
  void SetSource(const void* source) { source_ = source; }
  // Declares the entries added between BeginSorted() and EndSorted() to be in order already,
  // with unique keys (an owner adding them in an order it learnt from an earlier Sort()).
  // Sort() merges them with the other entries instead of sorting them. At most one such run.
  void BeginSorted();
  void EndSorted();
  // Calls `fn(sources)` at the end of Sort(), with the source of each entry (null where none
  // was set) in the final order. The callee must outlive the call of Sort().
  void OnSorted(std::function<void(std::span<const void* const>)> fn) {
    on_sorted_.push_back(std::move(fn));
  }

  // Orders entries and drops duplicate keys (see the header comment).
  void Sort();

  std::span<const Entry> entries() const { return *entries_; }
  std::string_view help(uint32_t index) const { return helps_[index]; }
  HistogramView Histogram(const Entry& entry) const;
  SummaryView Summary(const Entry& entry) const;

  // Opaque: the memory a snapshot fills, reused from one snapshot to the next (snapshot.cc).
  struct Buffers;

 private:
  char* Allocate(size_t size);

  std::unique_ptr<Buffers> buffers_;
  template <typename T>
  using LargeVector = std::vector<T, LargeAllocator<T>>;  // see base/huge_pages.h
  LargeVector<Entry>* entries_;                           // in buffers_
  LargeVector<double>* data_;                             // in buffers_
  const void* source_ = nullptr;
  std::vector<double> bounds_scratch_, values_scratch_;  // AddSample's
  size_t sorted_begin_ = 0, sorted_end_ = 0;             // the run declared sorted, if not empty
  std::vector<std::function<void(std::span<const void* const>)>> on_sorted_;
  std::vector<std::unique_ptr<std::string>> help_storage_;
  std::vector<std::string_view> helps_;
  absl::flat_hash_map<std::string_view, uint32_t> help_index_;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_SNAPSHOT_H_
