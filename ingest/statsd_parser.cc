#include "ingest/statsd_parser.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace metricsgate::ingest {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ParseType(std::string_view text, StatsdType* type) {
  if (text == "c") {
    *type = StatsdType::kCounter;
  } else if (text == "g") {
    *type = StatsdType::kGauge;
  } else if (text == "ms") {
    *type = StatsdType::kTimer;
  } else if (text == "h") {
    *type = StatsdType::kHistogram;
  } else if (text == "d") {
    *type = StatsdType::kDistribution;
  } else if (text == "s") {
    *type = StatsdType::kSet;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string_view BadLineReasonName(BadLineReason reason) {
  switch (reason) {
    case BadLineReason::kMalformedLine:
      return "malformed_line";
    case BadLineReason::kEmptyName:
      return "empty_name";
    case BadLineReason::kInvalidUtf8:
      return "invalid_utf8";
    case BadLineReason::kMalformedValue:
      return "malformed_value";
    case BadLineReason::kUnknownType:
      return "unknown_type";
    case BadLineReason::kInvalidSampleRate:
      return "invalid_sample_rate";
    case BadLineReason::kUnknownField:
      return "unknown_field";
    case BadLineReason::kValueOutOfRange:
      return "value_out_of_range";
    case BadLineReason::kIllegalNegativeCounter:
      return "illegal_negative_counter";
    case BadLineReason::kTypeConflict:
      return "type_conflict";
    case BadLineReason::kReservedName:
      return "reserved_name";
    case BadLineReason::kUnsupportedType:
      return "unsupported_type";
  }
  return "unknown";
}

bool ParseStatsdNumber(std::string_view text, double* value) {
  // Check the grammar first: std::from_chars would also take "inf", "nan" and "1e" (as 1).
  size_t i = 0;
  const size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t number_start = i;
  size_t digits = 0;
  while (i < n && IsDigit(text[i])) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && IsDigit(text[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exponent_digits = 0;
    while (i < n && IsDigit(text[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return false;
  }
  if (i != n) return false;
  // from_chars takes no leading '+'; a '-' it handles itself.
  const char* first = text.data() + (text[0] == '+' ? number_start : 0);
  double parsed = 0;
  auto [end, ec] = std::from_chars(first, text.data() + n, parsed);
  if (ec != std::errc() || end != text.data() + n || !std::isfinite(parsed)) return false;
  *value = parsed;
  return true;
}

bool ParseStatsdLine(std::string_view line, StatsdSample* sample, BadLineReason* reason) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    *reason = BadLineReason::kMalformedLine;
    return false;
  }
  if (colon == 0) {
    *reason = BadLineReason::kEmptyName;
    return false;
  }
  std::string_view rest = line.substr(colon + 1);
  const size_t bar = rest.find('|');
  if (bar == std::string_view::npos) {
    *reason = BadLineReason::kMalformedLine;
    return false;
  }
  StatsdSample out;
  out.name = line.substr(0, colon);
  out.value_text = rest.substr(0, bar);
  rest.remove_prefix(bar + 1);
  const size_t type_end = rest.find('|');
  if (!ParseType(rest.substr(0, type_end), &out.type)) {
    *reason = BadLineReason::kUnknownType;
    return false;
  }
  if (out.type != StatsdType::kSet) {
    if (!ParseStatsdNumber(out.value_text, &out.value)) {
      *reason = BadLineReason::kMalformedValue;
      return false;
    }
    out.has_sign = out.value_text[0] == '+' || out.value_text[0] == '-';
  }
  // The fields after the type; `x:1|c|` has one empty field.
  bool have_rate = false;
  for (size_t end = type_end; end != std::string_view::npos;) {
    rest.remove_prefix(end + 1);
    end = rest.find('|');
    const std::string_view field = rest.substr(0, end);
    if (field.empty() || field[0] != '@' || have_rate) {
      *reason = BadLineReason::kUnknownField;
      return false;
    }
    if (!ParseStatsdNumber(field.substr(1), &out.sample_rate) || !(out.sample_rate > 0)) {
      *reason = BadLineReason::kInvalidSampleRate;
      return false;
    }
    have_rate = true;
  }
  *sample = out;
  return true;
}

}  // namespace metricsgate::ingest
