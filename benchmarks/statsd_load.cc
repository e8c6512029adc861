// statsd_load: an end-to-end StatsD UDP load generator and loss checker.
//
// Sends StatsD packets with sendmmsg at a target rate (or flat out), bounded in count and time,
// then asks the receiver what it counted and reports the loss:
//   --check=prometheus:HOST:PORT  sums the `mgload_c*` counters of GET /metrics (metricsgate,
//                                 statsd_exporter)
//   --check=etsy:HOST:PORT        sums the `mgload.c*` counters of Etsy statsd's admin
//                                 interface (`counters` command; run it with a long flush
//                                 interval so it does not reset them)
//   --check=carbon:PORT           listens on 127.0.0.1:PORT as a Graphite plaintext receiver
//                                 and sums the `stats_counts.mgload.c*` values flushed to it
//                                 (Etsy statsd with its default 10 s flush; add --settle=11)
//   --check=drops                 counts only the kernel's receive-queue drops of the target
//                                 port (/proc/net/udp): for servers that report no counts
//                                 (Netdata); it cannot see a loss inside the server
//   --check=sink                  starts its own receiver on an ephemeral loopback port, one
//                                 SO_REUSEPORT socket per core, that only calls recvmmsg and
//                                 discards: the physical limit of the machine
// Every packet carries the same mix of lines, so counters sent measure the loss of all types.
// With --find-max it bisects for the highest rate that loses less than --max-loss, and with
// --cpu-pid it reports the receiver's CPU time (user + system, /proc/PID/stat) per metric.
//
// Output: one line per trial, then a summary line `result: ...`, all `key=value`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string target = "127.0.0.1:8125";
  std::string check = "prometheus:127.0.0.1:9091";
  int per_packet = 20;
  int names = 10000;
  std::string mix = "counters";  // or "mixed": counter, timer, gauge in turn
  double rate = 0;               // metrics/s; 0: as fast as the sender goes
  double duration = 2;           // seconds per trial
  double max_loss = 0.001;
  bool find_max = false;
  double start_rate = 250000;
  int steps = 7;  // bisection steps after the first failure
  int cpu_pid = 0;
  int sink_threads = 0;  // 0: one per core
  int senders = 1;       // sending threads, each with its own socket (source port)
  double settle = 0;     // seconds to keep waiting for counts after sending (flush intervals)
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "statsd_load: %s\n", message.c_str());
  std::exit(2);
}

sockaddr_in ParseAddress(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) Die("address needs host:port: " + std::string(text));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  int port = 0;
  std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, std::string(text.substr(0, colon)).c_str(), &address.sin_addr) != 1) {
    Die("not an IPv4 address: " + std::string(text));
  }
  return address;
}

// The packets to send, cycling over the names: packet j holds names j*per_packet... and the
// number of counter lines in each.
struct Load {
  std::vector<std::string> packets;
  int counters_per_packet = 0;
};

Load MakeLoad(const Options& options) {
  Load load;
  const int packets = std::max(1, options.names / options.per_packet);
  for (int j = 0; j < packets; ++j) {
    std::string packet;
    int counters = 0;
    for (int i = 0; i < options.per_packet; ++i) {
      const int n = (j * options.per_packet + i) % options.names;
      const int kind = options.mix == "mixed" ? i % 3 : 0;
      if (!packet.empty()) packet += '\n';
      if (kind == 0) {
        packet += "mgload.c" + std::to_string(n) + ":1|c";
        ++counters;
      } else if (kind == 1) {
        packet += "mgload.t" + std::to_string(n) + ":" + std::to_string(n % 997) + "|ms";
      } else {
        packet += "mgload.g" + std::to_string(n) + ":" + std::to_string(n % 113) + "|g";
      }
    }
    load.counters_per_packet = counters;
    load.packets.push_back(std::move(packet));
  }
  return load;
}

