#include "server/statsd_datagram_listener.h"

#include <linux/sock_diag.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/generic/datagram_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/status_macros.h"
#include "base/str_cat.h"
#include "server/internal/endpoint.h"
#include "server/internal/task.h"

namespace metricsgate::server {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr size_t kBatch = 32;              // messages per recvmmsg call
constexpr size_t kBufferSize = 64 * 1024;  // the largest UDP payload fits
// The buffers start this far apart: a 64 KiB stride would put the start of every datagram in
// the same cache sets, so a batch's datagrams would evict each other between the kernel's copy
// and the parse. 17 cache lines more (17 is odd) spreads them over all the sets.
constexpr size_t kBufferStride = kBufferSize + 17 * 64;
constexpr int kMaxBatchesPerWakeup = 64;  // then let other work on this thread run
// While datagrams keep coming, a receive loop pauses between drains instead of waking for
// every datagram, so each wakeup takes a batch: a wakeup and its system calls cost several
// microseconds here, so fewer, larger batches cost less CPU per metric (BENCHMARKS.md). The
// pause is as long as what arrives meanwhile may take in the socket buffer (see Pacer), within
// these bounds; an idle socket is waited on in poll(2) instead.
constexpr auto kMinPause = std::chrono::microseconds(50);
constexpr auto kMaxPause = std::chrono::microseconds(1000);

// net.core.rmem_max: the largest SO_RCVBUF an unprivileged process may set.
int KernelMaxReadBuffer() {
  std::ifstream in("/proc/sys/net/core/rmem_max");
  int value = 0;
  if (in >> value && value > 0) return value;
  return 4 * 1024 * 1024;
}

// The datagrams the kernel dropped on socket `fd` since it was opened (its receive buffer was
// full), or -1 with errno. Read when metrics are collected, not per datagram as SO_RXQ_OVFL
// would: that control message cost the receive path a few percent of its CPU (BENCHMARKS.md).
int64_t KernelDrops(int fd) {
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t length = sizeof(info);
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &length) != 0) return -1;
  if (length <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    errno = EINVAL;
    return -1;
  }
  return info[SK_MEMINFO_DROPS];
}

// Sets SO_RCVBUF to `requested` (0: the kernel's maximum) and returns what the kernel granted.
int SetReadBuffer(int fd, int requested) {
  const int size = requested > 0 ? requested : KernelMaxReadBuffer();
  // SO_RCVBUFFORCE passes rmem_max where the process may (CAP_NET_ADMIN); else SO_RCVBUF.
  if (requested <= 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  int granted = 0;
  socklen_t length = sizeof(granted);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length);
  return granted;
}

}  // namespace

// What a drain received.
struct Received {
  size_t datagrams = 0;
  size_t bytes = 0;
  Received& operator+=(const Received& other) {
    datagrams += other.datagrams;
    bytes += other.bytes;
    return *this;
  }
};

