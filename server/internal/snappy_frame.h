// Decodes the snappy framing format
// (https://github.com/google/snappy/blob/main/framing_format.txt), what Go's snappy.NewReader reads
// and Pushgateway takes as `Content-Encoding: snappy`: a stream identifier chunk, then compressed
// (0x00) and uncompressed (0x01) data chunks, each with the masked CRC-32C of its data, which is
// checked; padding and skippable chunks (0x80-0xfe) are skipped, reserved unskippable ones
// (0x02-0x7f) are errors. Pure.
#ifndef METRICSGATE_SERVER_INTERNAL_SNAPPY_FRAME_H_
#define METRICSGATE_SERVER_INTERNAL_SNAPPY_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server::internal {

// kInvalidArgument for a corrupt stream, kResourceExhausted past `max_size` bytes.
absl::StatusOr<std::string> SnappyFrameDecode(std::string_view framed, size_t max_size);

// The snappy framing format's masked CRC-32C of `data` (exposed for tests).
uint32_t SnappyMaskedCrc(std::string_view data);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_SNAPPY_FRAME_H_
