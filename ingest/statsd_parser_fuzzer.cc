// libFuzzer target: any bytes as one StatsD packet, through the parser and the whole ingester
// (escaping, labels, the series table). Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ingest/statsd_ingester.h"
#include "ingest/statsd_parser.h"
#include "storage/series_table.h"

namespace {

// A fresh table now and then, so the fuzzer's endless new names do not fill memory.
struct Target {
  std::unique_ptr<metricsgate::storage::SeriesTable> table;
  std::unique_ptr<metricsgate::ingest::StatsdIngester> ingester;
  int runs = 0;
  void Reset() {
    ingester.reset();
    table = std::make_unique<metricsgate::storage::SeriesTable>();
    ingester = std::make_unique<metricsgate::ingest::StatsdIngester>(table.get());
    runs = 0;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target target;
  if (target.ingester == nullptr || ++target.runs > 10000) target.Reset();
  const std::string_view packet(reinterpret_cast<const char*>(data), size);

  metricsgate::ingest::ParsedLine parsed;
  metricsgate::ingest::ForEachStatsdLine(packet, [&](std::string_view line, uint64_t) {
    metricsgate::ingest::ParseStatsdLine(line, &parsed);
    // The one-pass parser of the common shape agrees with the general one.
    static metricsgate::ingest::ParsedLine general;
    metricsgate::ingest::ParseStatsdLineGeneral(line, &general);
    if (!(parsed == general)) __builtin_trap();
    // Every view the parser hands out points into the line (or the name buffer).
    for (const auto& sample : parsed.samples) {
      if (sample.value_text.data() < line.data() ||
          sample.value_text.data() + sample.value_text.size() > line.data() + line.size()) {
        __builtin_trap();
      }
      if (sample.name.empty() || !(sample.sample_rate > 0)) __builtin_trap();
    }
  });

  metricsgate::ingest::IngestReport report;
  target.ingester->HandlePacket(packet, metricsgate::ingest::StatsdTransport::kUdp, &report);
  if (report.samples + report.rejected_lines > report.lines * 1000 + 1000000) __builtin_trap();
  if (target.runs % 1000 == 0) target.table->EndInterval();
  return 0;
}
