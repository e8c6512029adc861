#include "storage/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace metricsgate::storage {
namespace {

constexpr double kMinMagnitude = 1e-9;  // smaller magnitudes count as 0

}  // namespace

QuantileSketch::QuantileSketch(double relative_accuracy)
    : gamma_((1 + relative_accuracy) / (1 - relative_accuracy)), log_gamma_(std::log(gamma_)) {}

int32_t QuantileSketch::Index(double magnitude) const {
  return static_cast<int32_t>(std::ceil(std::log(magnitude) / log_gamma_));
}

double QuantileSketch::Value(int32_t index) const {
  // The midpoint (in relative terms) of (gamma^(k-1), gamma^k].
  return 2 * std::pow(gamma_, index) / (gamma_ + 1);
}

void QuantileSketch::Add(double value, double weight) {
  count_ += weight;
  if (std::abs(value) < kMinMagnitude) {
    zero_ += weight;
  } else if (value > 0) {
    positive_[Index(value)] += weight;
  } else {
    negative_[Index(-value)] += weight;
  }
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  for (const auto& [index, weight] : other.positive_) positive_[index] += weight;
  for (const auto& [index, weight] : other.negative_) negative_[index] += weight;
  zero_ += other.zero_;
  count_ += other.count_;
}

double QuantileSketch::Quantile(double q) const {
  if (count_ <= 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(q, 0.0, 1.0) * count_;
  double seen = 0;
  // From the most negative value up: negatives by falling magnitude, zero, positives.
  std::vector<std::pair<int32_t, double>> buckets(negative_.begin(), negative_.end());
  std::sort(buckets.begin(), buckets.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (const auto& [index, weight] : buckets) {
    seen += weight;
    if (seen >= rank) return -Value(index);
  }
  seen += zero_;
  if (seen >= rank && zero_ > 0) return 0;
  buckets.assign(positive_.begin(), positive_.end());
  std::sort(buckets.begin(), buckets.end());
  for (const auto& [index, weight] : buckets) {
    seen += weight;
    if (seen >= rank) return Value(index);
  }
  if (!buckets.empty()) return Value(buckets.back().first);
  return 0;
}

void QuantileSketch::Clear() {
  positive_.clear();
  negative_.clear();
  zero_ = 0;
  count_ = 0;
}

}  // namespace metricsgate::storage
