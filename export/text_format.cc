#include "export/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "export/exposition.h"

namespace metricsgate::exporter {
void AppendValue(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  // Integers below 10^6 are written as integers; the common case, so it skips to_chars.
  if (value > -1e6 && value < 1e6 && value == static_cast<double>(static_cast<int64_t>(value))) {
    auto integer = static_cast<int64_t>(value);  // -0 becomes "0", as Go writes it
    char* end = buf + sizeof(buf);
    char* p = end;
    const bool negative = integer < 0;
    if (negative) integer = -integer;
    do {
      *--p = static_cast<char>('0' + integer % 10);
      integer /= 10;
    } while (integer != 0);
    if (negative) *--p = '-';
    out->append(p, end - p);
    return;
  }
  // Between 10^-4 and 10^5 the shortest form is fixed-point, whatever its digits.
  if ((value >= 1e-4 && value < 1e5) || (value <= -1e-4 && value > -1e5)) {
    auto fixed = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
    out->append(buf, fixed.ptr - buf);
    return;
  }
  // Shortest round-trip digits in scientific form tell the decimal exponent.
  auto sci = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string_view scientific(buf, sci.ptr - buf);
  int exponent = 0;
  const char* exponent_text = scientific.data() + scientific.find('e') + 1;
  if (*exponent_text == '+') ++exponent_text;  // from_chars takes '-' but not '+'
  std::from_chars(exponent_text, sci.ptr, exponent);
  if (exponent < -4 || exponent >= 6) {
    out->append(scientific);  // "1.5e+06", two exponent digits at least, as Go
    return;
  }
  auto fixed = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  out->append(buf, fixed.ptr - buf);
}

std::string RenderText(const std::vector<storage::MetricFamily>& families) {
  storage::Snapshot snapshot;
  snapshot.AddFamilies(families);
  snapshot.Sort();
  return Render(snapshot, Format::kText);
}

}  // namespace metricsgate::exporter
