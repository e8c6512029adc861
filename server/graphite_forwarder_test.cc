#include "server/graphite_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::server {
namespace {

// A carbon stand-in on loopback: accepts connections one after another and keeps every byte.
class Sink {
 public:
  Sink() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int conn = accept(fd_, nullptr, nullptr);
        if (conn < 0) return;
        char buf[1 << 16];
        ssize_t n;
        while ((n = read(conn, buf, sizeof buf)) > 0) received_.append(buf, static_cast<size_t>(n));
        close(conn);
      }
    });
  }
  // Stops accepting and returns everything received.
  std::string Finish() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    return received_;
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string received_;  // the accept thread's until Finish()
};

double Sample(const std::vector<storage::MetricFamily>& families, std::string_view name) {
  for (const auto& family : families) {
    if (family.name == name) return family.samples.at(0).value;
  }
  ADD_FAILURE() << name << " missing";
  return -1;
}

// The flush thread sends while the sender writes on the io_context's thread and a third
// thread reads the forwarder's metrics: every point arrives once, in order (run under
// ThreadSanitizer by scripts/tsan.sh).
TEST(GraphiteForwarderTest, ConcurrentFlushesArriveWholeAndInOrder) {
  Sink sink;
  boost::asio::io_context ioc;
  GraphiteForwarderOptions options;
  options.destinations.push_back({"127.0.0.1", sink.port(), std::nullopt});
  auto forwarder = GraphiteForwarder::Create(ioc, options);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  (*forwarder)->Start();
  std::thread io([&] { ioc.run(); });

  constexpr int kFlushes = 40, kPoints = 3000;
  std::atomic<bool> flushing{true};
  std::thread reader([&] {
    while (flushing.load()) {
      std::vector<storage::MetricFamily> families;
      (*forwarder)->Collect(&families);
      EXPECT_GE(Sample(families, "metricsgate_graphite_points_dropped_total"), 0);
    }
  });
  exporter::GraphiteBatch batch;
  std::string expected;
  for (int flush = 0; flush < kFlushes; ++flush) {
    batch.Clear();
    batch.timestamp = 1'700'000'000 + flush;
    for (int i = 0; i < kPoints; ++i) {
      const std::string name = "m." + std::to_string(i);
      batch.Add(name, flush + i);
      expected +=
          name + " " + std::to_string(flush + i) + " " + std::to_string(batch.timestamp) + "\n";
    }
    (*forwarder)->Send(batch);
  }
  flushing = false;
  reader.join();
  std::promise<void> drained;
  (*forwarder)->Drain(std::chrono::seconds(30), [&] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  io.join();

  std::vector<storage::MetricFamily> families;
  (*forwarder)->Collect(&families);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_sent_total"), kFlushes * kPoints);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_dropped_total"), 0);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_queued"), 0);
  const std::string received = sink.Finish();
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected) << "the received bytes differ from what was sent";
}

// Nothing listens: every connection is refused, the queue stays within its bound and the
// oldest pieces are dropped and counted, while flushes go on.
TEST(GraphiteForwarderTest, AnUnreachableDestinationKeepsItsQueueBounded) {
  uint16_t port = 0;
  {
    Sink closed;
    port = closed.port();
    closed.Finish();
  }
  boost::asio::io_context ioc;
  GraphiteForwarderOptions options;
  options.destinations.push_back({"127.0.0.1", port, std::nullopt});
  options.queue_points = 5000;
  auto forwarder = GraphiteForwarder::Create(ioc, options);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  (*forwarder)->Start();
  std::thread io([&] { ioc.run(); });
  exporter::GraphiteBatch batch;
  batch.timestamp = 1'700'000'000;
  for (int i = 0; i < 2000; ++i) batch.Add("m." + std::to_string(i), i);
  for (int flush = 0; flush < 10; ++flush) (*forwarder)->Send(batch);  // 20,000 points
  std::vector<storage::MetricFamily> families;
  (*forwarder)->Collect(&families);
  // Each flush is one piece of 2,000 points: the queue keeps the newest two.
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_queued"), 4000);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_dropped_total"), 16000);
  std::promise<void> drained;
  (*forwarder)->Drain(std::chrono::milliseconds(300), [&] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  io.join();
  families.clear();
  (*forwarder)->Collect(&families);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_sent_total"), 0);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_dropped_total"), 20000);
  EXPECT_EQ(Sample(families, "metricsgate_graphite_points_queued"), 0);
}

}  // namespace
}  // namespace metricsgate::server
