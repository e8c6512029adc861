// SeriesKey: one series' identity (metric name and sorted label pairs) packed into one string,
// so the ingest hot path can look a series up with a string_view into a reused buffer.
//
// Encoding: name, then for each label `\xff` name `\xfe` value. 0xfe and 0xff never occur in
// UTF-8, and names and values are UTF-8, so the encoding is unambiguous. Pure; thread-safe.
#ifndef METRICSGATE_STORAGE_SERIES_KEY_H_
#define METRICSGATE_STORAGE_SERIES_KEY_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/metric_family.h"

namespace metricsgate::storage {

// A label as views, for building keys without copying.
using LabelView = std::pair<std::string_view, std::string_view>;

// Appends the key of `name` with `labels` to `*key` (cleared first).
// REQUIRES: `labels` sorted by name, names unique; all strings valid UTF-8.
void EncodeSeriesKey(std::string_view name, const LabelView* labels, size_t label_count,
                     std::string* key);

// The metric name of an encoded key (a view into `key`).
std::string_view SeriesKeyName(std::string_view key);

// The labels of an encoded key, copied.
std::vector<Label> SeriesKeyLabels(std::string_view key);

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_SERIES_KEY_H_
