#include "storage/series_key.h"

namespace metricsgate::storage {
namespace {

constexpr char kLabelStart = '\xff';
constexpr char kValueStart = '\xfe';

}  // namespace

void EncodeSeriesKey(std::string_view name, const LabelView* labels, size_t label_count,
                     std::string* key) {
  key->assign(name);
  for (size_t i = 0; i < label_count; ++i) {
    key->push_back(kLabelStart);
    key->append(labels[i].first);
    key->push_back(kValueStart);
    key->append(labels[i].second);
  }
}

std::string_view SeriesKeyName(std::string_view key) {
  return key.substr(0, key.find(kLabelStart));
}

std::vector<Label> SeriesKeyLabels(std::string_view key) {
  std::vector<Label> labels;
  size_t pos = key.find(kLabelStart);
  while (pos != std::string_view::npos) {
    const size_t value_start = key.find(kValueStart, pos + 1);
    const size_t next = key.find(kLabelStart, value_start + 1);
    labels.emplace_back(std::string(key.substr(pos + 1, value_start - pos - 1)),
                        std::string(key.substr(value_start + 1, next == std::string_view::npos
                                                                    ? std::string_view::npos
                                                                    : next - value_start - 1)));
    pos = next;
  }
  return labels;
}

}  // namespace metricsgate::storage
