#include "server/internal/endpoint.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <cerrno>

#include "base/str_cat.h"

namespace metricsgate::server::internal {

namespace asio = boost::asio;

template <typename Protocol>
absl::StatusOr<asio::ip::basic_endpoint<Protocol>> ResolveListenEndpoint(
    const ListenAddress& address) {
  using Endpoint = asio::ip::basic_endpoint<Protocol>;
  if (address.host.empty()) return Endpoint(asio::ip::address_v6::any(), address.port);
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(address.host, ec);
  if (!ec) return Endpoint(ip, address.port);
  asio::io_context ioc;
  typename Protocol::resolver resolver(ioc);
  auto results =
      resolver.resolve(address.host, std::to_string(address.port), Protocol::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        StrCat("cannot resolve host \"", address.host, "\": ", ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

template <typename Protocol>
std::string EndpointToString(const asio::ip::basic_endpoint<Protocol>& endpoint) {
  const asio::ip::address ip = endpoint.address();
  if (ip.is_v6()) return StrCat("[", ip.to_string(), "]:", endpoint.port());
  return StrCat(ip.to_string(), ":", endpoint.port());
}

template <typename Socket>
absl::Status OpenAndBind(Socket& socket, const ListenAddress& address, std::string_view text,
                         std::string_view flag, bool reuse_port) {
  using Protocol = typename Socket::protocol_type;
  const auto fail = [&](std::string_view operation, const boost::system::error_code& ec) {
    return absl::UnavailableError(
        StrCat("cannot listen on \"", text, "\" (--", flag, "): ", operation, ": ", ec.message()));
  };
  absl::StatusOr<asio::ip::basic_endpoint<Protocol>> endpoint =
      ResolveListenEndpoint<Protocol>(address);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        StrCat("cannot listen on \"", text, "\" (--", flag, "): ", endpoint.status().message()));
  }
  boost::system::error_code ec;
  socket.open(endpoint->protocol(), ec);
  if (ec && address.host.empty()) {  // no IPv6 here: every IPv4 interface instead
    endpoint = asio::ip::basic_endpoint<Protocol>(asio::ip::address_v4::any(), address.port);
    socket.open(endpoint->protocol(), ec);
  }
  if (ec) return fail("socket", ec);
  if (address.host.empty() && endpoint->address().is_v6()) {
    socket.set_option(asio::ip::v6_only(false), ec);
    if (ec) return fail("setsockopt IPV6_V6ONLY", ec);
  }
  if constexpr (std::is_same_v<Protocol, asio::ip::tcp>) {
    // Lets a restart bind while old connections sit in TIME_WAIT; a live listener still
    // makes bind fail.
    socket.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail("setsockopt SO_REUSEADDR", ec);
  }
  if (reuse_port) {
    const int on = 1;
    if (setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      return fail("setsockopt SO_REUSEPORT",
                  boost::system::error_code(errno, boost::system::system_category()));
    }
  }
  socket.bind(*endpoint, ec);
  if (ec) return fail("bind", ec);
  if constexpr (std::is_same_v<Protocol, asio::ip::tcp>) {
    socket.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen", ec);
  }
  return absl::OkStatus();
}

template absl::StatusOr<asio::ip::tcp::endpoint> ResolveListenEndpoint<asio::ip::tcp>(
    const ListenAddress&);
template absl::StatusOr<asio::ip::udp::endpoint> ResolveListenEndpoint<asio::ip::udp>(
    const ListenAddress&);
template std::string EndpointToString<asio::ip::tcp>(const asio::ip::tcp::endpoint&);
template std::string EndpointToString<asio::ip::udp>(const asio::ip::udp::endpoint&);
template absl::Status OpenAndBind<asio::ip::tcp::acceptor>(asio::ip::tcp::acceptor&,
                                                           const ListenAddress&, std::string_view,
                                                           std::string_view, bool);
template absl::Status OpenAndBind<asio::ip::udp::socket>(asio::ip::udp::socket&,
                                                         const ListenAddress&, std::string_view,
                                                         std::string_view, bool);

}  // namespace metricsgate::server::internal
