// Turns a listen address into a bound socket's endpoint, shared by the TCP and UDP listeners.
// Pure apart from name resolution (getaddrinfo); safe from any thread.
#ifndef METRICSGATE_SERVER_INTERNAL_ENDPOINT_H_
#define METRICSGATE_SERVER_INTERNAL_ENDPOINT_H_

#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/listen_address.h"

namespace metricsgate::server::internal {

// The address to bind for `address`: "" means every interface, as IPv6 `::` (the caller makes
// it dual-stack and falls back to IPv4 `0.0.0.0` where IPv6 is missing); a literal is used as
// it is; a host name is resolved and its first address taken.
template <typename Protocol>
absl::StatusOr<boost::asio::ip::basic_endpoint<Protocol>> ResolveListenEndpoint(
    const ListenAddress& address);

// "127.0.0.1:8125", "[::1]:9091".
template <typename Protocol>
std::string EndpointToString(const boost::asio::ip::basic_endpoint<Protocol>& endpoint);

// Opens `socket` (a tcp::acceptor or udp::socket), binds it to `address` and, for an acceptor,
// listens. Every interface means dual-stack `[::]`, or `0.0.0.0` where IPv6 is missing.
// The error names the address and the flag (`flag`) it came from, as
// `cannot listen on ":9091" (--web.listen-address): bind: Address already in use`.
// With `reuse_port`, SO_REUSEPORT is set first, so that more sockets can bind the same address
// and the kernel spreads datagrams over them.
template <typename Socket>
absl::Status OpenAndBind(Socket& socket, const ListenAddress& address, std::string_view text,
                         std::string_view flag, bool reuse_port = false);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_ENDPOINT_H_