struct StatsdDatagramListener::State {
  State(ingest::StatsdIngester* i, ingest::StatsdTransport t) : ingester(i), transport(t) {
    buffers.reset(new char[kBatch * kBufferStride]);
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (size_t i = 0; i < kBatch; ++i) {
      iovecs[i] = {buffers.get() + i * kBufferStride, kBufferSize};
      messages[i].msg_hdr.msg_iov = &iovecs[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
  }

  // Receives until the socket is empty, or for `max_batches` batches; returns how many
  // datagrams it received (a multiple of kBatch only when there may be more) and their bytes.
  Received Drain(int max_batches);

  // The socket, taken out of Asio (which would otherwise wake its reactor for every datagram).
  int fd = -1;
  ingest::StatsdIngester* const ingester;
  const ingest::StatsdTransport transport;
  std::string local_address;
  std::string unix_path;  // to remove at the end, for a unix socket
  uint16_t port = 0;      // UDP
  int granted_read_buffer = 0;

  // Touched only by the receive loop, on the strand.
  std::unique_ptr<char[]> buffers;
  iovec iovecs[kBatch];
  mmsghdr messages[kBatch] = {};
  std::string_view datagrams[kBatch];  // the batch's complete datagrams, handled together

  std::atomic<uint64_t> truncated{0};

  // The receive thread, and the eventfd that wakes it to stop.
  std::thread thread;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  log::RateLimiter error_log{1};
  // Set while a thread drains the socket (see DrainIfFree).
  std::atomic<bool> draining{false};
  // Set while the socket's helper thread drains it instead of the lead (see Lead).
  std::atomic<bool> helping{false};
  std::atomic<uint64_t> helper_turns{0};
  // The share of the time its thread was busy lately (DutyCycle::average(); the lead's, or a
  // working helper's; 0 for a helper asleep).
  std::atomic<double> busy{0};
};

Received StatsdDatagramListener::State::Drain(int max_batches) {
  Received total;
  for (int batch = 0; batch < max_batches; ++batch) {
    const int received = recvmmsg(fd, messages, kBatch, MSG_DONTWAIT, nullptr);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && error_log.Allow()) {
        log::Warn("StatsD receive failed", {{"address", local_address}, {"err", strerror(errno)}});
      }
      return total;
    }
    total.datagrams += static_cast<size_t>(received);
    // Only the messages received: the rest of the batch holds stale data (brubeck#56).
    size_t packets = 0;
    for (int i = 0; i < received; ++i) {
      if (messages[i].msg_hdr.msg_flags & MSG_TRUNC) {  // set by the kernel for each message
        truncated.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      datagrams[packets++] =
          std::string_view(buffers.get() + i * kBufferStride, messages[i].msg_len);
      total.bytes += messages[i].msg_len;
    }
    if (packets > 0) ingester->HandlePackets({datagrams, packets}, transport);
    if (static_cast<size_t>(received) < kBatch) return total;  // the socket is empty
  }
  return total;
}

namespace {

// How busy a receive thread is: the share of each 10 ms window that the thread spent on a CPU
// (user and system time), and an average over the last windows (each weighs a quarter, so about
// the last 40 ms count). Wall time alone cannot tell, when other processes share the cores and
// pauses last longer than asked.
class DutyCycle {
 public:
  static constexpr auto kWindow = std::chrono::milliseconds(10);

  DutyCycle() { Restart(std::chrono::steady_clock::now()); }

  // True when a window has just ended; busy() and average() then tell of it.
  bool WindowEnded() {
    const auto wall = std::chrono::steady_clock::now();
    if (wall - wall_ < kWindow) return false;
    busy_ = std::chrono::duration<double>(ThreadCpu() - cpu_).count() /
            std::chrono::duration<double>(wall - wall_).count();
    average_ += (busy_ - average_) / 4;
    Restart(wall);
    return true;
  }
  double busy() const { return busy_; }
  double average() const { return average_; }

 private:
  static std::chrono::nanoseconds ThreadCpu() {
    timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
  }
  void Restart(std::chrono::steady_clock::time_point wall) {
    wall_ = wall;
    cpu_ = ThreadCpu();
  }

  std::chrono::steady_clock::time_point wall_;
  std::chrono::nanoseconds cpu_{0};
  double busy_ = 0;
  double average_ = 0;
};

// How long a receive thread pauses after a drain while datagrams keep coming: as long as the
// datagrams arriving meanwhile, at the rate of the last drain's, take at most an eighth of the
// socket's receive buffer, within [kMinPause, kMaxPause]. So a large buffer (rmem_max raised)
// gives few large batches, and a small one (Linux's default 208 KiB) short pauses that cannot
// let it fill.
class Pacer {
 public:
  // `read_buffer`: SO_RCVBUF as granted, which is what the kernel charges datagrams against.
  explicit Pacer(int read_buffer) : budget_(std::max(read_buffer, 1) / 8.0) {}

  // After a drain that received `received` since the previous drain began.
  std::chrono::nanoseconds Pause(const Received& received) {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    if (received.datagrams == 0 || seconds <= 0) return kMinPause;
    // The kernel charges each datagram its payload and its bookkeeping (the skb's truesize):
    // 1,280 bytes for a 340-byte datagram on loopback here, 832 for 20 bytes, 2,304 for 1,400.
    // Twice the payload and 1 KiB more is above all of these.
    const double charged = 2.0 * static_cast<double>(received.bytes) +
                           1024.0 * static_cast<double>(received.datagrams);
    const auto pause = std::chrono::duration<double>(budget_ * seconds / charged);
    return std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(pause),
                      std::chrono::nanoseconds(kMinPause), std::chrono::nanoseconds(kMaxPause));
  }
  // After an idle wait: the next drain's rate counts from now.
  void Restart() { last_ = std::chrono::steady_clock::now(); }

