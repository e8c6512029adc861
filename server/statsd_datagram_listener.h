// StatsdDatagramListener receives StatsD datagrams on a UDP socket or a unix datagram socket
// and hands each one to the StatsdIngester.
//
// A UDP listener may have several sockets on one address (SO_REUSEPORT), among which the kernel
// spreads senders. Each socket has its own receive thread, outside Asio (whose reactor would
// wake for every datagram): it drains the socket with recvmmsg(2) in batches, walking only the
// messages received, and while datagrams keep coming it pauses 200 us between drains so each
// wakeup takes a batch; an idle socket is waited on in poll(2).
// Datagrams are never truncated (64 KiB buffers). The socket's receive buffer is as large as
// the kernel allows (net.core.rmem_max) unless --statsd.read-buffer says otherwise, and for UDP
// the kernel's own drop count (SO_RXQ_OVFL) is read with every datagram and exported as
// metricsgate_statsd_udp_kernel_drops_total, so a lossless run can be proved.
//
// Thread safety: Create*(), Start() on the owning thread; Stop() and Collect() from any thread.
#ifndef METRICSGATE_SERVER_STATSD_DATAGRAM_LISTENER_H_
#define METRICSGATE_SERVER_STATSD_DATAGRAM_LISTENER_H_

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

class StatsdDatagramListener {
 public:
  // Binds `sockets` sockets (at least 1) to `address` (text of --statsd.listen-udp) at once, so
  // a port in use is reported before anything starts. `read_buffer` is SO_RCVBUF in bytes, 0
  // for the kernel's maximum. `ingester` and `ioc` must outlive the listener's receive loops.
  static absl::StatusOr<std::unique_ptr<StatsdDatagramListener>> CreateUdp(
      boost::asio::io_context& ioc, std::string_view address, int sockets, int read_buffer,
      ingest::StatsdIngester* ingester);

  // Binds a unix datagram socket at `path` (--statsd.listen-unixgram), replacing a stale
  // socket file there (but no other kind of file), and gives it permissions `mode`. The file
  // is removed when the listener is destroyed.
  static absl::StatusOr<std::unique_ptr<StatsdDatagramListener>> CreateUnixgram(
      boost::asio::io_context& ioc, std::string_view path, unsigned mode, int read_buffer,
      ingest::StatsdIngester* ingester);

  ~StatsdDatagramListener();

  void Start();

  // Closes the socket; the receive loop ends after the batch it may be handling.
  void Stop();

  // "127.0.0.1:8125", "[::1]:8125", or the socket path.
  const std::string& local_address() const;

  // SO_RCVBUF as the kernel reports it after our request (Linux doubles the request for its
  // own bookkeeping), per socket.
  int granted_read_buffer() const;

  // How many sockets receive on the address.
  size_t sockets() const { return states_.size(); }

  // Appends metricsgate_statsd_datagrams_truncated_total{address}, and for a UDP listener
  // metricsgate_statsd_udp_kernel_drops_total{address}, summed over its sockets.
  void Collect(std::vector<storage::MetricFamily>* out) const;

  struct State;

 private:
  explicit StatsdDatagramListener(std::vector<std::shared_ptr<State>> states)
      : states_(std::move(states)) {}
  std::vector<std::shared_ptr<State>> states_;  // one per socket; never empty
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_STATSD_DATAGRAM_LISTENER_H_
