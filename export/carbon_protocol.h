// Carbon's two TCP protocols, as bytes: plaintext lines `name value timestamp\n` (port 2003)
// and pickle messages (port 2004): a 4-byte big-endian length, then a protocol 2 pickle of
// [(name, (timestamp, value)), ...], which carbon's safe unpickler accepts. Values are written
// as Etsy statsd writes them (JavaScript's Number#toString) in plaintext, as doubles in pickle.
// Pure functions; safe from any thread.
#ifndef METRICSGATE_EXPORT_CARBON_PROTOCOL_H_
#define METRICSGATE_EXPORT_CARBON_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metricsgate::exporter {

// carbon's PICKLE_RECEIVER_MAX_LENGTH: a larger message is refused.
inline constexpr size_t kMaxPickleMessage = 1 << 20;

void AppendPlaintextLine(std::string_view name, double value, int64_t timestamp, std::string* out);

// Builds one pickle message point by point. Add() says false, and adds nothing, when the point
// would take the message past `max_bytes`: Finish() it and start another.
class PickleMessage {
 public:
  // Builds in `buffer` (its capacity is reused).
  explicit PickleMessage(size_t max_bytes = kMaxPickleMessage, std::string buffer = {});
  bool Add(std::string_view name, double value, int64_t timestamp);
  size_t points() const { return points_; }
  // The message's bytes, length prefix included; the builder is empty again after, and builds
  // the next message in `next` (cleared; its capacity is reused).
  std::string Finish(std::string next = {});

 private:
  void Start();
  size_t max_bytes_;
  std::string bytes_;
  size_t points_ = 0;
};

// Encodes a flush's points for one destination into pieces of about 1 MiB (whole lines, or
// whole pickle messages under carbon's limit), in buffers recycled from earlier pieces: a
// flush then writes into memory it already has, instead of faulting in a fresh 100 MB or so
// every interval. Add() and Finish() from one thread at a time; Recycle() from any thread.
class CarbonEncoder {
 public:
  static constexpr size_t kPieceBytes = 1 << 20;
  struct Piece {
    std::string bytes;
    size_t points = 0;
  };

  explicit CarbonEncoder(bool pickle) : pickle_(pickle) {}

  void Add(std::string_view name, double value, int64_t timestamp);
  // Completes the piece in progress and hands over every completed piece.
  std::vector<Piece> Finish();
  // Gives a piece's buffer back for a later one. At most `kMaxSpare` are kept.
  void Recycle(std::string buffer);

  static constexpr size_t kMaxSpare = 512;

 private:
  std::string Buffer();
  void Complete();

  const bool pickle_;
  std::string text_;
  size_t text_points_ = 0;
  std::optional<PickleMessage> message_;
  std::vector<Piece> done_;
  std::mutex spare_mu_;
  std::vector<std::string> spare_;  // guarded by spare_mu_
};

}  // namespace metricsgate::exporter

#endif  // METRICSGATE_EXPORT_CARBON_PROTOCOL_H_
