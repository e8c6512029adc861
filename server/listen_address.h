// Parses listen addresses as the Go tools we replace accept them: "host:port", ":port" (every
// interface), "[::1]:port", "localhost:port". Port 0 asks the kernel for a free port. Pure;
// safe from any thread.
#ifndef METRICSGATE_SERVER_LISTEN_ADDRESS_H_
#define METRICSGATE_SERVER_LISTEN_ADDRESS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server {

struct ListenAddress {
  std::string host;  // "" for every interface; IPv6 literals without brackets
  uint16_t port = 0;
};

// Returns kInvalidArgument, naming the problem, for anything that is not host:port.
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_LISTEN_ADDRESS_H_
