// The accept loop shared by the TCP servers (HTTP, StatsD over TCP).
// Included only by server/ sources: it brings in Asio.
#ifndef METRICSGATE_SERVER_INTERNAL_ACCEPT_LOOP_H_
#define METRICSGATE_SERVER_INTERNAL_ACCEPT_LOOP_H_

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"

namespace metricsgate::server::internal {

// The io_contexts a TCP server's connections go to, in turn: with one thread per io_context, a
// connection stays on one thread and its requests wake no other (BENCHMARKS.md).
class ConnectionContexts {
 public:
  // `contexts` empty: every connection on `fallback`.
  ConnectionContexts(boost::asio::io_context& fallback,
                     std::vector<boost::asio::io_context*> contexts)
      : contexts_(std::move(contexts)) {
    if (contexts_.empty()) contexts_.push_back(&fallback);
  }
  // The next connection's. REQUIRES: called from one strand (the acceptor's).
  boost::asio::io_context& Next() {
    next_ = (next_ + 1) % contexts_.size();
    return *contexts_[next_];
  }

 private:
  std::vector<boost::asio::io_context*> contexts_;  // never empty
  size_t next_ = 0;
};

// Accepts on `state->acceptor` until it is closed, and hands each new socket, on a strand of
// its own of `state->connection_contexts.Next()`, to `on_accept`. An accept error (out of file
// descriptors, say) is logged and accepting resumes 100 ms later.
// `State` must have members `acceptor` (tcp::acceptor) and `connection_contexts`.
template <typename State, typename OnAccept>
boost::asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state, std::string what,
                                        OnAccept on_accept) {
  namespace asio = boost::asio;
  constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
  for (;;) {
    auto [ec, socket] = co_await state->acceptor.async_accept(
        asio::make_strand(state->connection_contexts.Next()), kAwait);
    if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) co_return;
    if (ec) {
      log::Warn("accept failed", {{"listener", what}, {"err", ec.message()}});
      asio::steady_timer timer(state->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await timer.async_wait(kAwait);
      continue;
    }
    on_accept(std::move(socket));
  }
}

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_ACCEPT_LOOP_H_
