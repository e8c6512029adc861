#include "server/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "server/internal/accept_loop.h"
#include "server/internal/endpoint.h"
#include "server/internal/task.h"

namespace metricsgate::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kReadTimeout{30};   // a whole request, or an idle keep-alive
constexpr std::chrono::seconds kWriteTimeout{30};  // a whole response
constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024 * 1024;
constexpr size_t kReadBuffer = 16 * 1024;  // per connection (see Serve)

std::string ToString(beast::string_view s) { return std::string(s.data(), s.size()); }

// Touched only on its strand, except `self` bookkeeping under State::mu.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::optional<http::request_parser<http::string_body>> parser;
  bool waiting_for_request = false;
};

HttpRequest ToHttpRequest(http::request<http::string_body>&& req) {
  HttpRequest out;
  out.method = ToString(req.method_string());
  out.target = ToString(req.target());
  for (const auto& field : req) {
    std::string name = ToString(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), ToString(field.value()));
  }
  out.body = std::move(req.body());
  return out;
}

http::response<http::string_body> ToBeastResponse(HttpResponse&& response, unsigned version,
                                                  bool head, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(response.status), version};
  res.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (head) {
    // What GET would send, without the body: its length, or none for a streamed body (GET
    // sends that chunked).
    if (!response.stream) res.content_length(response.body.size());
  } else {
    res.body() = std::move(response.body);
    res.prepare_payload();
  }
  return res;
}

// The answer to a request Beast could not parse; the connection closes after it.
std::optional<HttpResponse> ParseErrorResponse(const beast::error_code& ec) {
  if (ec == http::error::body_limit) {
    return HttpResponse{413, "text/plain; charset=utf-8", "request body too large\n", {}};
  }
  if (ec == http::error::header_limit) {
    return HttpResponse{431, "text/plain; charset=utf-8", "request header too large\n", {}};
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;  // the client closed the connection
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return HttpResponse{
        400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n", {}};
  }
  return std::nullopt;  // closed, timed out or cancelled: nobody to answer
}

}  // namespace

struct HttpServer::State {
  State(asio::io_context& io, HttpHandler h, std::vector<asio::io_context*> contexts)
      : acceptor(asio::make_strand(io)),
        handler(std::move(h)),
        connection_contexts(io, std::move(contexts)) {}

  bool Stopping() {
    absl::MutexLock lock(&mu);
    return stopping;
  }

  // Returns false (and keeps nothing) when the server is shutting down.
  bool Register(Connection* connection) {
    absl::MutexLock lock(&mu);
    if (stopping) return false;
    connections.insert(connection);
    return true;
  }

  void Unregister(Connection* connection) {
    std::function<void()> drained;
    {
      absl::MutexLock lock(&mu);
      connections.erase(connection);
      if (stopping && connections.empty()) drained = std::move(on_drained);
    }
    if (drained) drained();
  }

  tcp::acceptor acceptor;  // on its own strand
  const HttpHandler handler;
  internal::ConnectionContexts connection_contexts;  // used on the acceptor's strand
  absl::Mutex mu;
  absl::flat_hash_set<Connection*> connections ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::function<void()> on_drained ABSL_GUARDED_BY(mu);
};

namespace {

// Sends a response whose body comes from `response.stream`: chunked in HTTP/1.1; in HTTP/1.0
// as it comes, ended by closing the connection. Returns false on a write error.
asio::awaitable<bool> WriteStreamed(Connection& connection, HttpResponse response, unsigned version,
                                    bool keep_alive) {
  http::response<http::empty_body> header{static_cast<http::status>(response.status), version};
  header.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) header.set(name, value);
  const bool chunked = version >= 11;
  header.keep_alive(keep_alive && chunked);
  if (chunked) header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  connection.stream.expires_after(kWriteTimeout);
  auto [header_ec, header_bytes] =
      co_await http::async_write_header(connection.stream, serializer, kAwait);
  if (header_ec) co_return false;
  std::string piece;
  for (;;) {
    piece.clear();
    const bool more = response.stream(&piece);
    if (!piece.empty()) {
      connection.stream.expires_after(kWriteTimeout);
      auto [ec, bytes] =
          chunked ? co_await asio::async_write(connection.stream,
                                               http::make_chunk(asio::buffer(piece)), kAwait)
                  : co_await asio::async_write(connection.stream, asio::buffer(piece), kAwait);
      if (ec) co_return false;
    }
    if (!more) break;
  }
  if (chunked) {
    auto [ec, bytes] =
        co_await asio::async_write(connection.stream, http::make_chunk_last(), kAwait);
    if (ec) co_return false;
  }
  co_return true;
}

