#include "base/duration.h"

#include <cstdint>

#include "base/str_cat.h"

namespace metricsgate {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError(
        StrCat("not a duration: \"", text, "\" (want a number and a unit, as 10s, 500ms, 1m)"));
  };
  if (text.empty()) return invalid();
  if (text == "0") return std::chrono::milliseconds(0);  // Go's time.ParseDuration takes it
  int64_t total = 0;
  for (size_t i = 0; i < text.size();) {
    int64_t number = 0;
    const size_t digits_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (number > 1'000'000'000) return invalid();
      number = number * 10 + (text[i++] - '0');
    }
    if (i == digits_start) return invalid();
    int64_t unit;
    if (text.substr(i, 2) == "ms") {
      unit = 1, i += 2;
    } else if (text.substr(i, 1) == "s") {
      unit = 1000, i += 1;
    } else if (text.substr(i, 1) == "m") {
      unit = 60'000, i += 1;
    } else if (text.substr(i, 1) == "h") {
      unit = 3'600'000, i += 1;
    } else {
      return invalid();
    }
    total += number * unit;
  }
  return std::chrono::milliseconds(total);
}

}  // namespace metricsgate
