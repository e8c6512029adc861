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

std::vector<std::pair<double, double>> QuantileSketch::Buckets() const {
  std::vector<std::pair<double, double>> out;
  out.reserve(negative_.size() + positive_.size() + 1);
  std::vector<std::pair<int32_t, double>> sorted(negative_.begin(), negative_.end());
  // Negatives by falling magnitude, then zero, then positives by rising magnitude.
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (const auto& [index, weight] : sorted) out.emplace_back(-Value(index), weight);
  if (zero_ > 0) out.emplace_back(0.0, zero_);
  sorted.assign(positive_.begin(), positive_.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [index, weight] : sorted) out.emplace_back(Value(index), weight);
  return out;
}

double QuantileSketch::Quantile(double q) const {
  if (count_ <= 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(q, 0.0, 1.0) * count_;
  double seen = 0;
  const std::vector<std::pair<double, double>> buckets = Buckets();
  for (const auto& [value, weight] : buckets) {
    seen += weight;
    if (seen >= rank) return value;
  }
  return buckets.empty() ? 0 : buckets.back().first;
}

void QuantileSketch::Clear() {
  positive_.clear();
  negative_.clear();
  zero_ = 0;
  count_ = 0;
}

}  // namespace metricsgate::storage
