// StatsdDatagramListener receives StatsD datagrams on a UDP socket or a unix datagram socket
// and hands each one to the StatsdIngester.
//
// A UDP listener may have several sockets on one address (SO_REUSEPORT), among which the kernel
// spreads senders, and as many receive threads, outside Asio (whose reactor would wake for
// every datagram). Each drains a socket with recvmmsg(2) in batches, walking only the
// messages received, and hands the batch to the ingester in one call; while datagrams keep
// coming it pauses between drains so each wakeup takes a batch (as long as the receive buffer
// can hold what arrives meanwhile, 50 us to 1 ms), and it waits in poll(2) while idle. The first
// thread leads: it drains every socket itself while it can, because two threads on half the load
// each cost far more CPU per metric than one on all of it (wakeups, and cache lines of shared
// series moving between cores; BENCHMARKS.md). When the lead is busy over 60% of the time it wakes
// a helper, which takes over its own socket until the lead and the helpers together are busy less
// than half the time. One thread at a time drains a socket, so one sender's datagrams are handled
// in order. Datagrams are never truncated (64 KiB buffers). The socket's receive buffer is as large
// as the kernel allows (net.core.rmem_max) unless
// --statsd.read-buffer says otherwise, and for UDP the kernel's own drop count of each socket
// (SO_MEMINFO) is read whenever metrics are collected and exported as
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

// When the receive threads of several sockets step in (see above): the shares of the time a
// thread is busy, measured in 10 ms windows. Tests change them to force helpers in or out.
struct StatsdReceiveThreads {
  // The lead wakes a helper when busy more than this lately (an average over about 40 ms)...
  double wake_helper_busy = 0.6;
  // ...or more than this in one window: saturated, it must not wait, as a socket's buffer fills
  // within tens of milliseconds at full load.
  double saturated_busy = 0.9;
  // A helper hands its socket back when the lead and the helpers at work are busy less than
  // this all together: below the lead's threshold, as two threads on one load cost more than
  // one (the lead alone then carries it at about 0.4).
  double quiet_busy = 0.5;
};

class StatsdDatagramListener {
 public:
  // Binds `sockets` sockets (at least 1) to `address` (text of --statsd.listen-udp) at once, so
  // a port in use is reported before anything starts. `read_buffer` is SO_RCVBUF in bytes, 0
  // for the kernel's maximum. `ingester` and `ioc` must outlive the listener's receive loops.
  static absl::StatusOr<std::unique_ptr<StatsdDatagramListener>> CreateUdp(
      boost::asio::io_context& ioc, std::string_view address, int sockets, int read_buffer,
      ingest::StatsdIngester* ingester, StatsdReceiveThreads threads = {});

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
  // How many times a helper thread took a socket over from the lead.
  uint64_t helper_turns() const;

  // Appends metricsgate_statsd_datagrams_truncated_total{address}, and for a UDP listener
  // metricsgate_statsd_udp_kernel_drops_total{address}, summed over its sockets.
  void Collect(std::vector<storage::MetricFamily>* out) const;

  struct State;

 private:
  StatsdDatagramListener(std::vector<std::shared_ptr<State>> states, StatsdReceiveThreads threads)
      : states_(std::move(states)), threads_(threads) {}
  std::vector<std::shared_ptr<State>> states_;  // one per socket; never empty
  const StatsdReceiveThreads threads_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_STATSD_DATAGRAM_LISTENER_H_
