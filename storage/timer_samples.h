// TimerSamples: one flush interval's values of a StatsD timer, with bounded memory, for rollups
// computed as Etsy statsd computes them (Graphite, issue #7).
//
// Every value is kept until the interval holds `max_samples` of them, so percentiles, median
// and standard deviation come out exactly as Etsy's (which keeps every value). One value more
// and the kept values move into a QuantileSketch (1% relative error, mergeable), which takes
// every later value too, and the list is freed: a series then costs the sketch's buckets, which
// grow with the log of the values' range, never with their number. Count (weighted by 1/rate,
// as Etsy's `count`), sum, sum of squares, min and max stay exact either way.
// Movable (a flush moves an interval's values out). Not thread-safe: the owner guards it.
#ifndef METRICSGATE_STORAGE_TIMER_SAMPLES_H_
#define METRICSGATE_STORAGE_TIMER_SAMPLES_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "storage/quantile_sketch.h"

namespace metricsgate::storage {

class TimerSamples {
 public:
  static constexpr size_t kDefaultMaxSamples = 10000;  // 80 KB of values per series at most

  explicit TimerSamples(size_t max_samples = kDefaultMaxSamples) : max_samples_(max_samples) {}

  // Records `value` once, counted `weight` times (1/rate). REQUIRES: both finite, weight > 0.
  void Add(double value, double weight = 1);

  // Whether every value of the interval is still held (not yet past max_samples).
  bool exact() const { return !sketch_.has_value(); }

  // The values of the interval, ascending. REQUIRES: exact().
  const std::vector<double>& Sorted();

  // The sketch that holds the values. REQUIRES: !exact().
  const QuantileSketch& sketch() const { return *sketch_; }

  // The value at quantile `q` in [0, 1] by nearest rank over the values (unweighted, as Etsy
  // ranks them): exact while exact(), else within 1%. NaN when empty.
  double Quantile(double q);

  size_t values() const { return values_count_; }  // values recorded, unweighted
  double count() const { return count_; }          // sum of weights
  double sum() const { return sum_; }
  double sum_of_squares() const { return sum_of_squares_; }
  double min() const { return min_; }
  double max() const { return max_; }

  // Starts a new interval: forgets everything and is exact again.
  void Clear();

 private:
  size_t max_samples_;
  std::vector<double> kept_;
  bool sorted_ = true;
  std::optional<QuantileSketch> sketch_;
  size_t values_count_ = 0;
  double count_ = 0;
  double sum_ = 0;
  double sum_of_squares_ = 0;
  double min_ = 0;
  double max_ = 0;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_TIMER_SAMPLES_H_
