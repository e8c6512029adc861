// StatsdUdpListener receives StatsD datagrams on one UDP socket and hands each one to the
// StatsdIngester.
//
// One receive loop runs as a coroutine on the socket's strand, so the ingester sees one
// datagram at a time from this listener. (Several SO_REUSEPORT sockets with recvmmsg are
// issue #4.) Thread safety: Create() and Start() on the owning thread; Stop() from any thread.
#ifndef METRICSGATE_SERVER_STATSD_UDP_LISTENER_H_
#define METRICSGATE_SERVER_STATSD_UDP_LISTENER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ingest/statsd_ingester.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace metricsgate::server {

class StatsdUdpListener {
 public:
  // Binds to `address` (text of --statsd.listen-udp) right away, so a port in use is reported
  // before anything starts. `ingester` and `ioc` must outlive the listener's receive loop.
  static absl::StatusOr<std::unique_ptr<StatsdUdpListener>> Create(
      boost::asio::io_context& ioc, std::string_view address, ingest::StatsdIngester* ingester);
  ~StatsdUdpListener();

  void Start();

  // Closes the socket; the receive loop ends after the datagram it may be handling.
  void Stop();

  // The bound address, e.g. "127.0.0.1:8125".
  const std::string& local_address() const { return local_address_; }

  struct State;

 private:
  StatsdUdpListener(std::shared_ptr<State> state, std::string local_address)
      : state_(std::move(state)), local_address_(std::move(local_address)) {}

  std::shared_ptr<State> state_;
  std::string local_address_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_STATSD_UDP_LISTENER_H_