 private:
  const double budget_;  // bytes of the buffer that a pause may fill
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Drains `state` unless another thread is draining it; returns what it received. The flag
// makes draining a socket exclusive, so its datagrams are handled in the order received
// whichever thread drains it.
Received DrainIfFree(StatsdDatagramListener::State& state, int max_batches) {
  if (state.draining.exchange(true, std::memory_order_acquire)) return {};
  const Received received = state.Drain(max_batches);
  state.draining.store(false, std::memory_order_release);
  return received;
}

void WaitReadable(std::vector<pollfd>& fds, int timeout_ms, StatsdDatagramListener::State& state) {
  if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR && state.error_log.Allow()) {
    log::Warn("StatsD socket poll failed",
              {{"address", state.local_address}, {"err", strerror(errno)}});
  }
}

void ClearWake(int wake_fd) {
  uint64_t count;
  [[maybe_unused]] const ssize_t ignored = read(wake_fd, &count, sizeof(count));
}

using States = std::vector<std::shared_ptr<StatsdDatagramListener::State>>;

// The busy shares of the lead and the helpers at work, summed: the load of the listener in
// receive threads.
double TotalBusy(const States& states) {
  double total = 0;
  for (const auto& state : states) total += state->busy.load(std::memory_order_relaxed);
  return total;
}

// The lead receive thread (the first socket's): drains every socket no helper holds, pauses
// while datagrams keep coming, and sleeps in poll(2) while they are all idle. When it was busy
// more than `threads.wake_helper_busy` of the time lately, or saturated, it wakes a helper.
void Lead(const States& states, const StatsdReceiveThreads& threads) {
  StatsdDatagramListener::State& lead = *states.front();
  std::vector<pollfd> fds(states.size() + 1);
  std::vector<char> more(states.size());  // per socket: may hold more datagrams
  DutyCycle duty;
  // All the lead's sockets' traffic could go to one of them: pace by the smallest buffer.
  int smallest_buffer = lead.granted_read_buffer;
  for (const auto& state : states) {
    smallest_buffer = std::min(smallest_buffer, state->granted_read_buffer);
  }
  Pacer pacer(smallest_buffer);
  while (!lead.stopping.load(std::memory_order_acquire)) {
    // A batch from each socket in turn, while any may hold more: no socket waits for another
    // to be emptied, which a small receive buffer (net.core.rmem_max) could not hold out for.
    // A socket that gave less than a full batch is empty for this wakeup.
    Received received;
    bool helped = false;
    std::fill(more.begin(), more.end(), true);
    for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
      bool any = false;
      for (size_t i = 0; i < states.size(); ++i) {
        if (!more[i]) continue;
        if (states[i]->helping.load(std::memory_order_acquire)) {
          helped = true;
          more[i] = false;
          continue;
        }
        const Received batch = DrainIfFree(*states[i], 1);
        received += batch;
        more[i] = batch.datagrams == kBatch;
        any = any || more[i];
      }
      if (!any) break;
    }
    if (duty.WindowEnded()) {
      lead.busy.store(duty.average(), std::memory_order_relaxed);
      if (duty.average() > threads.wake_helper_busy || duty.busy() > threads.saturated_busy) {
        for (size_t i = 1; i < states.size(); ++i) {
          StatsdDatagramListener::State& helper = *states[i];
          if (helper.helping.load(std::memory_order_acquire)) continue;
          helper.helping.store(true, std::memory_order_release);
          const uint64_t one = 1;
          [[maybe_unused]] const ssize_t ignored = write(helper.wake_fd, &one, sizeof(one));
          break;
        }
      }
    }
    if (received.datagrams > 0) {
      std::this_thread::sleep_for(pacer.Pause(received));
      continue;
    }
    // Idle: wait for a datagram on a socket no helper holds, or for a helper handing its
    // socket back (or Stop()), both on the lead's eventfd. Negative fds are skipped. While
    // helpers work, wake up every window to keep the lead's busy share current for them.
    for (size_t i = 0; i < states.size(); ++i) {
      fds[i] = {states[i]->helping.load(std::memory_order_acquire) ? -1 : states[i]->fd, POLLIN, 0};
    }
    fds.back() = {lead.wake_fd, POLLIN, 0};
    WaitReadable(fds, helped ? static_cast<int>(DutyCycle::kWindow.count()) : -1, lead);
    if (fds.back().revents & POLLIN) ClearWake(lead.wake_fd);
    pacer.Restart();
  }
}

