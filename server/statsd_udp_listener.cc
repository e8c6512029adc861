#include "server/statsd_udp_listener.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/status_macros.h"
#include "server/internal/endpoint.h"
#include "server/internal/task.h"

namespace metricsgate::server {

namespace asio = boost::asio;
using udp = asio::ip::udp;

struct StatsdUdpListener::State {
  State(asio::io_context& ioc, ingest::StatsdIngester* i)
      : socket(asio::make_strand(ioc)), ingester(i) {}
  udp::socket socket;  // on its own strand
  ingest::StatsdIngester* const ingester;
  // The largest UDP payload; a datagram is never truncated.
  std::array<char, 65536> buffer;
};

namespace {

asio::awaitable<void> Receive(std::shared_ptr<StatsdUdpListener::State> state) {
  for (;;) {
    auto [ec, size] = co_await state->socket.async_receive(asio::buffer(state->buffer),
                                                           asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !state->socket.is_open()) co_return;
    if (ec) {
      // ICMP errors and the like concern one datagram; the socket goes on working.
      log::Warn("StatsD UDP receive failed", {{"err", ec.message()}});
      continue;
    }
    state->ingester->HandlePacket(std::string_view(state->buffer.data(), size),
                                  ingest::StatsdTransport::kUdp);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatsdUdpListener>> StatsdUdpListener::Create(
    asio::io_context& ioc, std::string_view address, ingest::StatsdIngester* ingester) {
  MG_ASSIGN_OR_RETURN(ListenAddress parsed, ParseListenAddress(address));
  auto state = std::make_shared<State>(ioc, ingester);
  MG_RETURN_IF_ERROR(internal::OpenAndBind(state->socket, parsed, address, "statsd.listen-udp"));
  std::string local = internal::EndpointToString(state->socket.local_endpoint());
  return std::unique_ptr<StatsdUdpListener>(new StatsdUdpListener(std::move(state), local));
}

StatsdUdpListener::~StatsdUdpListener() = default;

void StatsdUdpListener::Start() {
  asio::co_spawn(state_->socket.get_executor(), Receive(state_),
                 internal::LogExceptions("statsd udp receive"));
}

void StatsdUdpListener::Stop() {
  asio::post(state_->socket.get_executor(), [state = state_] {
    boost::system::error_code ignored;
    state->socket.close(ignored);
  });
}

}  // namespace metricsgate::server
