#include "server/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "base/json.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "base/str_cat.h"
#include "export/graphite_rollup.h"
#include "export/text_format.h"
#include "ingest/mapping.h"
#include "ingest/statsd_ingester.h"
#include "server/graphite_forwarder.h"
#include "server/http_server.h"
#include "server/internal/graphite_config.h"
#include "server/internal/persistence.h"
#include "server/routes.h"
#include "server/statsd_datagram_listener.h"
#include "server/statsd_tcp_listener.h"
#include "storage/push_store.h"
#include "storage/rollup_table.h"
#include "storage/series_table.h"

namespace metricsgate::server {

namespace asio = boost::asio;

// Declaration order is destruction order reversed: the io_context goes last, after every
// object whose sockets it serves.
struct Server::Parts {
  Parts(const Config& c, internal::GraphiteConfig g)
      : config(c),
        graphite(std::move(g)),
        table(c.storage_max_series),
        rollups(c.graphite_addresses.empty()
                    ? nullptr
                    : std::make_unique<storage::RollupTable>(graphite.retention)),
        push(&table, {.consistency_check = !c.push_disable_consistency_check,
                      .default_ttl = c.push_default_ttl}) {}

  const Config config;
  internal::GraphiteConfig graphite;
  asio::io_context ioc;
  // One more io_context per I/O thread beyond the first (which runs `ioc`), each run by its
  // own thread: HTTP and StatsD TCP connections are spread over `ioc` and these.
  std::vector<std::unique_ptr<asio::io_context>> workers;
  // `ioc` and the workers: where TCP connections go, in turn.
  std::vector<asio::io_context*> ConnectionContexts() {
    std::vector<asio::io_context*> contexts = {&ioc};
    for (auto& worker : workers) contexts.push_back(worker.get());
    return contexts;
  }
  storage::SeriesTable table;
  std::unique_ptr<storage::RollupTable> rollups;  // null without --graphite.address
  ingest::StatsdIngester ingester{&table, config.statsd_ttl, rollups.get()};
  storage::PushStore push;
  const absl::Time start_time = absl::Now();
  uint64_t persisted_changes = 0;  // push.changes() when last written (I/O threads, serialized)
  std::mutex persist_mu;
  // Each null when disabled.
  std::unique_ptr<StatsdDatagramListener> udp;
  std::unique_ptr<StatsdDatagramListener> unixgram;
  std::unique_ptr<StatsdTcpListener> tcp;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GraphiteForwarder> forwarder;  // null without --graphite.address

  // The flush thread: ends an interval every --statsd.flush-interval, on ticks aligned as
  // Etsy statsd aligns them (its start-up second plus whole intervals, wall clock).
  std::thread flusher;
  std::mutex flush_mu;
  std::condition_variable flush_cv;
  bool flush_stop = false;  // guarded by flush_mu
  // The flush thread only (and the final flush, after it has stopped):
  exporter::GraphiteBatch batch;
  storage::RollupInterval interval;
  std::vector<storage::MetricFamily> pushed;
  int64_t last_flush_s = 0;  // the last flush's timestamp; 0 before the first
  exporter::FlushSelfMetrics self;

  // The sorter: every kSortPoll, sorts the store when many series are out of the order the
  // last sort learnt (SeriesTable::SortAheadIfDue), so a scrape after a burst of new series
  // does not do that work on the I/O thread that serves it. A look that finds nothing due
  // costs a few atomic loads and at most two short locks. After a sort it waits at least four
  // times as long as the sort took, so that it never takes more than a fifth of a core (new
  // series coming without end would otherwise have it sort the whole store again and again).
  // Off with --storage.sort-ahead=false.
  static constexpr std::chrono::milliseconds kSortPoll{100};
  std::thread sorter;
  std::mutex sorter_mu;
  std::condition_variable sorter_cv;
  bool sorter_stop = false;  // guarded by sorter_mu

  void SortLoop() {
    std::unique_lock lock(sorter_mu);
    std::chrono::steady_clock::duration pause = kSortPoll;
    while (!sorter_cv.wait_for(lock, pause, [&] { return sorter_stop; })) {
      lock.unlock();
      const auto started = std::chrono::steady_clock::now();
      table.SortAheadIfDue();  // a look that finds nothing due takes microseconds
      pause = std::max<std::chrono::steady_clock::duration>(
          kSortPoll, 4 * (std::chrono::steady_clock::now() - started));
      lock.lock();
    }
  }

