// Transparent hashing for maps keyed by std::string, so they can be searched with a
// std::string_view without building a string. Debian's abseil hashes only its own
// absl::string_view transparently (ABSL_OPTION_USE_STD_STRING_VIEW is 0). Stateless.
#ifndef METRICSGATE_BASE_STRING_HASH_H_
#define METRICSGATE_BASE_STRING_HASH_H_

#include <cstddef>
#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace metricsgate {

struct StringViewHash {
  using is_transparent = void;
  // abseil's hash: faster than libstdc++'s on short keys, and well mixed in every bit (the
  // store picks shards from the top bits).
  size_t operator()(std::string_view text) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(text.data(), text.size()));
  }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_STRING_HASH_H_
