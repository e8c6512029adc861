#include "storage/native_histogram.h"

#include <cmath>

namespace metricsgate::storage {

int32_t NativeHistogram::BucketIndex(double value, int schema) {
  // value = frac * 2^exp with frac in [0.5, 1): powers of two land exactly on a bucket's
  // upper bound, where log2 is exact; elsewhere the bounds are irrational.
  int exp = 0;
  const double frac = std::frexp(value, &exp);
  if (frac == 0.5) {  // value = 2^(exp-1): the bucket whose upper bound it is
    return static_cast<int32_t>(std::ceil(std::ldexp(static_cast<double>(exp - 1), schema)));
  }
  return static_cast<int32_t>(std::ceil(std::ldexp(std::log2(value), schema)));
}

void NativeHistogram::Side::Add(int32_t index, double weight) {
  if (counts.empty()) {
    offset = index;
    counts.push_back(weight);
    return;
  }
  if (index < offset) {
    counts.insert(counts.begin(), static_cast<size_t>(offset - index), 0.0);
    offset = index;
  } else if (static_cast<size_t>(index - offset) >= counts.size()) {
    counts.resize(static_cast<size_t>(index - offset) + 1, 0.0);
  }
  counts[static_cast<size_t>(index - offset)] += weight;
}

void NativeHistogram::Side::Halve() {
  if (counts.empty()) return;
  // Buckets 2j-1 and 2j of schema s make bucket j of schema s-1: j = ceil(i/2) = (i+1) >> 1.
  const int32_t new_offset = (offset + 1) >> 1;
  const int32_t last = (offset + static_cast<int32_t>(counts.size()) - 1 + 1) >> 1;
  std::vector<double> merged(static_cast<size_t>(last - new_offset) + 1, 0.0);
  for (size_t k = 0; k < counts.size(); ++k) {
    const int32_t index = offset + static_cast<int32_t>(k);
    merged[static_cast<size_t>(((index + 1) >> 1) - new_offset)] += counts[k];
  }
  offset = new_offset;
  counts = std::move(merged);
}

void NativeHistogram::Fit() {
  while (schema_ > kMinSchema && positive_.counts.size() + negative_.counts.size() > kMaxBuckets) {
    positive_.Halve();
    negative_.Halve();
    --schema_;
  }
}

void NativeHistogram::Observe(double value, double weight) {
  if (std::fabs(value) <= kZeroThreshold) {
    zero_count_ += weight;
    return;
  }
  Side& side = value > 0 ? positive_ : negative_;
  side.Add(BucketIndex(std::fabs(value), schema_), weight);
  Fit();
}

void NativeHistogram::AppendBuckets(bool positive, std::vector<double>* pairs) const {
  const Side& side = positive ? positive_ : negative_;
  for (size_t k = 0; k < side.counts.size(); ++k) {
    if (side.counts[k] == 0) continue;
    pairs->push_back(static_cast<double>(side.offset + static_cast<int32_t>(k)));
    pairs->push_back(side.counts[k]);
  }
}

}  // namespace metricsgate::storage