  void StopSorter() {
    {
      std::lock_guard lock(sorter_mu);
      sorter_stop = true;
    }
    sorter_cv.notify_all();
    if (sorter.joinable()) sorter.join();
  }

  void FlushLoop() {
    using std::chrono::system_clock;
    const auto start = system_clock::time_point(
        std::chrono::seconds((std::chrono::duration_cast<std::chrono::milliseconds>(
                                  system_clock::now().time_since_epoch())
                                  .count() +
                              500) /
                             1000));
    self.last_flush = static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(start.time_since_epoch()).count());
    std::unique_lock lock(flush_mu);
    for (int64_t k = 1;; ++k) {
      const auto tick = start + k * config.flush_interval;
      if (tick < system_clock::now() - config.flush_interval) {
        // The clock jumped forward (or a flush overran): skip to the next tick ahead.
        k = (system_clock::now() - start) / config.flush_interval;
        continue;
      }
      if (flush_cv.wait_until(lock, tick, [&] { return flush_stop; })) return;
      lock.unlock();
      // The tick's own second, not the clock's: a late flush still gets its own point (carbon
      // keeps one value per second, the last).
      Flush(std::chrono::duration_cast<std::chrono::seconds>(tick.time_since_epoch()).count());
      lock.lock();
    }
  }

