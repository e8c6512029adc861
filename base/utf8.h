// UTF-8 validation with the rules of Go's utf8.ValidString (what statsd_exporter checks
// lines with): no stray continuation bytes, no truncated or overlong sequences, no surrogates,
// nothing above U+10FFFF. Pure; thread-safe.
#ifndef METRICSGATE_BASE_UTF8_H_
#define METRICSGATE_BASE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace metricsgate {

// Length of the valid UTF-8 sequence that starts at text[i] (a byte >= 0x80), or 0 if invalid.
size_t Utf8SequenceLength(std::string_view text, size_t i);

// True if `text` is valid UTF-8. ASCII runs are checked eight bytes at a time.
bool IsValidUtf8(std::string_view text);

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_UTF8_H_
