// Transparent hashing for maps keyed by std::string, so they can be searched with a
// std::string_view without building a string. Debian's abseil hashes only its own
// absl::string_view transparently (ABSL_OPTION_USE_STD_STRING_VIEW is 0). Stateless.
#ifndef METRICSGATE_BASE_STRING_HASH_H_
#define METRICSGATE_BASE_STRING_HASH_H_

#include <cstddef>
#include <functional>
#include <string_view>

namespace metricsgate {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_STRING_HASH_H_
