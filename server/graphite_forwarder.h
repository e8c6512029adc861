// GraphiteForwarder sends each flush's rollups to carbon: plaintext or pickle over persistent
// TCP connections, to one or several destinations chosen per metric by carbon-relay's
// consistent hashing (export/carbon_ring.h), or to all of them.
//
// Each destination has a bounded queue of encoded pieces (at most 1 MiB each) and one sender
// on the io_context. The sender keeps one connection open, watches it for the peer closing it,
// and reconnects with exponential backoff (0.2 s doubling to 5 s). While a destination is
// down its pieces wait, in order; past `queue_points` the oldest pieces are dropped and
// counted, or with a spool directory moved to a file on disk (read back first, in order, and
// kept across restarts) until that is full too. A piece leaves the queue only once written whole.
// Carbon acknowledges nothing, and a carbon that stops drops what it had not yet read from its
// socket: so when a connection breaks, the pieces written on it in the last 5 s are queued again,
// in order, before the rest (at-least-once; carbon keeps the last value of a point, so a repeated
// point changes nothing).
//
// Thread safety: Send() and Collect() are safe from any thread (the queues take a mutex, held
// only to append or take a piece); the senders run on the io_context given to Create().
#ifndef METRICSGATE_SERVER_GRAPHITE_FORWARDER_H_
#define METRICSGATE_SERVER_GRAPHITE_FORWARDER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "export/graphite_rollup.h"
#include "storage/metric_family.h"

namespace boost::asio {
class io_context;
}

namespace metricsgate::server {

struct GraphiteDestination {
  std::string host;
  uint16_t port = 2003;
  std::optional<std::string> instance;
  std::string ToString() const;  // as given: host:port[:instance]
};

// Parses carbon's destination form `host:port[:instance]` (`[v6]:port[:instance]`).
absl::StatusOr<GraphiteDestination> ParseGraphiteDestination(std::string_view text);

struct GraphiteForwarderOptions {
  enum class Protocol { kPlaintext, kPickle };
  enum class Routing { kCarbonCh, kFnv1aCh, kAll };
  std::vector<GraphiteDestination> destinations;
  Protocol protocol = Protocol::kPlaintext;
  Routing routing = Routing::kCarbonCh;
  size_t replication_factor = 1;
  bool diverse_replicas = false;
  // Per destination: one hour of 10 s flushes of 100,000 points.
  size_t queue_points = 36'000'000;
  // When set, pieces beyond queue_points go to a spool file per destination in this directory
  // (server/internal/spool.h), at most spool_bytes each, instead of being dropped; so do those
  // still queued when a drain ends. The next run sends what it finds there.
  std::string spool_dir;
  uint64_t spool_bytes = uint64_t{1} << 30;
};

class GraphiteForwarder {
 public:
  // REQUIRES: at least one destination.
  static absl::StatusOr<std::unique_ptr<GraphiteForwarder>> Create(
      boost::asio::io_context& ioc, GraphiteForwarderOptions options);
  ~GraphiteForwarder();

  // Starts the senders.
  void Start();
  // Routes and encodes `batch` for its destinations; Commit() queues what was encoded since
  // the last Commit() as one flush. Both from one thread at a time (the flush thread).
  void Encode(const exporter::GraphiteBatch& batch);
  void Commit();
  // Encode() and Commit().
  void Send(const exporter::GraphiteBatch& batch) {
    Encode(batch);
    Commit();
  }
  // Stops once every queue is empty or `grace` has passed, then calls `done` (on the
  // io_context). Pieces still queued then are counted as dropped.
  void Drain(std::chrono::milliseconds grace, std::function<void()> done);

  // The bytes of the last flush and when it was last sent whole, for Etsy's graphiteStats.
  size_t last_flush_bytes() const;

  // metricsgate_graphite_* : points sent, dropped and queued, and connection failures, per
  // destination.
  void Collect(std::vector<storage::MetricFamily>* out) const;

  struct Destination;  // private to graphite_forwarder.cc
  struct State;

 private:
  GraphiteForwarder() = default;
  std::shared_ptr<State> state_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_GRAPHITE_FORWARDER_H_
