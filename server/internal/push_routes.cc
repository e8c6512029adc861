#include "server/internal/push_routes.h"

#include <map>

#include "absl/time/time.h"
#include "base/duration.h"
#include "base/json.h"
#include "base/str_cat.h"
#include "export/text_format.h"
#include "ingest/exposition_parser.h"
#include "ingest/grouping_key.h"
#include "ingest/label_selector.h"
#include "server/internal/gzip.h"
#include "server/internal/snappy_frame.h"
#include "storage/push_store.h"

namespace metricsgate::server::internal {
namespace {

using storage::MetricType;
using storage::PushStore;

HttpResponse Text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

// Go's http.Error: the message and a newline, plain text.
HttpResponse GoError(int status, std::string_view message) {
  HttpResponse response = Text(status, StrCat(message, "\n"));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

// Every value of the query parameter `name` of `target` (raw), in order, `+` and `%XX`
// decoded; kInvalidArgument for a malformed escape anywhere in the query.
absl::StatusOr<std::vector<std::string>> QueryValues(std::string_view target,
                                                     std::string_view name) {
  std::vector<std::string> values;
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return values;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t equals = pair.find('=');
    std::string key(pair.substr(0, equals));
    std::string value(equals == std::string_view::npos ? "" : pair.substr(equals + 1));
    for (std::string* text : {&key, &value}) {
      for (char& c : *text) {
        if (c == '+') c = ' ';
      }
      absl::StatusOr<std::string> decoded = ingest::PercentDecode(*text);
      if (!decoded.ok()) return decoded.status();
      *text = *std::move(decoded);
    }
    if (key == name) values.push_back(std::move(value));
  }
  return values;
}

// The body as sent, after Content-Encoding (gzip or snappy, as Pushgateway takes).
absl::StatusOr<std::string> DecodeBody(const HttpRequest& request, size_t max_size) {
  const std::string_view encoding = request.header("content-encoding");
  if (encoding == "gzip") return Gunzip(request.body, max_size);
  if (encoding == "snappy") return SnappyFrameDecode(request.body, max_size);
  return request.body;  // anything else is read as it came, as Go's handler does
}

// True when Content-Type is delimited protobuf MetricFamily messages (mime.ParseMediaType:
// case-insensitive type and parameter names, optional quotes).
bool IsProtobuf(std::string_view content_type) {
  std::map<std::string, std::string> params;
  std::string media;
  size_t pos = 0;
  const auto lower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  const auto trim = [](std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
  };
  bool first = true;
  while (pos <= content_type.size()) {
    const size_t semi = content_type.find(';', pos);
    const std::string_view part =
        trim(content_type.substr(pos, semi == std::string_view::npos ? semi : semi - pos));
    if (first) {
      media = lower(std::string(part));
      first = false;
    } else if (const size_t eq = part.find('='); eq != std::string_view::npos) {
      std::string_view value = trim(part.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      params[lower(std::string(trim(part.substr(0, eq))))] = std::string(value);
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return media == "application/vnd.google.protobuf" &&
         params["proto"] == "io.prometheus.client.MetricFamily" &&
         params["encoding"] == "delimited";
}

std::string FormatNumber(double value) {
  std::string out;
  exporter::AppendValue(value, &out);
  return out;
}

// Go's time.Time in JSON: RFC 3339 with nanoseconds, trailing zeros dropped.
std::string FormatGoTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

void AppendLabels(const std::vector<storage::Label>& labels, std::string* out) {
  *out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) *out += ',';
    AppendJsonString(labels[i].first, out);
    *out += ':';
    AppendJsonString(labels[i].second, out);
  }
  *out += '}';
}

// One family of GET /api/v1/metrics, Pushgateway's shape: numbers as strings.
void AppendFamily(const storage::MetricFamily& family, absl::Time pushed, std::string* out) {
  AppendJsonString(family.name, out);
  StrAppend(out, ":{\"time_stamp\":\"", FormatGoTime(pushed), "\",\"type\":\"",
            storage::MetricTypeName(family.type), "\"");
  if (!family.help.empty()) {
    *out += ",\"help\":";
    AppendJsonString(family.help, out);
  }
  *out += ",\"metrics\":[";
  for (size_t i = 0; i < family.samples.size(); ++i) {
    const storage::Sample& sample = family.samples[i];
    StrAppend(out, i ? "," : "", "{\"labels\":");
    AppendLabels(sample.labels, out);
    if (sample.summary) {
      *out += ",\"quantiles\":{";
      for (size_t q = 0; q < sample.summary->quantiles.size(); ++q) {
        const auto& [at, value] = sample.summary->quantiles[q];
        StrAppend(out, q ? "," : "", "\"", FormatNumber(at), "\":\"", FormatNumber(value), "\"");
      }
      StrAppend(out, "},\"count\":\"", FormatNumber(sample.summary->count), "\",\"sum\":\"",
                FormatNumber(sample.summary->sum), "\"");
    } else if (sample.histogram) {
      *out += ",\"buckets\":{";
      const auto& buckets = sample.histogram->buckets;
      for (size_t b = 0; b < buckets.size(); ++b) {
        StrAppend(out, b ? "," : "", "\"", FormatNumber(buckets[b].first), "\":\"",
                  FormatNumber(buckets[b].second), "\"");
      }
      StrAppend(out, "},\"count\":\"", FormatNumber(buckets.empty() ? 0 : buckets.back().second),
                "\",\"sum\":\"", FormatNumber(sample.histogram->sum), "\"");
    } else {
      StrAppend(out, ",\"value\":\"", FormatNumber(sample.value), "\"");
    }
    *out += '}';
  }
  *out += "]}";
}

std::string MetricsJson(const PushStore& store) {
  std::string out = "{\"status\":\"success\",\"data\":[";
  bool first_group = true;
  for (const auto& group : store.Groups()) {
    StrAppend(&out, first_group ? "" : ",", "{\"labels\":");
    first_group = false;
    AppendLabels(group->labels, &out);
    StrAppend(&out, ",\"last_push_successful\":",
              group->failure_time <= group->push_time ? "true" : "false");
    for (const PushStore::Family& family : group->families) {
      out += ',';
      AppendFamily(family.family, family.pushed, &out);
    }
    // The group's own two gauges, as Pushgateway stores them in the group.
    for (const storage::MetricFamily& family : PushStore::PushTimes(*group)) {
      out += ',';
      AppendFamily(family, group->push_time, &out);
    }
    out += '}';
  }
  out += "]}\n";
  return out;
}

HttpResponse Json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}

HttpResponse JsonError(int status, std::string_view type, std::string_view message) {
  std::string body = StrCat("{\"status\":\"error\",\"errorType\":\"", type, "\",\"error\":");
  AppendJsonString(message, &body);
  body += "}\n";
  return Json(status, std::move(body));
}

void AddCors(HttpResponse* response) {
  response->headers.emplace_back("Access-Control-Allow-Headers",
                                 "Accept, Authorization, Content-Type, Origin");
  response->headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  response->headers.emplace_back("Access-Control-Allow-Origin", "*");
  response->headers.emplace_back("Access-Control-Expose-Headers", "Date");
  response->headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
}

}  // namespace

HttpResponse HandlePush(const HttpRequest& request, std::string_view raw_path,
                        const RouteOptions& options) {
  absl::StatusOr<std::string> path = ingest::PercentDecode(raw_path);
  if (!path.ok()) return Text(400, "400 Bad Request");  // as Go's server answers
  if (path->find("//") != std::string::npos) {
    // Go's router answers a path with an empty segment with a redirect to the cleaned path.
    std::string cleaned;
    for (char c : *path) {
      if (c != '/' || cleaned.empty() || cleaned.back() != '/') cleaned += c;
    }
    HttpResponse response = Text(301, "");
    response.headers.emplace_back("Location", cleaned);
    return response;
  }
  if (*path == "/metrics/job/" || *path == "/metrics/job@base64/") {
    // No job: Go's router redirects to the path without the slash (which is no push path).
    HttpResponse response = Text(307, "");
    response.headers.emplace_back("Location", path->substr(0, path->size() - 1));
    return response;
  }
  const std::string_view prefix = "/metrics/";
  absl::StatusOr<std::vector<storage::Label>> grouping =
      ingest::ParseGroupingKey(std::string_view(*path).substr(prefix.size()));
  if (!grouping.ok()) {
    if (grouping.status().code() == absl::StatusCode::kNotFound) {
      return Text(404, "404 page not found\n");
    }
    if (request.method != "PUT" && request.method != "POST" && request.method != "DELETE") {
      return Text(405, "Method Not Allowed");
    }
    return GoError(400, std::string(grouping.status().message()));
  }
  if (request.method == "DELETE") {
    options.push->Delete(*grouping);
    return Text(202, "");
  }
  if (request.method != "PUT" && request.method != "POST") {
    HttpResponse response = Text(405, "Method Not Allowed");
    response.headers.emplace_back("Allow", "PUT, POST, DELETE");
    return response;
  }
  PushStore::Push push;
  push.grouping = *std::move(grouping);
  push.replace = request.method == "PUT";
  absl::StatusOr<std::vector<std::string>> ttls = QueryValues(request.target, "ttl");
  if (!ttls.ok()) return GoError(400, StrCat("bad query: ", std::string(ttls.status().message())));
  if (!ttls->empty()) {
    const std::string& ttl = ttls->front();
    absl::StatusOr<std::chrono::milliseconds> parsed = ParseDuration(ttl);
    if (!parsed.ok() || parsed->count() < 0) {
      return GoError(400,
                     StrCat("invalid ttl \"", ttl, "\": want a duration such as 90s, 15m or 0"));
    }
    push.ttl = *parsed;
  }
  options.push->Prefetch(push.grouping);  // the group this push replaces, while parsing
  absl::StatusOr<std::string> body = DecodeBody(request, options.max_push_body);
  if (!body.ok()) {
    const bool too_large = body.status().code() == absl::StatusCode::kResourceExhausted;
    return GoError(too_large ? 413 : 400, std::string(body.status().message()));
  }
  absl::StatusOr<ingest::ParsedExposition> parsed = IsProtobuf(request.header("content-type"))
                                                        ? ingest::ParseProtoDelimited(*body)
                                                        : ingest::ParseTextFormat(*body);
  if (!parsed.ok()) return GoError(400, std::string(parsed.status().message()));
  push.families = std::move(parsed->families);
  push.has_timestamp = parsed->has_timestamp;
  const absl::Status applied = options.push->Apply(std::move(push));
  if (!applied.ok()) return GoError(400, std::string(applied.message()));
  return Text(options.push_consistency_check ? 200 : 202, "");
}

HttpResponse HandleApiV1(const HttpRequest& request, std::string_view path,
                         const RouteOptions& options) {
  HttpResponse response;
  if (request.method == "OPTIONS") {
    response = Text(200, "");
  } else if (path == "/api/v1/status") {
    response = request.method == "GET" || request.method == "HEAD"
                   ? Json(200, options.status_json())
                   : Text(405, "Method Not Allowed");
  } else if (path == "/api/v1/metrics") {
    response = request.method == "GET" || request.method == "HEAD"
                   ? Json(200, MetricsJson(*options.push))
                   : Text(405, "Method Not Allowed");
  } else if (path == "/api/v1/admin/wipe" && options.enable_admin_api) {
    if (request.method != "PUT") {
      response = Text(405, "Method Not Allowed");
    } else {
      options.push->DeleteIf([](const auto&) { return true; });
      response = Text(202, "");
    }
  } else if (path == "/api/v1/groups") {
    if (request.method != "DELETE") {
      response = Text(405, "Method Not Allowed");
      response.headers.emplace_back("Allow", "DELETE");
    } else {
      absl::StatusOr<std::vector<std::string>> texts = QueryValues(request.target, "match[]");
      std::vector<ingest::LabelSelector> selectors;
      absl::Status problem = texts.status();
      if (problem.ok() && texts->empty()) {
        problem = absl::InvalidArgumentError("no match[] parameter: give at least one selector");
      }
      for (const std::string& text : problem.ok() ? *texts : std::vector<std::string>{}) {
        absl::StatusOr<ingest::LabelSelector> selector = ingest::LabelSelector::Parse(text);
        if (!selector.ok()) {
          problem = selector.status();
          break;
        }
        selectors.push_back(*std::move(selector));
      }
      if (!problem.ok()) {
        response = JsonError(400, "bad_data", std::string(problem.message()));
      } else {
        const size_t deleted =
            options.push->DeleteIf([&](const std::vector<storage::Label>& labels) {
              return std::any_of(selectors.begin(), selectors.end(),
                                 [&](const ingest::LabelSelector& s) { return s.Matches(labels); });
            });
        response =
            Json(200, StrCat("{\"status\":\"success\",\"data\":{\"deleted\":", deleted, "}}\n"));
      }
    }
  } else {
    response = Text(404, "404 page not found\n");
  }
  AddCors(&response);
  return response;
}

}  // namespace metricsgate::server::internal
