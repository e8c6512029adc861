#include "storage/timer_samples.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace metricsgate::storage {

void TimerSamples::Add(double value, double weight) {
  if (values_count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  ++values_count_;
  count_ += weight;
  sum_ += value;
  sum_of_squares_ += value * value;
  if (sketch_) {
    sketch_->Add(value);
    return;
  }
  if (kept_.size() < max_samples_) {
    if (!kept_.empty() && value < kept_.back()) sorted_ = false;
    kept_.push_back(value);
    return;
  }
  // Past the cap: the sketch takes over, and the list's memory goes back.
  sketch_.emplace();
  for (double kept : kept_) sketch_->Add(kept);
  sketch_->Add(value);
  std::vector<double>().swap(kept_);
}

const std::vector<double>& TimerSamples::Sorted() {
  if (!sorted_) {
    std::sort(kept_.begin(), kept_.end());
    sorted_ = true;
  }
  return kept_;
}

double TimerSamples::Quantile(double q) {
  if (values_count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  if (sketch_) return sketch_->Quantile(q);
  const std::vector<double>& sorted = Sorted();
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

void TimerSamples::Clear() {
  kept_.clear();
  sorted_ = true;
  sketch_.reset();
  values_count_ = 0;
  count_ = sum_ = sum_of_squares_ = min_ = max_ = 0;
}

}  // namespace metricsgate::storage