  // Ends the interval: sets' counts, and the rollups to Graphite at `now_s` (Unix seconds;
  // the current second when 0, or the one after the last flush's if that is later).
  void Flush(int64_t now_s = 0) {
    table.EndInterval();
    if (!rollups) return;
    if (now_s == 0) {
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      now_s = std::max((now_ms + 500) / 1000, last_flush_s + 1);  // Etsy: Math.round(now / 1000)
    }
    self.has_timestamp_lag = last_flush_s > 0;
    self.timestamp_lag = static_cast<double>(now_s - last_flush_s) -
                         static_cast<double>(config.flush_interval.count()) / 1000;
    rollups->EndInterval(&interval);
    batch.Clear();
    batch.timestamp = now_s;
    exporter::GraphiteRollupOptions options = graphite.rollup;
    options.flush_interval = config.flush_interval;
    const auto started = std::chrono::steady_clock::now();
    exporter::ComputeGraphiteRollups(interval, self, options, &batch);
    if (config.graphite_push_groups) {
      pushed.clear();
      push.Collect(&pushed);
      exporter::AppendTaggedFamilies(pushed, &batch);
    }
    batch.End();
    forwarder->Commit();
    self.flush_time_ms = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - started)
                                                 .count());
    self.flush_length = static_cast<double>(forwarder->last_flush_bytes());
    self.last_flush = static_cast<double>(now_s);
    last_flush_s = now_s;
  }

  void StopFlusher() {
    {
      std::lock_guard lock(flush_mu);
      flush_stop = true;
    }
    flush_cv.notify_all();
    if (flusher.joinable()) flusher.join();
  }

  // Counts of mapping reloads, by result.
  std::atomic<uint64_t> reloads_ok{0};
  std::atomic<uint64_t> reloads_failed{0};

  // Loads --statsd.mapping-config again; a bad file leaves the mapping in force unchanged.
  absl::Status ReloadMapping() {
    if (config.statsd_mapping_config.empty()) {
      return absl::FailedPreconditionError(
          "no mapping file to reload (--statsd.mapping-config is empty)");
    }
    absl::StatusOr<std::shared_ptr<const ingest::MappingConfig>> mapping =
        ingest::MappingConfig::Load(config.statsd_mapping_config);
    if (!mapping.ok()) {
      reloads_failed.fetch_add(1, std::memory_order_relaxed);
      log::Error("mapping file rejected; a mapping already in force stays",
                 {{"err", std::string(mapping.status().message())}});
      return mapping.status();
    }
    log::Info("mapping loaded", {{"file", config.statsd_mapping_config},
                                 {"rules", std::to_string((*mapping)->rule_count())}});
    ingester.SetMapping(*std::move(mapping));
    reloads_ok.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }

  // Writes the pushed groups to --persistence.file if they changed since the last write.
  void Persist() {
    if (config.persistence_file.empty()) return;
    std::lock_guard lock(persist_mu);
    const uint64_t changes = push.changes();
    if (changes == persisted_changes) return;
    const absl::Status written =
        internal::WriteFileAtomically(config.persistence_file, push.Serialize());
    if (!written.ok()) {
      log::Error("cannot persist the pushed groups; will retry",
                 {{"file", config.persistence_file}, {"err", std::string(written.message())}});
      return;
    }
    persisted_changes = changes;
    log::Debug("pushed groups persisted", {{"file", config.persistence_file}});
  }

  // GET /api/v1/status, Pushgateway's shape.
  std::string StatusJson() const {
    std::string json = StrCat(
        "{\"status\":\"success\",\"data\":{\"build_information\":{\"branch\":\"\",\"buildDate\":"
        "\"\","
        "\"buildUser\":\"\",\"goVersion\":\"\",\"revision\":\"\",\"version\":\"",
        MG_VERSION, "\"},\"flags\":{");
    for (size_t i = 0; i < config.flag_values.size(); ++i) {
      if (i) json += ',';
      AppendJsonString(config.flag_values[i].first, &json);
      json += ':';
      AppendJsonString(config.flag_values[i].second, &json);
    }
    json +=
        StrCat("},\"start_time\":\"",
               absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", start_time, absl::UTCTimeZone()), "\"}}\n");
    return json;
  }

  // Everything /metrics exports, sorted. The StatsD and push series go straight from the
  // store into the snapshot; the server's own metrics (a few dozen) go through MetricFamily.
  std::shared_ptr<const storage::Snapshot> Snapshot() const {
    auto snapshot = std::make_shared<storage::Snapshot>();
    std::vector<storage::MetricFamily> families;
    ingester.Collect(&families);  // first: see StatsdIngester::Collect
    table.AddTo(snapshot.get());
    push.AddTo(snapshot.get());
    table.CollectOwnMetrics(&families);
    push.CollectOwnMetrics(&families);
    if (udp) udp->Collect(&families);
    if (unixgram) unixgram->Collect(&families);
    if (tcp) tcp->Collect(&families);
    if (forwarder) forwarder->Collect(&families);
    const std::shared_ptr<const ingest::MappingConfig> mapping = ingester.mapping();
    families.push_back({"metricsgate_statsd_mapping_rules",
                        "Rules of the mapping file in force.",
                        storage::MetricType::kGauge,
                        {{{}, mapping ? static_cast<double>(mapping->rule_count()) : 0}}});
    families.push_back({"metricsgate_statsd_mapping_reloads_total",
                        "Loads of the mapping file, at start-up and on reload, by result.",
                        storage::MetricType::kCounter,
                        {{{{"result", "failure"}}, static_cast<double>(reloads_failed.load())},
                         {{{"result", "success"}}, static_cast<double>(reloads_ok.load())}}});
    families.push_back(
        {"metricsgate_build_info",
         "A metric with a constant '1' value labeled by the version metricsgate was built from.",
         storage::MetricType::kGauge,
         {{{{"version", MG_VERSION}}, 1}}});
    snapshot->AddFamilies(families);
    snapshot->Sort();
    return snapshot;
  }
};

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const Config& config) {
  internal::GraphiteConfig graphite;
  if (!config.config_file.empty()) {
    MG_ASSIGN_OR_RETURN(graphite, internal::LoadGraphiteConfig(config.config_file));
  }
  auto parts = std::make_unique<Parts>(config, std::move(graphite));
  Parts* p = parts.get();
  if (!config.graphite_addresses.empty()) {
    GraphiteForwarderOptions options;
    for (const std::string& address : config.graphite_addresses) {
      MG_ASSIGN_OR_RETURN(GraphiteDestination destination, ParseGraphiteDestination(address));
      options.destinations.push_back(std::move(destination));
    }
    options.protocol = config.graphite_pickle ? GraphiteForwarderOptions::Protocol::kPickle
                                              : GraphiteForwarderOptions::Protocol::kPlaintext;
    options.routing = config.graphite_all     ? GraphiteForwarderOptions::Routing::kAll
                      : config.graphite_fnv1a ? GraphiteForwarderOptions::Routing::kFnv1aCh
                                              : GraphiteForwarderOptions::Routing::kCarbonCh;
    options.replication_factor = config.graphite_replication_factor;
    options.diverse_replicas = config.graphite_diverse_replicas;
    options.queue_points = config.graphite_queue_points;
    options.spool_dir = config.graphite_spool_dir;
    options.spool_bytes = config.graphite_spool_bytes;
    MG_ASSIGN_OR_RETURN(p->forwarder, GraphiteForwarder::Create(p->ioc, std::move(options)));
    // The flush's rollups go to the encoders in chunks, as they are computed.
    p->batch.drain = [forwarder = p->forwarder.get()](const exporter::GraphiteBatch& chunk) {
      forwarder->Encode(chunk);
    };
  }
  if (!config.statsd_mapping_config.empty()) {
    MG_RETURN_IF_ERROR(p->ReloadMapping());  // a bad file at start-up is fatal
  }
  if (!config.persistence_file.empty()) {
    // A file that cannot be read back stops start-up and stays as it is: nothing is dropped
    // silently (Pushgateway logs and starts empty, then overwrites it).
    MG_ASSIGN_OR_RETURN(std::optional<std::string> image,
                        internal::ReadFileIfExists(config.persistence_file));
    if (image) {
      if (absl::Status restored = p->push.Restore(*image); !restored.ok()) {
        return absl::DataLossError(
            StrCat("cannot load --persistence.file ", config.persistence_file, ": ",
                   std::string(restored.message()),
                   "; the file is left untouched: move it away to start without it"));
      }
      p->persisted_changes = p->push.changes();
      log::Info("pushed groups loaded",
                {{"file", config.persistence_file}, {"groups", std::to_string(p->push.size())}});
    }
  }
  if (!config.statsd_listen_udp.empty()) {
    MG_ASSIGN_OR_RETURN(
        p->udp, StatsdDatagramListener::CreateUdp(
                    p->ioc, config.statsd_listen_udp,
                    config.statsd_udp_sockets > 0
                        ? config.statsd_udp_sockets
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
                    config.statsd_read_buffer, &p->ingester));
  }
  if (!config.statsd_listen_unixgram.empty()) {
    MG_ASSIGN_OR_RETURN(p->unixgram,
                        StatsdDatagramListener::CreateUnixgram(
                            p->ioc, config.statsd_listen_unixgram, config.statsd_unixsocket_mode,
                            config.statsd_read_buffer, &p->ingester));
  }
  // A small pool: I/O threads serve HTTP and StatsD TCP connections (the first also timers and
  // signals); more than four buys nothing yet.
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
  for (unsigned i = 1; i < threads; ++i) {
    p->workers.push_back(std::make_unique<asio::io_context>(1));
  }
  if (!config.statsd_listen_tcp.empty()) {
    MG_ASSIGN_OR_RETURN(p->tcp, StatsdTcpListener::Create(p->ioc, config.statsd_listen_tcp,
                                                          config.statsd_tcp_idle_timeout,
                                                          &p->ingester, p->ConnectionContexts()));
  }
  RouteOptions routes;
  routes.telemetry_path = config.web_telemetry_path;
  routes.snapshot = [p] { return p->Snapshot(); };
  routes.statsd = &p->ingester;
  routes.reload = [p] { return p->ReloadMapping(); };
  routes.push = &p->push;
  routes.push_consistency_check = !config.push_disable_consistency_check;
  routes.enable_admin_api = config.web_enable_admin_api;
  if (config.web_enable_lifecycle) {
    routes.quit = [] { std::raise(SIGTERM); };  // the same orderly shutdown as a signal
  }
  routes.status_json = [p] { return p->StatusJson(); };
  MG_ASSIGN_OR_RETURN(p->http, HttpServer::Create(p->ioc, config.web_listen_address,
                                                  MakeRoutes(routes), p->ConnectionContexts()));
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

int Server::Run() {
  Parts& p = *parts_;
  // Signals are caught before the first "listening" line: whoever waits for that line may
  // signal at once.
  asio::signal_set signals(p.ioc, SIGINT, SIGTERM);
  asio::steady_timer deadline(p.ioc);
  // Every second, series whose TTL has passed are removed (as statsd_exporter sweeps).
  asio::steady_timer sweep(p.ioc);
  std::function<void()> schedule_sweep = [&] {
    sweep.expires_after(std::chrono::seconds(1));
    sweep.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      p.table.Expire();
      p.push.Expire();
      schedule_sweep();
    });
  };
  schedule_sweep();
  // SIGHUP reloads the mapping file, as statsd_exporter's.
  asio::signal_set hangup(p.ioc, SIGHUP);
  std::function<void()> await_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      log::Info("SIGHUP: reloading the mapping file");
      (void)p.ReloadMapping();  // logged and counted there
      await_hangup();
    });
  };
  await_hangup();
  if (p.forwarder) p.forwarder->Start();
  p.flusher = std::thread([&p] { p.FlushLoop(); });
  if (p.config.storage_sort_ahead) p.sorter = std::thread([&p] { p.SortLoop(); });
  // Pushed groups are written at most once per --persistence.interval after a change.
  asio::steady_timer persist(p.ioc);
  std::function<void()> schedule_persist = [&] {
    persist.expires_after(p.config.persistence_interval);
    persist.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      p.Persist();
      schedule_persist();
    });
  };
  if (!p.config.persistence_file.empty()) schedule_persist();
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    persist.cancel();
    if (p.udp) p.udp->Stop();
    if (p.unixgram) p.unixgram->Stop();
    if (p.tcp) p.tcp->Stop();
    hangup.cancel();
    sweep.cancel();
    deadline.expires_after(kShutdownGrace);
    deadline.async_wait([&](const boost::system::error_code& timer_ec) {
      if (timer_ec) return;
      log::Warn("connections still open after the shutdown grace period; closing them",
                {{"grace", std::to_string(kShutdownGrace.count()) + "s"}});
      p.ioc.stop();
    });
    // The io_context stops once HTTP has shut down and the last rollups are sent (or the
    // grace period is over).
    auto parts_left = std::make_shared<int>(p.forwarder ? 2 : 1);
    auto part_done = [&p, parts_left] {
      if (--*parts_left == 0) asio::post(p.ioc, [&p] { p.ioc.stop(); });
    };
    p.http->Shutdown([part_done] { part_done(); });
    // The partial interval is flushed, as Etsy flushes on exit.
    p.StopFlusher();
    p.Flush();
    if (p.forwarder) p.forwarder->Drain(kShutdownGrace, [part_done] { part_done(); });
    // Logged once every listener has been told to stop: from this line on, no new work starts.
    log::Info("shutting down", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  });

  log::Info("starting metricsgate", {{"version", MG_VERSION}});
  for (auto [listener, name, flag] :
       {std::tuple{p.udp.get(), "StatsD UDP", "--statsd.listen-udp"},
        std::tuple{p.unixgram.get(), "StatsD unixgram", "--statsd.listen-unixgram"}}) {
    if (listener == nullptr) {
      log::Info(StrCat(name, " listener disabled (", flag, " is empty)"));
      continue;
    }
    listener->Start();
    log::Info(StrCat(name, " listener started"),
              {{"address", listener->local_address()},
               {"sockets", std::to_string(listener->sockets())},
               {"read_buffer_bytes", std::to_string(listener->granted_read_buffer())}});
  }
  if (p.tcp) {
    p.tcp->Start();
    log::Info("StatsD TCP listener started", {{"address", p.tcp->local_address()}});
  } else {
    log::Info("StatsD TCP listener disabled (--statsd.listen-tcp is empty)");
  }
  p.http->Start();
  log::Info("HTTP server listening", {{"address", p.http->local_address()},
                                      {"telemetry_path", p.config.web_telemetry_path}});

  // The workers run until the main context ends (every connection closed, or the grace period
  // over); their guards keep them running while they have no connection.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> pool;
  for (auto& worker : p.workers) {
    guards.push_back(asio::make_work_guard(*worker));
    pool.emplace_back([&context = *worker] { context.run(); });
  }
  p.ioc.run();
  p.StopFlusher();
  p.StopSorter();
  for (auto& worker : p.workers) worker->stop();
  for (std::thread& thread : pool) thread.join();
  p.Persist();  // the last pushes, once no request is in flight
  log::Info("stopped");
  return 0;
}

}  // namespace metricsgate::server
