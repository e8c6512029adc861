// gzip decoding for request bodies (`Content-Encoding: gzip`), bounded so that a small body
// cannot expand without limit. Pure; safe from any thread.
#ifndef METRICSGATE_SERVER_INTERNAL_GZIP_H_
#define METRICSGATE_SERVER_INTERNAL_GZIP_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server::internal {

// Decodes one gzip stream (or several concatenated, as gzip(1) allows). Returns
// kInvalidArgument for a corrupt or truncated stream and kResourceExhausted when the result
// would exceed `max_size` bytes.
absl::StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_size);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_GZIP_H_
