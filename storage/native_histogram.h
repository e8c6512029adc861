// NativeHistogram: the buckets of a Prometheus native (sparse, exponential) histogram, kept as
// client_golang keeps them, so timers reach Prometheus as mergeable high-resolution histograms.
//
// Bucket `i` of schema `s` holds the values in (2^((i-1)/2^s), 2^(i/2^s)] (negative values
// mirror that on the negative side); values within ±kZeroThreshold count in the zero bucket.
// It starts at schema 3 (each bucket 9% wider than the last: quantiles within ±4.5%), as
// client_golang's NativeHistogramBucketFactor 1.1 gives. The buckets of each side are one dense
// array from the lowest to the highest index seen; when the two arrays together would span
// more than kMaxBuckets buckets, the schema drops by one (pairs of buckets merge, halving the
// resolution) until they fit, so memory per histogram stays bounded whatever is observed.
//
// Not thread-safe: the owner (SeriesTable) guards it.
#ifndef METRICSGATE_STORAGE_NATIVE_HISTOGRAM_H_
#define METRICSGATE_STORAGE_NATIVE_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace metricsgate::storage {

class NativeHistogram {
 public:
  static constexpr int kInitialSchema = 3;
  static constexpr int kMinSchema = -4;
  static constexpr size_t kMaxBuckets = 160;
  // client_golang's DefNativeHistogramZeroThreshold: 2^-128.
  static constexpr double kZeroThreshold = 2.938735877055719e-39;

  // The index of the bucket that holds `value` (> 0, finite) at `schema`.
  static int32_t BucketIndex(double value, int schema);

  // Adds `weight` (> 0) at `value` (finite).
  void Observe(double value, double weight);

  int schema() const { return schema_; }
  double zero_count() const { return zero_count_; }
  // Appends (index, count) pairs of the non-empty buckets of one side, by increasing index.
  void AppendBuckets(bool positive, std::vector<double>* pairs) const;

 private:
  struct Side {
    int32_t offset = 0;          // the index of counts[0]
    std::vector<double> counts;  // empty until the first value on this side
    void Add(int32_t index, double weight);
    void Halve();  // to the next lower schema
  };
  void Fit();

  int schema_ = kInitialSchema;
  double zero_count_ = 0;
  Side positive_, negative_;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_NATIVE_HISTOGRAM_H_
