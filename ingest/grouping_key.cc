#include "ingest/grouping_key.h"

#include <algorithm>
#include <map>

#include "base/str_cat.h"

namespace metricsgate::ingest {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(StrCat(
          "invalid URL escape ", GoQuote(text.substr(i, std::min<size_t>(3, text.size() - i)))));
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

absl::StatusOr<std::string> DecodeBase64Url(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') continue;  // Go's decoder skips line breaks
    const int value = Base64Value(c);
    if (value < 0)
      return absl::InvalidArgumentError(StrCat("illegal base64 data at input byte ", i));
    ++chars;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out += static_cast<char>((bits >> held) & 0xff);
    }
  }
  if (chars % 4 == 1) {
    return absl::InvalidArgumentError(
        StrCat("illegal base64 data at input byte ", text.size() - 1));
  }
  return out;
}

absl::StatusOr<std::vector<storage::Label>> ParseGroupingKey(std::string_view path) {
  bool job_base64;
  if (path.starts_with("job/")) {
    job_base64 = false;
    path.remove_prefix(4);
  } else if (path.starts_with("job@base64/")) {
    job_base64 = true;
    path.remove_prefix(11);
  } else {
    return absl::NotFoundError("404 page not found");
  }
  const size_t slash = path.find('/');
  std::string job(path.substr(0, slash));
  const std::string_view labels = slash == std::string_view::npos ? "" : path.substr(slash);
  if (job.empty() && !job_base64) return absl::NotFoundError("404 page not found");
  if (job_base64) {
    absl::StatusOr<std::string> decoded = DecodeBase64Url(job);
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(StrCat("invalid base64 encoding in job name ", GoQuote(job),
                                               ": ", std::string(decoded.status().message())));
    }
    job = *std::move(decoded);
  }
  std::map<std::string, std::string> result;
  if (labels.size() > 1) {
    std::vector<std::string_view> parts;
    for (size_t start = 1;;) {
      const size_t end = labels.find('/', start);
      parts.push_back(labels.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    if (parts.size() % 2 != 0) {
      return absl::InvalidArgumentError(
          StrCat("odd number of components in label string ", GoQuote(labels)));
    }
    for (size_t i = 0; i < parts.size(); i += 2) {
      std::string_view name = parts[i];
      const bool base64 = name.ends_with("@base64");
      if (base64) name.remove_suffix(7);
      if (!storage::IsValidLabelName(name) || name.starts_with("__")) {
        return absl::InvalidArgumentError(StrCat("improper label name ", GoQuote(name)));
      }
      std::string value(parts[i + 1]);
      if (base64) {
        absl::StatusOr<std::string> decoded = DecodeBase64Url(value);
        if (!decoded.ok()) {
          return absl::InvalidArgumentError(StrCat("invalid base64 encoding for label ", name, "=",
                                                   GoQuote(value), ": ",
                                                   std::string(decoded.status().message())));
        }
        value = *std::move(decoded);
      }
      result[std::string(name)] = std::move(value);
    }
  }
  if (job.empty()) return absl::InvalidArgumentError("job name is required");
  result["job"] = std::move(job);
  return std::vector<storage::Label>(result.begin(), result.end());
}

}  // namespace metricsgate::ingest