// A helper receive thread: asleep until the lead wakes it (helping set), then drains its own
// socket as the lead does, until the lead and the helpers at work are busy less than
// `threads.quiet_busy` of the time all together (so the lead alone can take the load back
// without waking a helper again at once); then it hands the socket back.
void Help(StatsdDatagramListener::State& state, const States& states,
          const StatsdReceiveThreads& threads) {
  StatsdDatagramListener::State& lead = *states.front();
  std::vector<pollfd> fds = {{state.wake_fd, POLLIN, 0}};
  std::vector<pollfd> idle = {{state.fd, POLLIN, 0}, {state.wake_fd, POLLIN, 0}};
  while (!state.stopping.load(std::memory_order_acquire)) {
    WaitReadable(fds, -1, state);
    ClearWake(state.wake_fd);
    if (!state.helping.load(std::memory_order_acquire)) continue;  // woken by Stop()
    state.helper_turns.fetch_add(1, std::memory_order_relaxed);
    DutyCycle duty;
    Pacer pacer(state.granted_read_buffer);
    for (;;) {
      if (state.stopping.load(std::memory_order_acquire)) return;
      const Received received = DrainIfFree(state, kMaxBatchesPerWakeup);
      if (duty.WindowEnded()) {
        state.busy.store(duty.average(), std::memory_order_relaxed);
        if (TotalBusy(states) < threads.quiet_busy) break;
      }
      if (received.datagrams > 0) {
        std::this_thread::sleep_for(pacer.Pause(received));
      } else {
        WaitReadable(idle, 1, state);
        pacer.Restart();
      }
    }
    state.busy.store(0, std::memory_order_relaxed);
    state.helping.store(false, std::memory_order_release);
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = write(lead.wake_fd, &one, sizeof(one));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatsdDatagramListener>> StatsdDatagramListener::CreateUdp(
    asio::io_context& ioc, std::string_view address, int sockets, int read_buffer,
    ingest::StatsdIngester* ingester, StatsdReceiveThreads threads) {
  MG_ASSIGN_OR_RETURN(ListenAddress parsed, ParseListenAddress(address));
  std::vector<std::shared_ptr<State>> states;
  for (int i = 0; i < std::max(1, sockets); ++i) {
    udp::socket bound(ioc);
    // The first socket resolves the address (and a port 0); the others take its exact port.
    ListenAddress where = parsed;
    if (!states.empty()) where.port = states.front()->port;
    MG_RETURN_IF_ERROR(internal::OpenAndBind(bound, where, address, "statsd.listen-udp",
                                             /*reuse_port=*/sockets > 1));
    const udp::endpoint local = bound.local_endpoint();
    auto state = std::make_shared<State>(ingester, ingest::StatsdTransport::kUdp);
    state->local_address = internal::EndpointToString(local);
    state->port = local.port();
    const int fd = bound.native_handle();
    if (KernelDrops(fd) < 0) {
      return absl::UnavailableError(
          StrCat("cannot count kernel drops on \"", address, "\": SO_MEMINFO: ", strerror(errno)));
    }
    state->granted_read_buffer = SetReadBuffer(fd, read_buffer);
    state->fd = bound.release();
    states.push_back(std::move(state));
  }
  return std::unique_ptr<StatsdDatagramListener>(
      new StatsdDatagramListener(std::move(states), threads));
}

absl::StatusOr<std::unique_ptr<StatsdDatagramListener>> StatsdDatagramListener::CreateUnixgram(
    asio::io_context& ioc, std::string_view path, unsigned mode, int read_buffer,
    ingest::StatsdIngester* ingester) {
  const std::string file(path);
  const auto fail = [&](std::string_view what, int err) {
    return absl::UnavailableError(StrCat(
        "cannot listen on \"", path, "\" (--statsd.listen-unixgram): ", what, ": ", strerror(err)));
  };
  struct stat info;
  if (lstat(file.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return absl::FailedPreconditionError(
          StrCat("cannot listen on \"", path,
                 "\" (--statsd.listen-unixgram): the file exists and is not a socket"));
    }
    if (unlink(file.c_str()) != 0) return fail("remove stale socket", errno);
  }
  asio::local::datagram_protocol::socket bound(ioc);
  boost::system::error_code ec;
  bound.open(asio::local::datagram_protocol(), ec);
  if (ec) return fail("socket", ec.value());
  bound.bind(asio::local::datagram_protocol::endpoint(file), ec);
  if (ec) return fail("bind", ec.value());
  if (chmod(file.c_str(), mode) != 0) return fail("chmod", errno);
  auto state = std::make_shared<State>(ingester, ingest::StatsdTransport::kUnixgram);
  state->local_address = file;
  state->unix_path = file;
  state->granted_read_buffer = SetReadBuffer(bound.native_handle(), read_buffer);
  state->fd = bound.release();
  return std::unique_ptr<StatsdDatagramListener>(
      new StatsdDatagramListener(std::vector<std::shared_ptr<State>>{std::move(state)}, {}));
}

StatsdDatagramListener::~StatsdDatagramListener() {
  Stop();
  for (const std::shared_ptr<State>& state : states_) {
    close(state->wake_fd);
    close(state->fd);
  }
  if (!states_.front()->unix_path.empty()) unlink(states_.front()->unix_path.c_str());
}

void StatsdDatagramListener::Start() {
  states_.front()->thread = std::thread([this] { Lead(states_, threads_); });
  for (size_t i = 1; i < states_.size(); ++i) {
    State* state = states_[i].get();
    state->thread = std::thread([this, state] { Help(*state, states_, threads_); });
  }
}

void StatsdDatagramListener::Stop() {
  for (const std::shared_ptr<State>& state : states_) {
    state->stopping.store(true, std::memory_order_release);
    const uint64_t one = 1;
    if (write(state->wake_fd, &one, sizeof(one)) < 0) {
      log::Warn("cannot wake a StatsD receive thread", {{"err", strerror(errno)}});
    }
  }
  for (const std::shared_ptr<State>& state : states_) {
    if (state->thread.joinable()) state->thread.join();
  }
}

uint64_t StatsdDatagramListener::helper_turns() const {
  uint64_t turns = 0;
  for (const std::shared_ptr<State>& state : states_) {
    turns += state->helper_turns.load(std::memory_order_relaxed);
  }
  return turns;
}

const std::string& StatsdDatagramListener::local_address() const {
  return states_.front()->local_address;
}

int StatsdDatagramListener::granted_read_buffer() const {
  return states_.front()->granted_read_buffer;
}

void StatsdDatagramListener::Collect(std::vector<storage::MetricFamily>* out) const {
  double truncated = 0;
  double drops = 0;
  for (const std::shared_ptr<State>& state : states_) {
    truncated += static_cast<double>(state->truncated.load(std::memory_order_relaxed));
    // The fd stays open until the listener is destroyed, so this may run beside Stop().
    if (state->transport == ingest::StatsdTransport::kUdp) {
      drops += static_cast<double>(std::max<int64_t>(0, KernelDrops(state->fd)));
    }
  }
  const std::vector<storage::Label> labels = {{"address", local_address()}};
  out->push_back(storage::MetricFamily{
      "metricsgate_statsd_datagrams_truncated_total",
      "StatsD datagrams dropped because they were larger than the 64 KiB receive buffer.",
      storage::MetricType::kCounter,
      {{labels, truncated}}});
  if (states_.front()->transport != ingest::StatsdTransport::kUdp) return;
  out->push_back(storage::MetricFamily{
      "metricsgate_statsd_udp_kernel_drops_total",
      "UDP datagrams the kernel dropped because a socket's receive buffer was full "
      "(SO_MEMINFO).",
      storage::MetricType::kCounter,
      {{labels, drops}}});
}

}  // namespace metricsgate::server
