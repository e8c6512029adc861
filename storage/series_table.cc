#include "storage/series_table.h"

#include "base/str_cat.h"

namespace metricsgate::storage {
namespace {

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "unknown";
}

absl::Status TypeConflict(std::string_view name, MetricType have, MetricType want) {
  return absl::FailedPreconditionError(StrCat("metric \"", name, "\" is a ", TypeName(have), "; a ",
                                              TypeName(want), " sample cannot update it"));
}

}  // namespace

SeriesTable::Series* SeriesTable::FindOrCreate(std::string_view name, MetricType type,
                                               absl::Status* status) {
  // The high bits pick the shard; the map inside uses the low ones.
  Shard& shard = shards_[(NameHash{}(name) >> 48) % kShards];
  {
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.series.find(name);
    if (it != shard.series.end()) {
      if (it->second->type != type) {
        *status = TypeConflict(name, it->second->type, type);
        return nullptr;
      }
      return it->second.get();
    }
  }
  absl::MutexLock lock(&shard.mu);
  auto [it, inserted] = shard.series.try_emplace(name, nullptr);
  if (inserted) {
    it->second = std::make_unique<Series>(type);
    size_.fetch_add(1, std::memory_order_relaxed);
  } else if (it->second->type != type) {
    *status = TypeConflict(name, it->second->type, type);
    return nullptr;
  }
  return it->second.get();
}

absl::Status SeriesTable::AddToCounter(std::string_view name, double delta) {
  absl::Status status;
  Series* series = FindOrCreate(name, MetricType::kCounter, &status);
  if (series == nullptr) return status;
  series->value.fetch_add(delta, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status SeriesTable::SetGauge(std::string_view name, double value) {
  absl::Status status;
  Series* series = FindOrCreate(name, MetricType::kGauge, &status);
  if (series == nullptr) return status;
  series->value.store(value, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status SeriesTable::AddToGauge(std::string_view name, double delta) {
  absl::Status status;
  Series* series = FindOrCreate(name, MetricType::kGauge, &status);
  if (series == nullptr) return status;
  series->value.fetch_add(delta, std::memory_order_relaxed);
  return absl::OkStatus();
}

void SeriesTable::Collect(std::vector<MetricFamily>* out) const {
  out->reserve(out->size() + size());
  for (const Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    for (const auto& [name, series] : shard.series) {
      MetricFamily& family = out->emplace_back();
      family.name = name;
      family.help = std::string(kStatsdHelp);
      family.type = series->type;
      family.samples.push_back(Sample{{}, series->value.load(std::memory_order_relaxed)});
    }
  }
}

void SeriesTable::CollectOwnMetrics(std::vector<MetricFamily>* out) const {
  out->push_back(MetricFamily{"metricsgate_series",
                              "Series held in the store.",
                              MetricType::kGauge,
                              {Sample{{}, static_cast<double>(size())}}});
}

}  // namespace metricsgate::storage
