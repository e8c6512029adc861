// Minimal JSON writing for the HTTP API's answers. Pure; safe from any thread.
#ifndef METRICSGATE_BASE_JSON_H_
#define METRICSGATE_BASE_JSON_H_

#include <string>
#include <string_view>

namespace metricsgate {

// Appends `text` as a quoted JSON string: `"` and `\` escaped, control characters as \uXXXX,
// and every byte that is not part of valid UTF-8 replaced by U+FFFD, so the result is always
// valid JSON whatever a client sent.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_JSON_H_
