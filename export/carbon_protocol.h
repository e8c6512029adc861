// Carbon's two TCP protocols, as bytes: plaintext lines `name value timestamp\n` (port 2003)
// and pickle messages (port 2004): a 4-byte big-endian length, then a protocol 2 pickle of
// [(name, (timestamp, value)), ...], which carbon's safe unpickler accepts. Values are written
// as Etsy statsd writes them (JavaScript's Number#toString) in plaintext, as doubles in pickle.
// Pure functions; safe from any thread.
#ifndef METRICSGATE_EXPORT_CARBON_PROTOCOL_H_
#define METRICSGATE_EXPORT_CARBON_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace metricsgate::exporter {

// carbon's PICKLE_RECEIVER_MAX_LENGTH: a larger message is refused.
inline constexpr size_t kMaxPickleMessage = 1 << 20;

void AppendPlaintextLine(std::string_view name, double value, int64_t timestamp, std::string* out);

// Builds one pickle message point by point. Add() says false, and adds nothing, when the point
// would take the message past `max_bytes`: Finish() it and start another.
class PickleMessage {
 public:
  explicit PickleMessage(size_t max_bytes = kMaxPickleMessage);
  bool Add(std::string_view name, double value, int64_t timestamp);
  size_t points() const { return points_; }
  // The message's bytes, length prefix included; the builder is empty again after.
  std::string Finish();

 private:
  void Start();
  size_t max_bytes_;
  std::string bytes_;
  size_t points_ = 0;
};

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_CARBON_PROTOCOL_H_
