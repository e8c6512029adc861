#include "server/graphite_forwarder.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>

#include "base/log.h"
#include "base/status_macros.h"
#include "base/str_cat.h"
#include "export/carbon_protocol.h"
#include "export/carbon_ring.h"
#include "server/internal/spool.h"
#include "server/internal/task.h"

namespace metricsgate::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::seconds kConnectTimeout{5};
// How far back a broken connection's writes are sent again (carbon may have them unread in
// its socket when it stops), and how many bytes of them are kept at most.
constexpr std::chrono::seconds kReplayWindow{5};
constexpr size_t kReplayBytes = 64 << 20;

log::RateLimiter connect_log(1);
log::RateLimiter spool_log(1);

}  // namespace

std::string GraphiteDestination::ToString() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (instance) out += ":" + *instance;
  return out;
}

absl::StatusOr<GraphiteDestination> ParseGraphiteDestination(std::string_view text) {
  GraphiteDestination out;
  std::string_view rest = text;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("graphite destination \"", text, "\": missing ]"));
    }
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.starts_with(':')) {
      return absl::InvalidArgumentError(
          StrCat("graphite destination \"", text, "\": want host:port[:instance]"));
    }
    rest.remove_prefix(1);
  } else {
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat("graphite destination \"", text, "\": want host:port[:instance]"));
    }
    out.host = std::string(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  const size_t colon = rest.find(':');
  const std::string_view port = rest.substr(0, colon);
  if (colon != std::string_view::npos) out.instance = std::string(rest.substr(colon + 1));
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      value = -1;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (out.host.empty() || port.empty() || value <= 0 || value > 65535) {
    return absl::InvalidArgumentError(StrCat("graphite destination \"", text,
                                             "\": want host:port[:instance] with a port 1-65535"));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

struct GraphiteForwarder::Destination {
  struct Piece {
    std::shared_ptr<std::string> bytes;
    size_t points = 0;
  };
  Destination(asio::io_context& ioc, GraphiteDestination a, bool pickle)
      : address(std::move(a)), encoder(pickle), wake(ioc) {}

  // Gives a piece's buffer back to the encoder once nobody else holds it.
  void Release(Piece& piece) {
    if (piece.bytes && piece.bytes.use_count() == 1) encoder.Recycle(std::move(*piece.bytes));
    piece.bytes.reset();
  }

  const GraphiteDestination address;
  exporter::CarbonEncoder encoder;  // Send() only (the flush thread); Recycle() from any
  std::mutex mu;
  // Guarded by mu. Sent in this order: pieces put back after a failed or lost write (the
  // oldest), the spool's, then the queue's.
  std::deque<Piece> retry;
  std::unique_ptr<internal::Spool> spool;  // null without a spool directory
  std::deque<Piece> queue;
  size_t queued_points = 0;  // in `retry` and `queue`
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<size_t> queued{0};
  std::atomic<uint64_t> spooled{0};
  // The io_context's thread only:
  asio::steady_timer wake;  // the sender sleeps on it; cancelled when work arrives
  std::shared_ptr<tcp::socket> socket;
  uint64_t connection = 0;  // bumped on every new connection
  // Pieces written on this connection lately, oldest first: sent again if the peer drops the
  // connection, since carbon acknowledges nothing and may not have read them.
  std::deque<std::pair<std::chrono::steady_clock::time_point, Piece>> recent;
  size_t recent_bytes = 0;
  std::atomic<uint64_t> resent{0};

  void Written(Piece piece) {
    const auto now = std::chrono::steady_clock::now();
    recent_bytes += piece.bytes->size();
    recent.emplace_back(now, std::move(piece));
    while (!recent.empty() &&
           (recent.front().first < now - kReplayWindow || recent_bytes > kReplayBytes)) {
      recent_bytes -= recent.front().second.bytes->size();
      recent.pop_front();
    }
  }
  // The connection broke: its recent pieces go back to the front of the queue, in order.
  void LoseConnection() {
    Close();
    const auto cutoff = std::chrono::steady_clock::now() - kReplayWindow;
    std::lock_guard lock(mu);
    for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
      if (it->first < cutoff) {
        Release(it->second);
        continue;
      }
      queued_points += it->second.points;
      resent.fetch_add(it->second.points, std::memory_order_relaxed);
      retry.push_front(std::move(it->second));
    }
    queued.store(queued_points, std::memory_order_relaxed);
    recent.clear();
    recent_bytes = 0;
  }

  // Moves `piece` to the spool, or drops it (without a spool, or when the spool fails).
  // REQUIRES: mu held.
  void Overflow(Piece& piece) {
    if (spool) {
      absl::StatusOr<uint64_t> spool_dropped = spool->Append(*piece.bytes, piece.points);
      if (spool_dropped.ok()) {
        dropped.fetch_add(*spool_dropped, std::memory_order_relaxed);
        Release(piece);
        spooled.store(spool->points(), std::memory_order_relaxed);
        return;
      }
      if (spool_log.Allow()) {
        log::Error("cannot spool graphite points; they are dropped",
                   {{"destination", address.ToString()},
                    {"err", std::string(spool_dropped.status().message())}});
      }
    }
    dropped.fetch_add(piece.points, std::memory_order_relaxed);
    Release(piece);
  }
  // Appends `piece`; beyond `limit` points the oldest queued pieces overflow.
  void Push(Piece piece, size_t limit) {
    std::lock_guard lock(mu);
    queued_points += piece.points;
    queue.push_back(std::move(piece));
    while (queued_points > limit && queue.size() > 1) {
      queued_points -= queue.front().points;
      Overflow(queue.front());
      queue.pop_front();
    }
    queued.store(queued_points, std::memory_order_relaxed);
  }
  std::optional<Piece> Take() {
    std::lock_guard lock(mu);
    std::optional<Piece> piece;
    if (!retry.empty()) {
      piece = std::move(retry.front());
      retry.pop_front();
      queued_points -= piece->points;
    } else if (spool && !spool->empty()) {
      uint64_t lost = 0;
      if (std::optional<internal::Spool::Piece> spooled_piece = spool->Pop(&lost)) {
        piece = Piece{std::make_shared<std::string>(std::move(spooled_piece->bytes)),
                      spooled_piece->points};
      }
      dropped.fetch_add(lost, std::memory_order_relaxed);
      spooled.store(spool->points(), std::memory_order_relaxed);
    }
    if (!piece && !queue.empty()) {
      piece = std::move(queue.front());
      queue.pop_front();
      queued_points -= piece->points;
    }
    queued.store(queued_points, std::memory_order_relaxed);
    return piece;
  }
  void PutBack(Piece piece) {
    std::lock_guard lock(mu);
    queued_points += piece.points;
    retry.push_front(std::move(piece));
    queued.store(queued_points, std::memory_order_relaxed);
  }
  bool Empty() {
    std::lock_guard lock(mu);
    return retry.empty() && queue.empty() && (!spool || spool->empty());
  }
  // At the end of a drain: what is still queued goes to the spool for the next run, or is
  // dropped. Returns the points dropped.
  size_t DropAll() {
    std::lock_guard lock(mu);
    const uint64_t before = dropped.load(std::memory_order_relaxed);
    for (std::deque<Piece>* pieces : {&retry, &queue}) {
      for (Piece& piece : *pieces) Overflow(piece);
      pieces->clear();
    }
    queued_points = 0;
    queued.store(0, std::memory_order_relaxed);
    return dropped.load(std::memory_order_relaxed) - before;
  }
  void Close() {
    if (socket) {
      boost::system::error_code ignored;
      socket->close(ignored);
      socket.reset();
    }
  }
};

struct GraphiteForwarder::State {
  State(asio::io_context& context, GraphiteForwarderOptions o)
      : ioc(context), options(std::move(o)), drain_timer(context) {}
  asio::io_context& ioc;
  const GraphiteForwarderOptions options;
  std::optional<exporter::CarbonRing> ring;
  std::vector<std::unique_ptr<Destination>> destinations;
  std::atomic<size_t> last_flush_bytes{0};
  // The io_context's thread only:
  bool stopping = false;
  bool give_up = false;  // the drain's grace is over
  size_t running = 0;
  asio::steady_timer drain_timer;
  std::function<void()> drained;

  void SenderDone() {
    if (--running == 0 && stopping) {
      drain_timer.cancel();
      if (drained) asio::post(ioc, std::exchange(drained, nullptr));
    }
  }
};

namespace {

// Closes the connection when the peer closes it (carbon never writes back), so the sender
// reconnects before its next write instead of losing it into a dead socket.
asio::awaitable<void> WatchConnection([[maybe_unused]] std::shared_ptr<void> keep_alive,
                                      GraphiteForwarder::Destination* d,
                                      std::shared_ptr<tcp::socket> socket, uint64_t connection) {
  char byte;
  while (true) {
    auto [ec, n] = co_await socket->async_read_some(asio::buffer(&byte, 1),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
  if (d->connection == connection && d->socket == socket) {
    log::Info("graphite destination closed the connection; its last writes will be sent again",
              {{"destination", d->address.ToString()}});
    d->LoseConnection();
    d->wake.cancel();
  }
}

asio::awaitable<void> RunSender(std::shared_ptr<GraphiteForwarder::State> state,
                                GraphiteForwarder::Destination* d) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor);
  std::chrono::milliseconds backoff = kFirstBackoff;
  const std::string name = d->address.ToString();
  while (!state->give_up) {
    if (d->Empty()) {
      if (state->stopping) break;
      d->wake.expires_at(asio::steady_timer::time_point::max());
      co_await d->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (!d->socket) {
      auto [resolve_ec, endpoints] = co_await resolver.async_resolve(
          d->address.host, std::to_string(d->address.port), asio::as_tuple(asio::use_awaitable));
      boost::system::error_code ec = resolve_ec;
      auto socket = std::make_shared<tcp::socket>(executor);
      if (!ec) {
        timer.expires_after(kConnectTimeout);
        timer.async_wait([socket](const boost::system::error_code& timer_ec) {
          if (!timer_ec) {
            boost::system::error_code ignored;
            socket->close(ignored);
          }
        });
        auto [connect_ec, endpoint] =
            co_await asio::async_connect(*socket, endpoints, asio::as_tuple(asio::use_awaitable));
        timer.cancel();
        ec = connect_ec;
      }
      if (ec) {
        d->connect_failures.fetch_add(1, std::memory_order_relaxed);
        if (connect_log.Allow()) {
          log::Warn("cannot connect to graphite; rollups wait in its queue",
                    {{"destination", name}, {"err", ec.message()}});
        }
        // Sleeps on `wake` so that a drain's end can cut the wait short.
        d->wake.expires_after(backoff);
        co_await d->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = kFirstBackoff;
      boost::system::error_code ignored;
      socket->set_option(tcp::no_delay(true), ignored);
      d->socket = socket;
      ++d->connection;
      log::Info("connected to graphite", {{"destination", name}});
      asio::co_spawn(executor, WatchConnection(state, d, socket, d->connection), asio::detached);
    }
    std::optional<GraphiteForwarder::Destination::Piece> piece = d->Take();
    if (!piece) continue;
    std::shared_ptr<tcp::socket> socket = d->socket;
    auto [ec, written] = co_await asio::async_write(*socket, asio::buffer(*piece->bytes),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) {
      d->PutBack(*std::move(piece));
      if (d->socket == socket) d->LoseConnection();
      continue;
    }
    d->sent.fetch_add(piece->points, std::memory_order_relaxed);
    d->Written(*std::move(piece));
  }
  d->Close();
  state->SenderDone();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GraphiteForwarder>> GraphiteForwarder::Create(
    asio::io_context& ioc, GraphiteForwarderOptions options) {
  if (options.destinations.empty()) {
    return absl::InvalidArgumentError("graphite: no destination");
  }
  if (options.replication_factor < 1) {
    return absl::InvalidArgumentError("graphite: the replication factor must be at least 1");
  }
  std::unique_ptr<GraphiteForwarder> forwarder(new GraphiteForwarder());
  auto state = std::make_shared<State>(ioc, std::move(options));
  std::vector<exporter::CarbonRing::Node> nodes;
  for (const GraphiteDestination& address : state->options.destinations) {
    for (const auto& d : state->destinations) {
      if (d->address.host == address.host && d->address.instance == address.instance) {
        return absl::InvalidArgumentError(
            StrCat("graphite destination ", address.ToString(),
                   " repeats the host and instance of ", d->address.ToString(),
                   " (carbon's ring tells nodes apart by host and instance, not port)"));
      }
    }
    state->destinations.push_back(std::make_unique<Destination>(
        ioc, address, state->options.protocol == GraphiteForwarderOptions::Protocol::kPickle));
    if (!state->options.spool_dir.empty()) {
      // One spool per destination, named after it (and the protocol: a plaintext spool must
      // not be sent to a pickle port).
      std::string stem = address.ToString();
      for (char& c : stem) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '-';
        if (!keep) c = '_';
      }
      stem += state->options.protocol == GraphiteForwarderOptions::Protocol::kPickle ? "_pickle"
                                                                                     : "_plaintext";
      MG_ASSIGN_OR_RETURN(
          state->destinations.back()->spool,
          internal::Spool::Open(state->options.spool_dir, stem, state->options.spool_bytes));
      Destination& d = *state->destinations.back();
      d.spooled.store(d.spool->points(), std::memory_order_relaxed);
      if (!d.spool->empty()) {
        log::Info(
            "graphite spool holds points from an earlier run; they are sent first",
            {{"destination", address.ToString()}, {"points", std::to_string(d.spool->points())}});
      }
    }
    nodes.push_back({address.host, address.instance});
  }
  using Routing = GraphiteForwarderOptions::Routing;
  if (state->options.routing != Routing::kAll) {
    state->ring.emplace(std::move(nodes), state->options.routing == Routing::kCarbonCh
                                              ? exporter::CarbonRing::HashType::kCarbonCh
                                              : exporter::CarbonRing::HashType::kFnv1aCh);
  }
  forwarder->state_ = std::move(state);
  return forwarder;
}

GraphiteForwarder::~GraphiteForwarder() = default;

void GraphiteForwarder::Start() {
  for (auto& d : state_->destinations) {
    ++state_->running;
    asio::co_spawn(state_->ioc, RunSender(state_, d.get()),
                   internal::LogExceptions("graphite sender"));
  }
}

void GraphiteForwarder::Encode(const exporter::GraphiteBatch& batch) {
  State& state = *state_;
  const size_t count = state.destinations.size();
  std::vector<size_t> targets;
  for (const exporter::GraphiteBatch::Point& point : batch.points) {
    const std::string_view name = batch.name(point);
    targets.clear();
    if (state.ring) {
      state.ring->NodesFor(name, state.options.replication_factor, state.options.diverse_replicas,
                           &targets);
    } else {
      for (size_t i = 0; i < count; ++i) targets.push_back(i);
    }
    for (size_t i : targets) state.destinations[i]->encoder.Add(name, point.value, batch.timestamp);
  }
}

void GraphiteForwarder::Commit() {
  State& state = *state_;
  size_t bytes = 0;
  for (auto& d : state.destinations) {
    for (exporter::CarbonEncoder::Piece& piece : d->encoder.Finish()) {
      bytes += piece.bytes.size();
      d->Push({std::make_shared<std::string>(std::move(piece.bytes)), piece.points},
              state.options.queue_points);
    }
  }
  state.last_flush_bytes.store(bytes, std::memory_order_relaxed);
  asio::post(state.ioc, [s = state_] {
    for (auto& d : s->destinations) d->wake.cancel();
  });
}

void GraphiteForwarder::Drain(std::chrono::milliseconds grace, std::function<void()> done) {
  asio::post(state_->ioc, [s = state_, grace, done = std::move(done)]() mutable {
    s->stopping = true;
    if (s->running == 0) {
      done();
      return;
    }
    s->drained = std::move(done);
    for (auto& d : s->destinations) d->wake.cancel();
    s->drain_timer.expires_after(grace);
    s->drain_timer.async_wait([s](const boost::system::error_code& ec) {
      if (ec) return;
      s->give_up = true;
      for (auto& d : s->destinations) {
        const size_t lost = d->DropAll();
        if (lost > 0) {
          log::Warn("graphite destination not drained in time; its queued points are dropped",
                    {{"destination", d->address.ToString()}, {"points", std::to_string(lost)}});
        } else if (std::lock_guard lock(d->mu); d->spool && !d->spool->empty()) {
          log::Info("graphite destination not drained in time; its points wait in its spool",
                    {{"destination", d->address.ToString()},
                     {"points", std::to_string(d->spool->points())}});
        }
        d->Close();
        d->wake.cancel();
      }
    });
  });
}

size_t GraphiteForwarder::last_flush_bytes() const {
  return state_->last_flush_bytes.load(std::memory_order_relaxed);
}

void GraphiteForwarder::Collect(std::vector<storage::MetricFamily>* out) const {
  using storage::MetricFamily;
  using storage::MetricType;
  using storage::Sample;
  const auto family = [&](std::string name, std::string help, MetricType type, auto value) {
    MetricFamily f{std::move(name), std::move(help), type, {}};
    for (const auto& d : state_->destinations) {
      f.samples.push_back(
          Sample{{{"destination", d->address.ToString()}}, static_cast<double>(value(*d))});
    }
    out->push_back(std::move(f));
  };
  family("metricsgate_graphite_points_sent_total", "Rollup points written to a carbon destination.",
         MetricType::kCounter,
         [](Destination& d) { return d.sent.load(std::memory_order_relaxed); });
  family("metricsgate_graphite_points_dropped_total",
         "Rollup points dropped: the destination's queue was full, or shutdown came first.",
         MetricType::kCounter,
         [](Destination& d) { return d.dropped.load(std::memory_order_relaxed); });
  family("metricsgate_graphite_points_queued", "Rollup points waiting for a carbon destination.",
         MetricType::kGauge,
         [](Destination& d) { return d.queued.load(std::memory_order_relaxed); });
  family("metricsgate_graphite_points_spooled",
         "Rollup points waiting in a destination's spool file (--graphite.spool-dir).",
         MetricType::kGauge,
         [](Destination& d) { return d.spooled.load(std::memory_order_relaxed); });
  family("metricsgate_graphite_points_resent_total",
         "Rollup points written again after the destination dropped the connection: carbon "
         "acknowledges nothing, so the last seconds' writes are repeated (a repeated point "
         "changes nothing in whisper).",
         MetricType::kCounter,
         [](Destination& d) { return d.resent.load(std::memory_order_relaxed); });
  family("metricsgate_graphite_connect_failures_total",
         "Failed attempts to connect to a carbon destination.", MetricType::kCounter,
         [](Destination& d) { return d.connect_failures.load(std::memory_order_relaxed); });
}

}  // namespace metricsgate::server
