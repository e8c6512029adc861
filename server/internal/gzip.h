// gzip decoding for request bodies (`Content-Encoding: gzip`), bounded so that a small body
// cannot expand without limit, and encoding for scrape bodies, piece by piece. Gunzip is pure
// and safe from any thread; a GzipWriter belongs to one thread.
#ifndef METRICSGATE_SERVER_INTERNAL_GZIP_H_
#define METRICSGATE_SERVER_INTERNAL_GZIP_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server::internal {

// Decodes one gzip stream (or several concatenated, as gzip(1) allows). Returns
// kInvalidArgument for a corrupt or truncated stream and kResourceExhausted when the result
// would exceed `max_size` bytes.
absl::StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_size);

// Compresses one body as a single gzip stream, fed in pieces, with ISA-L's igzip at level 1:
// a scrape's text repeats itself so much that higher levels gain little and cost several times
// the CPU, and igzip does it in half zlib's time.
class GzipWriter {
 public:
  GzipWriter();
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  // Compresses `in`, appending what igzip emits to `*out` (possibly nothing until enough input
  // has come); `finish` ends the stream and flushes the rest. REQUIRES: not called after a call
  // with `finish`.
  void Write(std::string_view in, bool finish, std::string* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_GZIP_H_
