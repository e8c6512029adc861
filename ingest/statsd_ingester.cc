#include "ingest/statsd_ingester.h"

#include <cmath>

#include "base/log.h"
#include "ingest/prometheus_name.h"

namespace metricsgate::ingest {
namespace {

constexpr std::string_view kReservedPrefix = "metricsgate_";

}  // namespace

void StatsdIngester::HandlePacket(std::string_view packet, StatsdTransport transport) {
  std::string scratch;
  uint64_t lines = 0;
  ForEachStatsdLine(packet, [&](std::string_view line) {
    ++lines;
    BadLineReason reason;
    if (!HandleLine(line, &scratch, &reason)) {
      bad_lines_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
      log::Debug("dropped a bad StatsD line",
                 {{"reason", std::string(BadLineReasonName(reason))}, {"line", std::string(line)}});
    }
  });
  lines_.fetch_add(lines, std::memory_order_relaxed);
  // Counted last, with release: whoever reads this count (acquire, in Collect) and then the
  // table sees every update of the packets counted.
  switch (transport) {
    case StatsdTransport::kUdp:
      udp_packets_.fetch_add(1, std::memory_order_release);
      break;
  }
}

bool StatsdIngester::HandleLine(std::string_view line, std::string* scratch,
                                BadLineReason* reason) {
  StatsdSample sample;
  if (!ParseStatsdLine(line, &sample, reason)) return false;
  if (sample.type != StatsdType::kCounter && sample.type != StatsdType::kGauge) {
    *reason = BadLineReason::kUnsupportedType;
    return false;
  }
  if (!EscapeMetricName(sample.name, scratch)) {
    *reason = BadLineReason::kInvalidUtf8;
    return false;
  }
  if (scratch->starts_with(kReservedPrefix)) {
    *reason = BadLineReason::kReservedName;
    return false;
  }
  absl::Status status;
  if (sample.type == StatsdType::kCounter) {
    const double delta = sample.value / sample.sample_rate;
    if (!std::isfinite(delta)) {
      *reason = BadLineReason::kValueOutOfRange;
      return false;
    }
    if (delta < 0) {
      *reason = BadLineReason::kIllegalNegativeCounter;
      return false;
    }
    status = table_->AddToCounter(*scratch, delta);
  } else if (sample.has_sign) {
    status = table_->AddToGauge(*scratch, sample.value);  // the sample rate is ignored, as Etsy
  } else {
    status = table_->SetGauge(*scratch, sample.value);
  }
  if (!status.ok()) {
    *reason = BadLineReason::kTypeConflict;  // the table's only failure
    return false;
  }
  return true;
}

void StatsdIngester::Collect(std::vector<storage::MetricFamily>* out) const {
  using storage::MetricFamily;
  using storage::MetricType;
  out->push_back(
      MetricFamily{"metricsgate_statsd_packets_total",
                   "StatsD packets received (one per UDP datagram).",
                   MetricType::kCounter,
                   {{{{"transport", "udp"}},
                     static_cast<double>(udp_packets_.load(std::memory_order_acquire))}}});
  out->push_back(MetricFamily{"metricsgate_statsd_lines_total",
                              "Non-empty StatsD lines received, good and bad.",
                              MetricType::kCounter,
                              {{{}, static_cast<double>(lines_.load(std::memory_order_relaxed))}}});
  MetricFamily bad{"metricsgate_statsd_bad_lines_total",
                   "StatsD lines dropped, by the reason they were dropped.",
                   MetricType::kCounter,
                   {}};
  for (size_t i = 0; i < kBadLineReasonCount; ++i) {
    bad.samples.push_back(
        {{{"reason", std::string(BadLineReasonName(static_cast<BadLineReason>(i)))}},
         static_cast<double>(bad_lines_[i].load(std::memory_order_relaxed))});
  }
  out->push_back(std::move(bad));
}

}  // namespace metricsgate::ingest
