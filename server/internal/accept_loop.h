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

#include "base/log.h"

namespace metricsgate::server::internal {

// Accepts on `state->acceptor` until it is closed, and hands each new socket, on a strand of
// its own of `state->NextContext()`, to `on_accept`. An accept error (out of file descriptors,
// say) is logged and accepting resumes 100 ms later.
// `State` must have a member `acceptor` (tcp::acceptor) and a method `io_context& NextContext()`.
template <typename State, typename OnAccept>
boost::asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state, std::string what,
                                        OnAccept on_accept) {
  namespace asio = boost::asio;
  constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
  for (;;) {
    auto [ec, socket] =
        co_await state->acceptor.async_accept(asio::make_strand(state->NextContext()), kAwait);
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
