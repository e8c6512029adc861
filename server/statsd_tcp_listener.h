// StatsdTcpListener receives StatsD lines over TCP and hands complete lines to the
// StatsdIngester.
//
// Each connection is a coroutine on its own strand reading into a 64 KiB buffer: the complete
// lines of each read go to the ingester together, a partial line waits for the rest, and the
// last line before the client closes counts even without its newline. A line longer than the
// buffer is dropped whole and counted (metricsgate_statsd_tcp_too_long_lines_total); the
// connection goes on. A connection that sends nothing for the idle timeout is closed.
//
// Thread safety: Create() and Start() on the owning thread; Stop() and Collect() from any
// thread.
#ifndef METRICSGATE_SERVER_STATSD_TCP_LISTENER_H_
#define METRICSGATE_SERVER_STATSD_TCP_LISTENER_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/statsd_ingester.h"
#include "storage/metric_family.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace metricsgate::server {

class StatsdTcpListener {
 public:
  // The longest line taken; longer ones are dropped and counted.
  static constexpr size_t kMaxLineLength = 64 * 1024;

  // Binds and listens on `address` (text of --statsd.listen-tcp) at once. Accepts on `ioc`;
  // connections go to `connection_contexts` in turn, or all to `ioc` when it is empty.
  // `ingester` and the contexts must outlive the listener's connections.
  static absl::StatusOr<std::unique_ptr<StatsdTcpListener>> Create(
      boost::asio::io_context& ioc, std::string_view address,
      std::chrono::milliseconds idle_timeout, ingest::StatsdIngester* ingester,
      std::vector<boost::asio::io_context*> connection_contexts = {});
  ~StatsdTcpListener();

  void Start();

  // Stops accepting and closes every connection; lines already read are kept.
  void Stop();

  const std::string& local_address() const;

  // Appends metricsgate_statsd_tcp_connections and metricsgate_statsd_tcp_too_long_lines_total.
  void Collect(std::vector<storage::MetricFamily>* out) const;

  struct State;

 private:
  explicit StatsdTcpListener(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_STATSD_TCP_LISTENER_H_
