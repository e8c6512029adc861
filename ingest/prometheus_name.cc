#include "ingest/prometheus_name.h"

#include "base/utf8.h"

namespace metricsgate::ingest {
namespace {

bool IsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool EscapeMetricName(std::string_view name, std::string* out) {
  out->clear();
  if (name.empty()) return true;
  out->reserve(name.size() + 1);
  if (name[0] >= '0' && name[0] <= '9') out->push_back('_');
  bool previous_was_dash = false;
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (IsNameChar(c)) {
        // Copy the whole run of valid characters at once.
        size_t end = i + 1;
        while (end < name.size() && IsNameChar(static_cast<unsigned char>(name[end]))) ++end;
        out->append(name.substr(i, end - i));
        previous_was_dash = false;
        i = end;
        continue;
      }
      if (!(c == '-' && previous_was_dash)) out->push_back('_');
      previous_was_dash = c == '-';
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(name, i);
    if (len == 0) return false;
    out->push_back('_');
    previous_was_dash = false;
    i += len;
  }
  return true;
}

}  // namespace metricsgate::ingest