asio::awaitable<void> Serve(std::shared_ptr<HttpServer::State> state,
                            std::shared_ptr<Connection> connection) {
  // Beast reads as much as the buffer has room for, at least 512 bytes: from an empty buffer a
  // 4 KB push took seven reads (and their epoll rounds). With room for a typical push body it
  // takes one.
  beast::flat_buffer buffer;
  buffer.reserve(kReadBuffer);
  for (;;) {
    connection->parser.emplace();
    connection->parser->header_limit(kHeaderLimit);
    connection->parser->body_limit(kBodyLimit);
    connection->waiting_for_request = true;
    if (state->Stopping()) break;
    connection->stream.expires_after(kReadTimeout);
    auto [read_ec, read_bytes] =
        co_await http::async_read(connection->stream, buffer, *connection->parser, kAwait);
    connection->waiting_for_request = false;
    std::optional<http::response<http::string_body>> res;
    bool keep_alive = false;
    if (read_ec) {
      std::optional<HttpResponse> error = ParseErrorResponse(read_ec);
      if (!error) break;
      res = ToBeastResponse(std::move(*error), 11, /*head=*/false, /*keep_alive=*/false);
    } else {
      http::request<http::string_body> req = connection->parser->release();
      const bool head = req.method() == http::verb::head;
      const unsigned version = req.version();
      keep_alive = req.keep_alive() && !state->Stopping();
      HttpResponse response = state->handler(ToHttpRequest(std::move(req)));
      if (response.stream && !head) {
        const bool ok =
            co_await WriteStreamed(*connection, std::move(response), version, keep_alive);
        if (!ok || !keep_alive || version < 11) break;
        continue;
      }
      res = ToBeastResponse(std::move(response), version, head, keep_alive);
    }
    connection->stream.expires_after(kWriteTimeout);
    auto [write_ec, write_bytes] = co_await http::async_write(connection->stream, *res, kAwait);
    if (write_ec || !keep_alive) break;
  }
  beast::error_code ignored;
  connection->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  state->Unregister(connection.get());
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(
    asio::io_context& ioc, std::string_view address, HttpHandler handler,
    std::vector<asio::io_context*> connection_contexts) {
  MG_ASSIGN_OR_RETURN(ListenAddress parsed, ParseListenAddress(address));
  auto state = std::make_shared<State>(ioc, std::move(handler), std::move(connection_contexts));
  MG_RETURN_IF_ERROR(internal::OpenAndBind(state->acceptor, parsed, address, "web.listen-address"));
  std::string local = internal::EndpointToString(state->acceptor.local_endpoint());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state), std::move(local)));
}

HttpServer::~HttpServer() = default;

void HttpServer::Start() {
  auto serve = [state = state_](tcp::socket socket) {
    auto connection = std::make_shared<Connection>(std::move(socket));
    if (!state->Register(connection.get())) return;  // shutting down: drop it
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor, Serve(state, std::move(connection)),
                   internal::LogExceptions("http connection"));
  };
  asio::co_spawn(state_->acceptor.get_executor(), internal::AcceptLoop(state_, "http", serve),
                 internal::LogExceptions("http accept"));
}

void HttpServer::Shutdown(std::function<void()> on_drained) {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
    for (Connection* connection : state_->connections) {
      open.push_back(connection->shared_from_this());
    }
    if (!open.empty()) state_->on_drained = std::move(on_drained);
  }
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (std::shared_ptr<Connection>& connection : open) {
    // On the connection's strand: a connection that has not begun a request is closed now;
    // one reading or handling a request finishes it and then closes.
    asio::post(connection->stream.get_executor(), [connection] {
      if (connection->waiting_for_request && !connection->parser->got_some()) {
        connection->stream.cancel();
      }
    });
  }
  if (open.empty() && on_drained) on_drained();
}

}  // namespace metricsgate::server
