// The StatsD hot path in one process, no sockets: parsing alone, and parsing plus applying
// to the series table. Items are StatsD lines.
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "ingest/mapping.h"
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
    ingest::ForEachStatsdLine(packet, [&](std::string_view line, uint64_t) {
      ingest::ParseStatsdLine(line, &parsed);
      benchmark::DoNotOptimize(parsed.samples.data());
      ++lines;
    });
  }
  state.SetItemsProcessed(lines);
}
BENCHMARK(BM_StatsdParser_Packet);

// Feeds `ingester` 20-line packets over state.range(0) distinct names, `line(n)` being the
// line of name n; items are lines.
template <typename Line>
void RunPackets(benchmark::State& state, ingest::StatsdIngester& ingester, Line line) {
  const int names = static_cast<int>(state.range(0));
  std::vector<std::string> packets;
  for (int offset = 0; offset < names; offset += 20) {
    std::string packet;
    for (int i = 0; i < 20; ++i) packet += line((offset + i) % names);
    packets.push_back(std::move(packet));
  }
  size_t next = 0;
  for (auto _ : state) {
    ingester.HandlePacket(packets[next], ingest::StatsdTransport::kUdp);
    next = (next + 1) % packets.size();
  }
  state.SetItemsProcessed(state.iterations() * 20);
}

// Parse, escape and update: the whole per-packet work of the UDP listener. Arg: distinct names.
void BM_StatsdIngester_Packet(benchmark::State& state) {
  storage::SeriesTable table;
  ingest::StatsdIngester ingester(&table);
  RunPackets(state, ingester,
             [](int n) { return "app.requests.endpoint_" + std::to_string(n) + ":1|c\n"; });
}
BENCHMARK(BM_StatsdIngester_Packet)->Arg(20)->Arg(10000)->ThreadRange(1, 2)->UseRealTime();

// A mapping file of `globs` rules `svc<i>.*.requests` and 5 regex rules `^re<i>\.(.*)$`.
absl::StatusOr<std::shared_ptr<const ingest::MappingConfig>> MakeMapping(int64_t globs) {
  std::string yaml = "mappings:\n";
  for (int64_t i = 0; i < globs; ++i) {
    yaml += "- match: \"svc" + std::to_string(i) +
            ".*.requests\"\n  name: \"svc_requests\"\n"
            "  labels: {endpoint: \"$1\", service: \"s" +
            std::to_string(i) + "\"}\n";
  }
  for (int i = 0; i < 5; ++i) {
    yaml += "- match: \"^re" + std::to_string(i) +
            "\\\\.(.*)$\"\n  match_type: regex\n"
            "  name: \"re_$1\"\n";
  }
  return ingest::MappingConfig::Parse(yaml);
}

// The same with a mapping file of 50 glob rules and 5 regex rules, half the names matching a
// glob near the end. Arg: distinct names.
void BM_StatsdIngester_MappedPacket(benchmark::State& state) {
  auto mapping = MakeMapping(50);
  if (!mapping.ok()) {
    state.SkipWithError(std::string(mapping.status().message()).c_str());
    return;
  }
  storage::SeriesTable table;
  ingest::StatsdIngester ingester(&table);
  ingester.SetMapping(*mapping);
  RunPackets(state, ingester, [](int n) {
    return (n % 2 == 0 ? "svc49.endpoint_" : "unmapped.endpoint_") + std::to_string(n) +
           (n % 2 == 0 ? ".requests" : "") + ":1|c\n";
  });
}
BENCHMARK(BM_StatsdIngester_MappedPacket)->Arg(20)->Arg(10000);

// One uncached mapping lookup against a file of N glob rules (the tree) plus 5 regex rules;
// the name matches the last glob rule. Arg: glob rules.
void BM_MappingFind_Globs(benchmark::State& state) {
  auto mapping = MakeMapping(state.range(0));
  if (!mapping.ok()) {
    state.SkipWithError(std::string(mapping.status().message()).c_str());
    return;
  }
  const std::string name = "svc" + std::to_string(state.range(0) - 1) + ".users.requests";
  ingest::MappingConfig::Result result;
  for (auto _ : state) {
    benchmark::DoNotOptimize((*mapping)->Find(name, ingest::StatsdType::kCounter, &result));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MappingFind_Globs)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace metricsgate
