// QuantileSketch: a mergeable quantile sketch with bounded relative error (DDSketch's log
// buckets): every value is counted in the bucket (gamma^(k-1), gamma^k] of its magnitude, with
// gamma = (1 + a) / (1 - a), and a quantile is answered with its bucket's midpoint, which is
// within a relative error `a` (default 1%) of the true value. Memory grows with the log of the
// values' range, not their number. Not thread-safe: the owner guards it.
#ifndef METRICSGATE_STORAGE_QUANTILE_SKETCH_H_
#define METRICSGATE_STORAGE_QUANTILE_SKETCH_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace metricsgate::storage {

class QuantileSketch {
 public:
  explicit QuantileSketch(double relative_accuracy = 0.01);

  // Counts `value` with weight `weight`. REQUIRES: both finite, weight > 0.
  void Add(double value, double weight = 1);

  // Adds all of `other`'s counts. REQUIRES: the same relative accuracy.
  void Merge(const QuantileSketch& other);

  // The value at quantile `q` in [0, 1] (nearest rank over the weights), or NaN when empty.
  double Quantile(double q) const;

  // Every non-empty bucket as (representative value, weight), ascending by value.
  std::vector<std::pair<double, double>> Buckets() const;

  double count() const { return count_; }
  void Clear();

 private:
  int32_t Index(double magnitude) const;
  double Value(int32_t index) const;

  double gamma_;
  double log_gamma_;
  absl::flat_hash_map<int32_t, double> positive_;
  absl::flat_hash_map<int32_t, double> negative_;  // by the magnitude's index
  double zero_ = 0;                                // |value| below kMinMagnitude
  double count_ = 0;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_QUANTILE_SKETCH_H_
