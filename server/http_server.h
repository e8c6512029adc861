// HttpServer: an HTTP/1.1 server (Beast) with keep-alive, serving one HttpHandler.
//
// Each connection runs as a coroutine on its own strand of one of the server's io_contexts,
// given out in turn: with one thread per io_context a connection stays on one thread, and
// requests cost no wakeups of other threads (which halved the CPU of a push; BENCHMARKS.md),
// while one connection is never touched by two threads at once. Every connection has a read
// deadline, a write deadline, a header limit and a body limit. Shutdown() stops accepting, closes
// connections that are waiting for a request, lets requests in flight finish (their responses carry
// `Connection: close`), and reports when no connection is left.
//
// Thread safety: Create() and Start() on the owning thread; Shutdown() from any thread, once.
// Beast and Asio stay inside http_server.cc: this header forward-declares what it needs.
#ifndef METRICSGATE_SERVER_HTTP_SERVER_H_
#define METRICSGATE_SERVER_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/http_types.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace metricsgate::server {

class HttpServer {
 public:
  // Binds and listens on `address` (text of --web.listen-address) right away, so a port in use
  // is reported before anything starts. Accepts on `ioc`; connections go to `connection_contexts`
  // in turn, or all to `ioc` when it is empty. The contexts must outlive the connections.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(
      boost::asio::io_context& ioc, std::string_view address, HttpHandler handler,
      std::vector<boost::asio::io_context*> connection_contexts = {});
  ~HttpServer();

  // Starts accepting connections.
  void Start();

  // The bound address, e.g. "127.0.0.1:34567" (the real port when 0 was asked for).
  const std::string& local_address() const { return local_address_; }

  // Stops accepting and closes idle connections; `on_drained` runs on an I/O thread once the
  // last connection has ended (at once if there is none).
  void Shutdown(std::function<void()> on_drained);

  struct State;

 private:
  HttpServer(std::shared_ptr<State> state, std::string local_address)
      : state_(std::move(state)), local_address_(std::move(local_address)) {}

  std::shared_ptr<State> state_;
  std::string local_address_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_HTTP_SERVER_H_