// Sends `count` packets at `rate` metrics/s (0: flat out) within `seconds`; returns packets sent.
uint64_t SendOne(const Options& options, const Load& load, const sockaddr_in& to, uint64_t count,
                 double seconds, int first_packet) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
  constexpr int kBatch = 32;
  std::vector<mmsghdr> messages(kBatch);
  std::vector<iovec> iovecs(kBatch);
  const double packets_per_second = options.rate / options.per_packet / options.senders;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t sent = 0;
  size_t next = (load.packets.size() / options.senders) * static_cast<size_t>(first_packet);
  while (sent < count) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    if (packets_per_second > 0) {
      // Pace: packet k is due at start + k / rate.
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(sent / packets_per_second));
      if (due > now) {
        std::this_thread::sleep_until(std::min(due, deadline));
        continue;
      }
    }
    const int batch = static_cast<int>(std::min<uint64_t>(kBatch, count - sent));
    for (int i = 0; i < batch; ++i) {
      const std::string& packet = load.packets[next];
      next = (next + 1) % load.packets.size();
      iovecs[i] = {const_cast<char*>(packet.data()), packet.size()};
      messages[i].msg_hdr = {};
      messages[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
      messages[i].msg_hdr.msg_namelen = sizeof(to);
      messages[i].msg_hdr.msg_iov = &iovecs[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int done = sendmmsg(fd, messages.data(), batch, 0);
    if (done < 0) {
      if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) continue;
      Die(std::string("sendmmsg: ") + std::strerror(errno));
    }
    sent += static_cast<uint64_t>(done);
  }
  close(fd);
  return sent;
}

// Sends `count` packets split over options.senders threads; returns packets sent.
uint64_t Send(const Options& options, const Load& load, const sockaddr_in& to, uint64_t count,
              double seconds) {
  std::vector<std::thread> threads;
  std::atomic<uint64_t> sent{0};
  for (int i = 0; i < options.senders; ++i) {
    const uint64_t share =
        count == UINT64_MAX ? count : (count + options.senders - 1) / options.senders;
    threads.emplace_back(
        [&, share, i] { sent.fetch_add(SendOne(options, load, to, share, seconds, i)); });
  }
  for (std::thread& thread : threads) thread.join();
  return sent.load();
}

// Reads everything a TCP peer answers to `request` until it closes or, when `until` is not
// empty, until the answer ends with it.
std::string Ask(const sockaddr_in& to, const std::string& request, std::string_view until) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    Die(std::string("connect to the checked server: ") + std::strerror(errno));
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    Die("write to the checked server failed");
  }
  std::string answer;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (!until.empty() && answer.ends_with(until)) break;
  }
  close(fd);
  return answer;
}

// A receiver that only drains its sockets: recvmmsg, count, discard; the kernel's receive path
// and nothing else, the floor under any StatsD server's CPU time per metric.
class Sink {
 public:
  explicit Sink(int threads) {
    for (int i = 0; i < threads; ++i) {
      const int fd = socket(AF_INET, SOCK_DGRAM, 0);
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      const int big = 64 << 20;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
      timeval timeout{0, 200000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(port_);
      if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        Die(std::string("sink bind: ") + std::strerror(errno));
      }
      socklen_t length = sizeof(address);
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
      port_ = ntohs(address.sin_port);
      fds_.push_back(fd);
    }
    for (int fd : fds_) threads_.emplace_back([this, fd] { Drain(fd); });
  }
  ~Sink() {
    stop_.store(true);
    for (std::thread& thread : threads_) thread.join();
    for (int fd : fds_) close(fd);
  }
  uint16_t port() const { return port_; }
  uint64_t packets() const { return packets_.load(); }
  // CPU time its threads spent, user and system.
  double cpu_seconds() const { return static_cast<double>(cpu_ns_.load()) / 1e9; }

