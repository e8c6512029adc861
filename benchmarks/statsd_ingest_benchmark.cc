// The StatsD hot path in one process, no sockets: parsing alone, and parsing plus applying
// to the series table. Items are StatsD lines.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "ingest/statsd_ingester.h"
#include "ingest/statsd_parser.h"
#include "storage/series_table.h"

namespace metricsgate {
namespace {

// A packet of `lines` lines over `names` distinct names, counters and gauges mixed.
std::string MakePacket(int lines, int names) {
  std::string packet;
  for (int i = 0; i < lines; ++i) {
    packet += "app.requests.endpoint_" + std::to_string(i % names);
    packet += (i % 4 == 3) ? ":+12.5|g\n" : ":1|c|@0.5\n";
  }
  return packet;
}

void BM_StatsdParser_Packet(benchmark::State& state) {
  const std::string packet = MakePacket(20, 20);
  int64_t lines = 0;
  ingest::ParsedLine parsed;
  for (auto _ : state) {
    ingest::ForEachStatsdLine(packet, [&](std::string_view line) {
      ingest::ParseStatsdLine(line, &parsed);
      benchmark::DoNotOptimize(parsed.samples.data());
      ++lines;
    });
  }
  state.SetItemsProcessed(lines);
}
BENCHMARK(BM_StatsdParser_Packet);

// Parse, escape and update: the whole per-packet work of the UDP listener. Arg: distinct names.
void BM_StatsdIngester_Packet(benchmark::State& state) {
  storage::SeriesTable table;
  ingest::StatsdIngester ingester(&table);
  const int names = static_cast<int>(state.range(0));
  std::vector<std::string> packets;
  for (int offset = 0; offset < names; offset += 20) {
    std::string packet;
    for (int i = 0; i < 20; ++i) {
      packet += "app.requests.endpoint_" + std::to_string((offset + i) % names) + ":1|c\n";
    }
    packets.push_back(std::move(packet));
  }
  size_t next = 0;
  for (auto _ : state) {
    ingester.HandlePacket(packets[next], ingest::StatsdTransport::kUdp);
    next = (next + 1) % packets.size();
  }
  state.SetItemsProcessed(state.iterations() * 20);
}
BENCHMARK(BM_StatsdIngester_Packet)->Arg(20)->Arg(10000)->ThreadRange(1, 2)->UseRealTime();

}  // namespace
}  // namespace metricsgate
