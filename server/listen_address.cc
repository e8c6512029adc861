#include "server/listen_address.h"

#include "base/str_cat.h"

namespace metricsgate::server {

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("invalid listen address \"", text, "\": ", why));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid("missing port (want host:port or :port)");
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return invalid("unbalanced brackets");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid("an IPv6 address must be in brackets, as [::1]:9091");
  }
  if (port.empty()) return invalid("missing port (want host:port or :port)");
  if (port.size() > 5) return invalid("port out of range 0-65535");
  uint32_t number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return invalid("port is not a number");
    number = number * 10 + static_cast<uint32_t>(c - '0');
  }
  if (number > 65535) return invalid("port out of range 0-65535");
  return ListenAddress{std::string(host), static_cast<uint16_t>(number)};
}

}  // namespace metricsgate::server