 private:
  void Drain(int fd) {
    constexpr int kBatch = 64;
    std::vector<char> buffers(kBatch * 2048);
    std::vector<iovec> iovecs(kBatch);
    std::vector<mmsghdr> messages(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      iovecs[i] = {buffers.data() + i * 2048, 2048};
      messages[i].msg_hdr = {};
      messages[i].msg_hdr.msg_iov = &iovecs[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int64_t last_cpu = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const int n = recvmmsg(fd, messages.data(), kBatch, MSG_WAITFORONE, nullptr);
      if (n > 0) packets_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      timespec cpu;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
      const int64_t now = int64_t{cpu.tv_sec} * 1'000'000'000 + cpu.tv_nsec;
      cpu_ns_.fetch_add(now - last_cpu, std::memory_order_relaxed);
      last_cpu = now;
      // As metricsgate does: while datagrams trickle in, pause so each wakeup takes a batch.
      if (n > 0 && n < kBatch) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  uint16_t port_ = 0;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> packets_{0};
  std::atomic<int64_t> cpu_ns_{0};
};

// A Graphite plaintext receiver: sums the values of lines whose name starts with `prefix`.
class CarbonSink {
 public:
  CarbonSink(uint16_t port, std::string prefix) : prefix_(std::move(prefix)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(fd_, 16) != 0) {
      Die(std::string("carbon sink bind/listen: ") + std::strerror(errno));
    }
    timeval timeout{0, 200000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    thread_ = std::thread([this] { Serve(); });
  }
  ~CarbonSink() {
    stop_.store(true);
    thread_.join();
    close(fd_);
  }
  double sum() const { return sum_.load(); }

 private:
  void Serve() {
    while (!stop_.load()) {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) continue;  // the timeout: check stop_
      std::string text;
      char buffer[65536];
      for (ssize_t n; (n = read(client, buffer, sizeof(buffer))) > 0;) {
        text.append(buffer, static_cast<size_t>(n));
      }
      close(client);
      double sum = 0;
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with(prefix_)) continue;
        const size_t space = line.find(' ');
        if (space != std::string::npos) sum += std::strtod(line.c_str() + space + 1, nullptr);
      }
      sum_.store(sum_.load() + sum);
    }
  }
  const std::string prefix_;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<double> sum_{0};
};

double ReadCpuSeconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) Die("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// What the receiver has counted so far, in counter increments (each counter line adds 1).
class Checker {
 public:
  Checker(const Options& options, const Load& load) : load_(load) {
    const std::string& check = options.check;
    if (check == "sink") {
      sink_.emplace(options.sink_threads > 0
                        ? options.sink_threads
                        : static_cast<int>(std::thread::hardware_concurrency()));
      kind_ = Kind::kSink;
    } else if (check.starts_with("prometheus:")) {
      kind_ = Kind::kPrometheus;
      server_ = ParseAddress(check.substr(11));
    } else if (check == "drops") {
      kind_ = Kind::kDrops;
    } else if (check.starts_with("carbon:")) {
      kind_ = Kind::kCarbon;
      carbon_.emplace(static_cast<uint16_t>(std::atoi(check.c_str() + 7)), "stats_counts.mgload.c");
    } else if (check.starts_with("etsy:")) {
      kind_ = Kind::kEtsy;
      server_ = ParseAddress(check.substr(5));
    } else {
      Die("--check must be prometheus:HOST:PORT, etsy:HOST:PORT, carbon:PORT, drops or sink");
    }
  }
  // The receiver's CPU seconds so far: the sink's own threads, or process `pid`'s.
  double CpuSeconds(int pid) const { return sink_ ? sink_->cpu_seconds() : ReadCpuSeconds(pid); }
  bool drops_only() const { return kind_ == Kind::kDrops; }
  std::optional<uint16_t> sink_port() const {
    return sink_ ? std::optional<uint16_t>(sink_->port()) : std::nullopt;
  }

  double Counted() {
    if (kind_ == Kind::kSink) {
      return static_cast<double>(sink_->packets()) * load_.counters_per_packet;
    }
    if (kind_ == Kind::kCarbon) return carbon_->sum();
    if (kind_ == Kind::kDrops) return 0;
    if (kind_ == Kind::kPrometheus) {
      return SumCounters(Ask(server_, "GET /metrics HTTP/1.0\r\n\r\n", ""), "mgload_c", ' ');
    }
    return SumCounters(Ask(server_, "counters\n", "END\n\n"), "'mgload.c", ':');
  }

 private:
  enum class Kind { kSink, kPrometheus, kEtsy, kCarbon, kDrops };
  // Sums the numbers after `separator` on lines that start (after spaces) with `prefix`.
  static double SumCounters(const std::string& text, std::string_view prefix, char separator) {
    double sum = 0;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      std::string_view view(line);
      while (!view.empty() && (view[0] == ' ' || view[0] == '{')) view.remove_prefix(1);
      if (!view.starts_with(prefix)) continue;
      const size_t at = view.rfind(separator);
      if (at == std::string_view::npos) continue;
      std::string_view number = view.substr(at + 1);
      while (!number.empty() && number[0] == ' ') number.remove_prefix(1);
      while (!number.empty() && (number.back() == ',' || number.back() == '}')) {
        number.remove_suffix(1);
      }
      sum += std::strtod(std::string(number).c_str(), nullptr);
    }
    return sum;
  }
  const Load& load_;
  Kind kind_;
  sockaddr_in server_{};
  std::optional<Sink> sink_;
  std::optional<CarbonSink> carbon_;
};

