#include "server/statsd_datagram_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ingest/statsd_ingester.h"
#include "storage/series_table.h"

namespace metricsgate::server {
namespace {

constexpr int kSenders = 32;
constexpr int kRounds = 100;

double SampleValue(const std::vector<storage::MetricFamily>& families, std::string_view name) {
  for (const storage::MetricFamily& family : families) {
    if (family.name == name && family.samples.size() == 1) return family.samples[0].value;
  }
  return -1;
}

// The IPv4 loopback address of a listener bound to `address` ("127.0.0.1:PORT").
sockaddr_in LoopbackTo(const std::string& address) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  return to;
}

// Sends kRounds rounds of one datagram from each of kSenders sockets (so the kernel spreads
// them over the listener's sockets), sender i's gauge `order_i` set to the round's number,
// pausing 1 ms between rounds so the busy windows of the receive threads (10 ms) pass.
// Then waits until every datagram is counted and checks that nothing was lost and every
// sender's datagrams were handled in order (its gauge holds the last round's number).
void SendAndCheck(StatsdReceiveThreads threads, uint64_t* helper_turns) {
  boost::asio::io_context ioc;
  storage::SeriesTable table;
  ingest::StatsdIngester ingester(&table);
  auto listener = StatsdDatagramListener::CreateUdp(ioc, "127.0.0.1:0", 4, 0, &ingester, threads);
  ASSERT_TRUE(listener.ok()) << listener.status();
  (*listener)->Start();
  const sockaddr_in to = LoopbackTo((*listener)->local_address());
  std::vector<int> senders;
  for (int i = 0; i < kSenders; ++i) senders.push_back(socket(AF_INET, SOCK_DGRAM, 0));
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kSenders; ++i) {
      const std::string datagram =
          "order_" + std::to_string(i) + ":" + std::to_string(round) + "|g\ncount:1|c";
      ASSERT_EQ(sendto(senders[i], datagram.data(), datagram.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
                static_cast<ssize_t>(datagram.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int fd : senders) close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<storage::MetricFamily> families;
  double packets = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    families.clear();
    ingester.Collect(&families);
    packets = families.front().samples.front().value;  // transport="udp"
    if (packets >= kSenders * kRounds) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(packets, kSenders * kRounds);
  table.Collect(&families);
  EXPECT_EQ(SampleValue(families, "count"), kSenders * kRounds);
  for (int i = 0; i < kSenders; ++i) {
    EXPECT_EQ(SampleValue(families, "order_" + std::to_string(i)), kRounds) << "sender " << i;
  }
  *helper_turns = (*listener)->helper_turns();
  (*listener)->Stop();
}

TEST(StatsdDatagramListenerTest, LeadAloneReceivesEverySocketInOrder) {
  uint64_t turns = 0;
  SendAndCheck({.wake_helper_busy = 2.0, .saturated_busy = 2.0}, &turns);  // never busy enough
  EXPECT_EQ(turns, 0u);
}

TEST(StatsdDatagramListenerTest, HelpersThatStayReceiveInOrder) {
  uint64_t turns = 0;
  SendAndCheck({.wake_helper_busy = -1.0, .saturated_busy = -1.0, .quiet_busy = -1.0},
               &turns);  // wake all, keep them
  EXPECT_GE(turns, 1u);  // one a window (10 ms) while the lead receives
  EXPECT_LE(turns, 3u);  // and none goes back: three helpers, one turn each
}

TEST(StatsdDatagramListenerTest, HelpersComingAndGoingLoseNothingAndKeepOrder) {
  uint64_t turns = 0;
  SendAndCheck({.wake_helper_busy = -1.0, .saturated_busy = -1.0, .quiet_busy = 2.0},
               &turns);  // back after a window
  EXPECT_GT(turns, 3u);  // a helper went back and was woken again
}

// A datagram of exactly `size` bytes: `c_<size>:1|c` lines, the last line a gauge `g_<size>_x...`
// set to `size`, its name padded to fill. Returns how many counter lines it holds.
int MakeDatagram(size_t size, std::string* datagram) {
  const std::string counter = "c_" + std::to_string(size) + ":1|c\n";
  const std::string gauge = "g_" + std::to_string(size) + "_:" + std::to_string(size) + "|g";
  datagram->clear();
  int counters = 0;
  while (datagram->size() + counter.size() + gauge.size() <= size) {
    *datagram += counter;
    ++counters;
  }
  const std::string padding(size - datagram->size() - gauge.size(), 'x');
  *datagram += "g_" + std::to_string(size) + "_" + padding + ":" + std::to_string(size) + "|g";
  return counters;
}

// Datagrams from 20 bytes to the largest UDP payload (65,507), a few around 2 KiB: each is
// received whole, up to its last line, and none is counted truncated.
TEST(StatsdDatagramListenerTest, DatagramsOfEverySizeArriveWhole) {
  boost::asio::io_context ioc;
  storage::SeriesTable table;
  ingest::StatsdIngester ingester(&table);
  auto listener = StatsdDatagramListener::CreateUdp(ioc, "127.0.0.1:0", 1, 0, &ingester);
  ASSERT_TRUE(listener.ok()) << listener.status();
  (*listener)->Start();
  const sockaddr_in to = LoopbackTo((*listener)->local_address());
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const std::vector<size_t> sizes = {20, 1500, 2047, 2048, 2049, 2100, 4096, 30000, 65507};
  std::vector<int> counters;
  std::string datagram;
  // Twice, sent back to back, so that some share a batch with smaller ones.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t size : sizes) {
      const int lines = MakeDatagram(size, &datagram);
      if (pass == 0) counters.push_back(lines);
      ASSERT_EQ(datagram.size(), size);
      ASSERT_EQ(sendto(fd, datagram.data(), datagram.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
                static_cast<ssize_t>(size));
    }
  }
  close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<storage::MetricFamily> families;
  while (std::chrono::steady_clock::now() < deadline) {
    families.clear();
    ingester.Collect(&families);
    if (families.front().samples.front().value >= 2.0 * static_cast<double>(sizes.size())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(families.front().samples.front().value, 2.0 * static_cast<double>(sizes.size()));
  table.Collect(&families);
  (*listener)->Collect(&families);
  EXPECT_EQ(SampleValue(families, "metricsgate_statsd_datagrams_truncated_total"), 0);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string size = std::to_string(sizes[i]);
    EXPECT_EQ(SampleValue(families, "c_" + size), 2 * counters[i]) << size;
    // The gauge's name is the last line's, up to its `:`: every byte of the datagram arrived.
    MakeDatagram(sizes[i], &datagram);
    const size_t last = datagram.rfind('\n') + 1;
    const std::string gauge = datagram.substr(last, datagram.rfind(':') - last);
    EXPECT_EQ(SampleValue(families, gauge), static_cast<double>(sizes[i])) << size;
  }
  (*listener)->Stop();
}

}  // namespace
}  // namespace metricsgate::server
