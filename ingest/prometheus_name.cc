#include "ingest/prometheus_name.h"

#include <cstdint>

namespace metricsgate::ingest {
namespace {

bool IsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Length of the valid UTF-8 sequence that starts at s[i] (a byte >= 0x80), or 0 if it is
// invalid: a stray continuation byte, a truncated or overlong sequence, a surrogate, or a
// code point above U+10FFFF (the same rules as Go's utf8.ValidString).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t len;
  uint32_t min_code_point;
  uint32_t code_point;
  if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2, min_code_point = 0x80, code_point = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3, min_code_point = 0x800, code_point = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4, min_code_point = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (c & 0x3f);
  }
  if (code_point < min_code_point || code_point > 0x10ffff) return 0;
  if (code_point >= 0xd800 && code_point <= 0xdfff) return 0;
  return len;
}

}  // namespace

bool EscapeMetricName(std::string_view name, std::string* out) {
  out->clear();
  if (name.empty()) return true;
  if (name[0] >= '0' && name[0] <= '9') out->push_back('_');
  bool previous_was_dash = false;
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (IsNameChar(c)) {
        out->push_back(static_cast<char>(c));
      } else if (!(c == '-' && previous_was_dash)) {
        out->push_back('_');
      }
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
