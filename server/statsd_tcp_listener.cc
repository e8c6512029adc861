#include "server/statsd_tcp_listener.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "server/internal/accept_loop.h"
#include "server/internal/endpoint.h"
#include "server/internal/task.h"

namespace metricsgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// Touched only on its strand.
struct TcpConnection {
  explicit TcpConnection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
};

}  // namespace

struct StatsdTcpListener::State {
  State(asio::io_context& io, std::chrono::milliseconds idle, ingest::StatsdIngester* i,
        std::vector<asio::io_context*> contexts)
      : acceptor(asio::make_strand(io)),
        connection_contexts(io, std::move(contexts)),
        idle_timeout(idle),
        ingester(i) {}

  bool Register(const std::shared_ptr<TcpConnection>& connection) {
    absl::MutexLock lock(&mu);
    if (stopping) return false;
    connections.insert(connection);
    return true;
  }
  void Unregister(const std::shared_ptr<TcpConnection>& connection) {
    absl::MutexLock lock(&mu);
    connections.erase(connection);
  }

  tcp::acceptor acceptor;                            // on its own strand
  internal::ConnectionContexts connection_contexts;  // used on the acceptor's strand
  const std::chrono::milliseconds idle_timeout;
  ingest::StatsdIngester* const ingester;
  std::string local_address;
  absl::Mutex mu;
  absl::flat_hash_set<std::shared_ptr<TcpConnection>> connections ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::atomic<uint64_t> too_long_lines{0};
};

namespace {

asio::awaitable<void> Serve(std::shared_ptr<StatsdTcpListener::State> state,
                            std::shared_ptr<TcpConnection> connection) {
  std::unique_ptr<char[]> buffer(new char[StatsdTcpListener::kMaxLineLength]);
  size_t used = 0;
  bool discarding = false;  // inside a line that was too long
  for (;;) {
    connection->stream.expires_after(state->idle_timeout);
    auto [ec, n] = co_await connection->stream.async_read_some(
        asio::buffer(buffer.get() + used, StatsdTcpListener::kMaxLineLength - used),
        asio::as_tuple(asio::use_awaitable));
    if (ec) {
      // The client closed: its last line counts even without a newline.
      if (ec == asio::error::eof && used > 0 && !discarding) {
        state->ingester->HandlePacket(std::string_view(buffer.get(), used),
                                      ingest::StatsdTransport::kTcp);
      }
      break;
    }
    used += n;
    size_t start = 0;
    if (discarding) {
      const char* newline = static_cast<const char*>(std::memchr(buffer.get(), '\n', used));
      if (newline == nullptr) {
        used = 0;
        continue;
      }
      start = newline - buffer.get() + 1;
      discarding = false;
    }
    const char* last = static_cast<const char*>(memrchr(buffer.get() + start, '\n', used - start));
    if (last != nullptr) {
      const size_t end = last - buffer.get() + 1;
      state->ingester->HandlePacket(std::string_view(buffer.get() + start, end - start),
                                    ingest::StatsdTransport::kTcp);
      start = end;
    }
    std::memmove(buffer.get(), buffer.get() + start, used - start);
    used -= start;
    if (used == StatsdTcpListener::kMaxLineLength) {
      state->too_long_lines.fetch_add(1, std::memory_order_relaxed);
      discarding = true;
      used = 0;
    }
  }
  beast::error_code ignored;
  connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  state->Unregister(connection);
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatsdTcpListener>> StatsdTcpListener::Create(
    asio::io_context& ioc, std::string_view address, std::chrono::milliseconds idle_timeout,
    ingest::StatsdIngester* ingester, std::vector<asio::io_context*> connection_contexts) {
  MG_ASSIGN_OR_RETURN(ListenAddress parsed, ParseListenAddress(address));
  auto state = std::make_shared<State>(ioc, idle_timeout, ingester, std::move(connection_contexts));
  MG_RETURN_IF_ERROR(internal::OpenAndBind(state->acceptor, parsed, address, "statsd.listen-tcp"));
  state->local_address = internal::EndpointToString(state->acceptor.local_endpoint());
  return std::unique_ptr<StatsdTcpListener>(new StatsdTcpListener(std::move(state)));
}

StatsdTcpListener::~StatsdTcpListener() = default;

void StatsdTcpListener::Start() {
  auto serve = [state = state_](tcp::socket socket) {
    auto connection = std::make_shared<TcpConnection>(std::move(socket));
    if (!state->Register(connection)) return;  // stopping: drop it
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor, Serve(state, std::move(connection)),
                   internal::LogExceptions("statsd tcp connection"));
  };
  asio::co_spawn(state_->acceptor.get_executor(), internal::AcceptLoop(state_, "statsd tcp", serve),
                 internal::LogExceptions("statsd tcp accept"));
}

void StatsdTcpListener::Stop() {
  std::vector<std::shared_ptr<TcpConnection>> open;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
    open.assign(state_->connections.begin(), state_->connections.end());
  }
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& connection : open) {
    asio::post(connection->stream.get_executor(), [connection] { connection->stream.cancel(); });
  }
}

const std::string& StatsdTcpListener::local_address() const { return state_->local_address; }

void StatsdTcpListener::Collect(std::vector<storage::MetricFamily>* out) const {
  size_t connections;
  {
    absl::MutexLock lock(&state_->mu);
    connections = state_->connections.size();
  }
  out->push_back({"metricsgate_statsd_tcp_connections",
                  "Open StatsD TCP connections.",
                  storage::MetricType::kGauge,
                  {{{{"address", state_->local_address}}, static_cast<double>(connections)}}});
  out->push_back({"metricsgate_statsd_tcp_too_long_lines_total",
                  "StatsD TCP lines dropped for being longer than 64 KiB.",
                  storage::MetricType::kCounter,
                  {{{{"address", state_->local_address}},
                    static_cast<double>(state_->too_long_lines.load(std::memory_order_relaxed))}}});
}

}  // namespace metricsgate::server