// Kernel receive-queue drops of every UDP socket bound to `port` (/proc/net/udp).
uint64_t KernelDrops(uint16_t port) {
  std::ifstream udp("/proc/net/udp");
  std::string line;
  std::getline(udp, line);
  uint64_t drops = 0;
  char wanted[8];
  std::snprintf(wanted, sizeof(wanted), ":%04X", port);
  while (std::getline(udp, line)) {
    std::istringstream fields(line);
    std::string slot, local;
    fields >> slot >> local;
    if (!local.ends_with(wanted)) continue;
    std::string last;
    for (std::string field; fields >> field;) last = field;
    drops += std::strtoull(last.c_str(), nullptr, 10);
  }
  return drops;
}

struct Trial {
  double target_rate;
  double sent_rate;
  double lost_fraction;
  uint64_t drops;
  double cpu_ns_per_metric;
};

Trial RunTrial(Options options, const Load& load, Checker& checker, const sockaddr_in& to,
               double rate) {
  options.rate = rate;
  const double before = checker.Counted();
  const uint64_t drops_before = KernelDrops(ntohs(to.sin_port));
  const bool measure_cpu = options.cpu_pid > 0 || checker.sink_port();
  const double cpu_before = measure_cpu ? checker.CpuSeconds(options.cpu_pid) : 0;
  const Clock::time_point start = Clock::now();
  const uint64_t limit =
      rate > 0 ? static_cast<uint64_t>(rate * options.duration / options.per_packet) + 1
               : UINT64_MAX;
  const uint64_t packets = Send(options, load, to, limit, options.duration);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double expected = static_cast<double>(packets) * load.counters_per_packet;
  // Wait until the receiver has caught up: everything arrived, or its count stopped moving
  // and --settle seconds have passed (a server that only reports at its flush).
  const Clock::time_point sent_at = Clock::now();
  double counted = checker.Counted() - before;
  if (checker.drops_only()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server drain
    const uint64_t drops = KernelDrops(ntohs(to.sin_port)) - drops_before;
    counted = expected - static_cast<double>(drops) * load.counters_per_packet;
  }
  for (int still = 0; counted < expected && !checker.drops_only();) {
    const double waited = std::chrono::duration<double>(Clock::now() - sent_at).count();
    if ((still >= 3 && waited >= options.settle) || waited > options.settle + 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double now = checker.Counted() - before;
    still = now == counted ? still + 1 : 0;
    counted = now;
  }
  Trial trial;
  trial.target_rate = rate;
  const double metrics = static_cast<double>(packets) * options.per_packet;
  trial.sent_rate = metrics / elapsed;
  trial.lost_fraction = expected > 0 ? 1 - counted / expected : 0;
  trial.drops = KernelDrops(ntohs(to.sin_port)) - drops_before;
  trial.cpu_ns_per_metric =
      measure_cpu ? (checker.CpuSeconds(options.cpu_pid) - cpu_before) * 1e9 / metrics : 0;
  std::printf(
      "trial: target_rate=%.0f sent_rate=%.0f sent_metrics=%.0f lost=%.5f kernel_drops=%llu",
      trial.target_rate, trial.sent_rate, metrics, trial.lost_fraction,
      static_cast<unsigned long long>(trial.drops));
  if (measure_cpu) std::printf(" cpu_ns_per_metric=%.1f", trial.cpu_ns_per_metric);
  std::printf("\n");
  std::fflush(stdout);
  return trial;
}

void Usage() {
  std::puts(
      "usage: statsd_load [--target=HOST:PORT] [--check=prometheus:HOST:PORT|etsy:HOST:PORT|sink]\n"
      "  [--per-packet=20] [--names=10000] [--mix=counters|mixed] [--rate=METRICS_PER_S]\n"
      "  [--duration=SECONDS] [--find-max [--start-rate=250000] [--steps=7] [--max-loss=0.001]]\n"
      "  [--cpu-pid=PID] [--sink-threads=N] [--senders=1]\n"
      "  [--settle=SECONDS]");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const std::string value(eq == std::string_view::npos ? "" : arg.substr(eq + 1));
    if (key == "--target") {
      options.target = value;
    } else if (key == "--check") {
      options.check = value;
    } else if (key == "--per-packet") {
      options.per_packet = std::max(1, std::atoi(value.c_str()));
    } else if (key == "--names") {
      options.names = std::max(1, std::atoi(value.c_str()));
    } else if (key == "--mix") {
      if (value != "counters" && value != "mixed") Die("--mix must be counters or mixed");
      options.mix = value;
    } else if (key == "--rate") {
      options.rate = std::strtod(value.c_str(), nullptr);
    } else if (key == "--duration") {
      options.duration = std::clamp(std::strtod(value.c_str(), nullptr), 0.1, 600.0);
    } else if (key == "--find-max") {
      options.find_max = true;
    } else if (key == "--start-rate") {
      options.start_rate = std::max(1000.0, std::strtod(value.c_str(), nullptr));
    } else if (key == "--steps") {
      options.steps = std::clamp(std::atoi(value.c_str()), 0, 20);
    } else if (key == "--max-loss") {
      options.max_loss = std::strtod(value.c_str(), nullptr);
    } else if (key == "--cpu-pid") {
      options.cpu_pid = std::atoi(value.c_str());
    } else if (key == "--settle") {
      options.settle = std::clamp(std::strtod(value.c_str(), nullptr), 0.0, 120.0);
    } else if (key == "--senders") {
      options.senders = std::clamp(std::atoi(value.c_str()), 1, 16);
    } else if (key == "--sink-threads") {
      options.sink_threads = std::atoi(value.c_str());
    } else {
      Usage();
      return arg == "--help" ? 0 : 2;
    }
  }
  const Load load = MakeLoad(options);
  if (load.counters_per_packet == 0) Die("every packet needs a counter line to count loss");
  Checker checker(options, load);
  sockaddr_in to = ParseAddress(options.target);
  if (checker.sink_port()) {
    to = ParseAddress("127.0.0.1:0");
    to.sin_port = htons(*checker.sink_port());
  }
  if (!options.find_max) {
    const Trial trial = RunTrial(options, load, checker, to, options.rate);
    std::printf("result: sent_rate=%.0f lost=%.5f cpu_ns_per_metric=%.1f\n", trial.sent_rate,
                trial.lost_fraction, trial.cpu_ns_per_metric);
    return 0;
  }
  // Double the rate until a trial loses more than allowed (or the sender cannot reach it),
  // then bisect between the last good rate and the first bad one.
  double good = 0;
  double bad = 0;
  const auto passes = [&](double rate) {
    const Trial trial = RunTrial(options, load, checker, to, rate);
    if (trial.sent_rate < 0.97 * rate) {
      std::printf("note: the sender reached only %.0f of %.0f metrics/s\n", trial.sent_rate, rate);
      return false;
    }
    return trial.lost_fraction < options.max_loss;
  };
  for (double rate = options.start_rate; rate < 1e9; rate *= 2) {
    if (!passes(rate)) {
      bad = rate;
      break;
    }
    good = rate;
  }
  for (int step = 0; step < options.steps && bad > 0; ++step) {
    const double rate = (good + bad) / 2;
    if (passes(rate)) {
      good = rate;
    } else {
      bad = rate;
    }
  }
  std::printf("result: loss_free_rate=%.0f first_lossy_rate=%.0f per_packet=%d names=%d mix=%s\n",
              good, bad, options.per_packet, options.names, options.mix.c_str());
  return 0;
}
