// The HTTP request and response as route handlers see them: plain values, so handlers need
// neither Asio nor Beast. One request belongs to one handler call; not shared across threads.
#ifndef METRICSGATE_SERVER_HTTP_TYPES_H_
#define METRICSGATE_SERVER_HTTP_TYPES_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsgate::server {

struct HttpRequest {
  std::string method;                                        // "GET", "PUT", ...
  std::string target;                                        // as sent: path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // The target up to the `?`.
  std::string_view path() const { return std::string_view(target).substr(0, target.find('?')); }

  // The first header named `name` (lower case), or "" if there is none.
  std::string_view header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // A body too large to hold at once: when set, `body` is ignored and the server calls `stream`
  // until it returns false, each call appending the next piece (maybe empty) to the string it
  // is given, and sends the pieces as they come (chunked in HTTP/1.1). Not called for HEAD.
  // Runs on the connection's I/O thread.
  std::function<bool(std::string*)> stream;
};

// Runs on an I/O thread; must not block for long.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_HTTP_TYPES_H_
