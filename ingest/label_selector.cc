#include "ingest/label_selector.h"

#include <re2/re2.h>

#include "base/str_cat.h"

namespace metricsgate::ingest {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

bool LabelSelector::Matcher::Matches(std::string_view v) const {
  switch (op) {
    case Op::kEqual:
      return v == value;
    case Op::kNotEqual:
      return v != value;
    case Op::kRegex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex);
    case Op::kNotRegex:
      return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex);
  }
  return false;
}

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  size_t pos = 0;
  const auto error = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat("bad selector ", std::string(text), " at character ", pos + 1, ": ", what));
  };
  const auto skip = [&] {
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
  };
  skip();
  if (pos == text.size() || text[pos] != '{') return error("expected '{'");
  ++pos;
  LabelSelector selector;
  for (;;) {
    skip();
    if (pos < text.size() && text[pos] == '}') break;
    const size_t start = pos;
    while (pos < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_')) {
      ++pos;
    }
    Matcher matcher;
    matcher.name = std::string(text.substr(start, pos - start));
    if (!storage::IsValidLabelName(matcher.name)) return error("expected a label name");
    skip();
    const std::string_view rest = text.substr(pos);
    if (rest.starts_with("=~")) {
      matcher.op = Op::kRegex;
      pos += 2;
    } else if (rest.starts_with("!~")) {
      matcher.op = Op::kNotRegex;
      pos += 2;
    } else if (rest.starts_with("!=")) {
      matcher.op = Op::kNotEqual;
      pos += 2;
    } else if (rest.starts_with("=")) {
      matcher.op = Op::kEqual;
      pos += 1;
    } else {
      return error("expected one of =, !=, =~, !~");
    }
    skip();
    if (pos == text.size() || (text[pos] != '"' && text[pos] != '\'')) {
      return error("expected a quoted value");
    }
    const char quote = text[pos++];
    for (;;) {
      if (pos == text.size()) return error("unterminated quoted value");
      const char c = text[pos++];
      if (c == quote) break;
      if (c != '\\') {
        matcher.value += c;
        continue;
      }
      if (pos == text.size()) return error("unterminated escape");
      const char e = text[pos++];
      switch (e) {
        case 'n':
          matcher.value += '\n';
          break;
        case 't':
          matcher.value += '\t';
          break;
        case '\\':
        case '"':
        case '\'':
          matcher.value += e;
          break;
        default:
          return error(StrCat("unknown escape \\", e));
      }
    }
    if (matcher.op == Op::kRegex || matcher.op == Op::kNotRegex) {
      RE2::Options options;
      options.set_log_errors(false);
      options.set_dot_nl(true);
      auto regex = std::make_shared<RE2>(matcher.value, options);
      if (!regex->ok()) return error(StrCat("bad regular expression: ", regex->error()));
      matcher.regex = std::move(regex);
    }
    selector.matchers_.push_back(std::move(matcher));
    skip();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < text.size() && text[pos] == '}') break;
    return error("expected ',' or '}'");
  }
  ++pos;
  skip();
  if (pos != text.size()) return error("unexpected text after '}'");
  bool selective = false;
  for (const Matcher& matcher : selector.matchers_) selective |= !matcher.Matches("");
  if (!selective) {
    return absl::InvalidArgumentError(
        StrCat("bad selector ", std::string(text),
               ": it needs at least one matcher that an empty label value fails (to delete every "
               "group, use PUT /api/v1/admin/wipe)"));
  }
  return selector;
}

bool LabelSelector::Matches(const std::vector<storage::Label>& labels) const {
  for (const Matcher& matcher : matchers_) {
    std::string_view value;
    for (const auto& [name, v] : labels) {
      if (name == matcher.name) {
        value = v;
        break;
      }
    }
    if (!matcher.Matches(value)) return false;
  }
  return true;
}

}  // namespace metricsgate::ingest
