#include "ingest/statsd_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

#include "base/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace metricsgate::ingest {
namespace {

constexpr size_t npos = std::string_view::npos;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first of `a` or `b` in `text` from `pos`, or npos. (std::string_view::find_first_of
// calls memchr over its set once per character: several times slower on this hot path.)
size_t FindEither(std::string_view text, char a, char b, size_t pos = 0) {
  for (size_t i = pos; i < text.size(); ++i) {
    if (text[i] == a || text[i] == b) return i;
  }
  return npos;
}

bool ParseType(std::string_view text, StatsdType* type) {
  if (text == "c") {
    *type = StatsdType::kCounter;
  } else if (text == "g") {
    *type = StatsdType::kGauge;
  } else if (text == "ms") {
    *type = StatsdType::kTimer;
  } else if (text == "h") {
    *type = StatsdType::kHistogram;
  } else if (text == "d") {
    *type = StatsdType::kDistribution;
  } else if (text == "s") {
    *type = StatsdType::kSet;
  } else {
    return false;
  }
  return true;
}

// `-?[0-9]+` within int64, as DogStatsD's `|T` timestamp.
bool IsInteger(std::string_view text) {
  int64_t ignored;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ignored);
  return !text.empty() && text[0] != '+' && ec == std::errc() && end == text.data() + text.size();
}

// Splits `list` on `separator` into key/value tags split at the first `kv`. A tag that is
// empty or lacks a key or a value is dropped and counted, as statsd_exporter does.
[[gnu::noinline]] void ParseTagList(std::string_view list, char separator, char kv, bool trim_hash,
                                    ParsedLine* out) {
  if (list.empty()) return;
  for (size_t start = 0;;) {
    const size_t end = list.find(separator, start);
    std::string_view tag = list.substr(start, end == npos ? npos : end - start);
    if (trim_hash && !tag.empty() && tag[0] == '#') tag.remove_prefix(1);  // PHP clients
    const size_t split = tag.find(kv);
    if (split == npos || split == 0 || split + 1 == tag.size()) {
      ++out->tag_errors;
    } else {
      out->tags.push_back({tag.substr(0, split), tag.substr(split + 1)});
    }
    if (end == npos) break;
    start = end + 1;
  }
}

// Takes InfluxDB (`,`), Librato (`#`), Graphite (`;`) or SignalFx (`[...]`) tags out of the name
// part of a line; returns the bare name.
std::string_view ParseNameTags(std::string_view name, ParsedLine* out) {
  const size_t open = name.find('[');
  const size_t close = name.find(']');
  if (open != npos && close != npos && open < close) {
    ParseTagList(name.substr(open + 1, close - open - 1), ',', '=', false, out);
    if (close + 1 == name.size()) return name.substr(0, open);
    if (open == 0) return name.substr(close + 1);
    out->name_buffer.assign(name.substr(0, open));
    out->name_buffer.append(name.substr(close + 1));
    return out->name_buffer;
  }
  if (open != npos || close != npos) {
    ++out->tag_errors;  // unbalanced brackets: the name stays as sent
    return name;
  }
  size_t start = FindEither(name, '#', ',');
  const size_t graphite = name.find(';');
  if (graphite < start) start = graphite;
  if (start == npos) return name;
  ParseTagList(name.substr(start + 1), name[start] == ';' ? ';' : ',', '=', false, out);
  return name.substr(0, start);
}

// Parses the values of one sample group (`1`, or packed `1:2:3`) into samples like `proto`.
void AddValues(std::string_view values, const StatsdSample& proto, ParsedLine* out) {
  if (proto.type == StatsdType::kSet) {
    if (values.find(':') != npos) {
      out->errors.push_back(BadLineReason::kInvalidPacking);
    } else if (values.empty()) {
      out->errors.push_back(BadLineReason::kMalformedValue);
    } else {
      StatsdSample sample = proto;
      sample.value_text = values;
      out->samples.push_back(sample);
    }
    return;
  }
  for (size_t start = 0;;) {
    const size_t end = values.find(':', start);
    StatsdSample sample = proto;
    sample.value_text = values.substr(start, end == npos ? npos : end - start);
    if (!ParseStatsdNumber(sample.value_text, &sample.value)) {
      out->errors.push_back(BadLineReason::kMalformedValue);
    } else if (sample.type == StatsdType::kTimer && sample.value < 0) {
      out->errors.push_back(BadLineReason::kIllegalNegativeTimer);
    } else {
      sample.has_sign = sample.value_text[0] == '+' || sample.value_text[0] == '-';
      out->samples.push_back(sample);
    }
    if (end == npos) break;
    start = end + 1;
  }
}

// Bytes that send a name to the general parser: tags in the name, a field separator, and
// every non-ASCII byte (the general parser checks UTF-8).
constexpr std::array<bool, 256> kNotSimpleNameByte = [] {
  std::array<bool, 256> table{};
  for (char c : std::string_view("[]#,;|")) table[static_cast<unsigned char>(c)] = true;
  for (int c = 0x80; c < 256; ++c) table[c] = true;
  return table;
}();

// The common line, `name:digits[.digits]|type[|@rate][|#tags]` with a plain ASCII name, one
// value and no sign, parsed in one pass. Returns false, having changed nothing but `*out`'s
// scratch, for anything else; ParseStatsdLine then runs the general parser, so both give the
// same result for every line this accepts (a test checks them against each other).
// The first byte in [cur, end) that is `:` or that kNotSimpleNameByte marks; `end` if none.
const char* FindNameEnd(const char* cur, const char* const end) {
#ifdef __SSE2__
  // 16 bytes at a time: compare with each marked ASCII byte; bytes >= 0x80 have their top bit.
  // The last block is loaded ending at `end` (overlapping what was checked), never past it.
  const __m128i colon = _mm_set1_epi8(':'), open = _mm_set1_epi8('['), close = _mm_set1_epi8(']'),
                hash = _mm_set1_epi8('#'), comma = _mm_set1_epi8(','),
                semicolon = _mm_set1_epi8(';'), bar = _mm_set1_epi8('|');
  const auto marked = [&](const char* at) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    const __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, colon), _mm_cmpeq_epi8(bytes, open)),
                     _mm_or_si128(_mm_cmpeq_epi8(bytes, close), _mm_cmpeq_epi8(bytes, hash))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, comma), _mm_cmpeq_epi8(bytes, semicolon)),
                     _mm_cmpeq_epi8(bytes, bar)));
    return static_cast<unsigned>(_mm_movemask_epi8(hit) | _mm_movemask_epi8(bytes));
  };
  if (end - cur >= 16) {
    for (; cur + 16 <= end; cur += 16) {
      if (const unsigned mask = marked(cur); mask != 0) return cur + __builtin_ctz(mask);
    }
    if (cur == end) return end;
    const char* const last = end - 16;
    const unsigned mask = marked(last) >> (cur - last);
    return mask != 0 ? cur + __builtin_ctz(mask) : end;
  }
#endif
  while (cur < end && *cur != ':' && !kNotSimpleNameByte[static_cast<unsigned char>(*cur)]) ++cur;
  return cur;
}

// The rest of a simple line after its type: `|@rate` and `|#tags` fields, each at most once,
// the rate first. Out of line: most lines have neither, and the fast path keeps a small frame.
[[gnu::noinline]] bool ParseSimpleFields(const char* cur, const char* const end,
                                         StatsdSample* sample, std::string_view* tags,
                                         bool* have_tags) {
  bool have_rate = false;
  while (cur < end) {  // at a `|`
    ++cur;
    const char* field_start = cur;
    while (cur < end && *cur != '|') ++cur;
    const std::string_view field(field_start, cur - field_start);
    if (!have_rate && !*have_tags && field.size() > 1 && field[0] == '@' &&
        field.find(':') == npos) {
      if (!ParseStatsdNumber(field.substr(1), &sample->sample_rate) || !(sample->sample_rate > 0)) {
        return false;
      }
      have_rate = true;
    } else if (!*have_tags && !field.empty() && field[0] == '#') {
      for (char c : field) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;  // UTF-8: the general parser
      }
      *tags = field.substr(1);
      *have_tags = true;
    } else {
      return false;
    }
  }
  return true;
}

bool ParseSimpleLine(std::string_view line, ParsedLine* out) {
  const char* const p = line.data();
  const char* const end = p + line.size();
  const char* cur = FindNameEnd(p, end);
  if (cur == end || *cur != ':' || cur == p) return false;
  const std::string_view name(p, cur - p);
  const char* const value_start = ++cur;
  uint64_t integer = 0;
  while (cur < end && IsDigit(*cur)) {
    integer = integer * 10 + static_cast<uint64_t>(*cur - '0');
    ++cur;
  }
  bool fraction = false;
  if (cur < end && *cur == '.') {
    fraction = true;
    ++cur;
    while (cur < end && IsDigit(*cur)) ++cur;
  }
  // At most 15 integer digits convert exactly; longer ones, and fractions, take the general
  // number parser. Then `|` and at least one byte of type.
  if (cur == value_start || end - cur < 2 || *cur != '|' || cur - value_start > 15) return false;
  StatsdSample sample;
  sample.name = name;
  sample.value_text = std::string_view(value_start, cur - value_start);
  if (fraction) {
    if (!ParseStatsdNumber(sample.value_text, &sample.value)) return false;
  } else {
    sample.value = static_cast<double>(integer);
  }
  // The type, read in place: one of c g h d, or ms (sets take the general parser), ending the
  // line or followed by `|`.
  switch (cur[1]) {
    case 'c':
      sample.type = StatsdType::kCounter;
      break;
    case 'g':
      sample.type = StatsdType::kGauge;
      break;
    case 'h':
      sample.type = StatsdType::kHistogram;
      break;
    case 'd':
      sample.type = StatsdType::kDistribution;
      break;
    case 'm':
      if (end - cur < 3 || cur[2] != 's') return false;
      sample.type = StatsdType::kTimer;
      ++cur;
      break;
    default:
      return false;
  }
  cur += 2;
  std::string_view tags;
  bool have_tags = false;
  if (cur != end && (*cur != '|' || !ParseSimpleFields(cur, end, &sample, &tags, &have_tags))) {
    return false;
  }
  out->Clear();
  out->name_part = name;
  if (have_tags) {
    out->dogstatsd_tags = tags;
    ParseTagList(tags, ',', ':', /*trim_hash=*/true, out);
  }
  out->samples.push_back(sample);
  return true;
}

}  // namespace

std::string_view BadLineReasonName(BadLineReason reason) {
  switch (reason) {
    case BadLineReason::kMalformedLine:
      return "malformed_line";
    case BadLineReason::kEmptyName:
      return "empty_name";
    case BadLineReason::kInvalidUtf8:
      return "invalid_utf8";
    case BadLineReason::kMalformedValue:
      return "malformed_value";
    case BadLineReason::kUnknownType:
      return "unknown_type";
    case BadLineReason::kInvalidSampleRate:
      return "invalid_sample_rate";
    case BadLineReason::kMalformedTimestamp:
      return "malformed_timestamp";
    case BadLineReason::kMalformedContainerId:
      return "malformed_container_id";
    case BadLineReason::kUnknownField:
      return "unknown_field";
    case BadLineReason::kInvalidPacking:
      return "invalid_packing";
    case BadLineReason::kMixedTaggingStyles:
      return "mixed_tagging_styles";
    case BadLineReason::kIllegalNegativeTimer:
      return "illegal_negative_timer";
    case BadLineReason::kValueOutOfRange:
      return "value_out_of_range";
    case BadLineReason::kIllegalNegativeCounter:
      return "illegal_negative_counter";
    case BadLineReason::kTypeConflict:
      return "type_conflict";
    case BadLineReason::kReservedName:
      return "reserved_name";
    case BadLineReason::kSeriesLimit:
      return "series_limit";
  }
  return "unknown";
}

bool ParseStatsdNumber(std::string_view text, double* value) {
  // Check the grammar first: std::from_chars would also take "inf", "nan" and "1e" (as 1).
  size_t i = 0;
  const size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t number_start = i;
  size_t digits = 0;
  while (i < n && IsDigit(text[i])) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && IsDigit(text[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exponent_digits = 0;
    while (i < n && IsDigit(text[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return false;
  }
  if (i != n) return false;
  // from_chars takes no leading '+'; a '-' it handles itself.
  const char* first = text.data() + (text[0] == '+' ? number_start : 0);
  double parsed = 0;
  auto [end, ec] = std::from_chars(first, text.data() + n, parsed);
  if (ec != std::errc() || end != text.data() + n || !std::isfinite(parsed)) return false;
  *value = parsed;
  return true;
}

void ParseStatsdLine(std::string_view line, ParsedLine* out) {
  if (!ParseSimpleLine(line, out)) ParseStatsdLineGeneral(line, out);
}

// Out of line, so the common shape's path in ParseStatsdLine keeps a small frame.
[[gnu::noinline]] void ParseStatsdLineGeneral(std::string_view line, ParsedLine* out) {
  out->Clear();
  if (!IsValidUtf8(line)) {
    out->errors.push_back(BadLineReason::kInvalidUtf8);
    return;
  }
  const size_t colon = line.find(':');
  if (colon == npos) {
    out->errors.push_back(BadLineReason::kMalformedLine);
    return;
  }
  const std::string_view rest = line.substr(colon + 1);
  out->name_part = line.substr(0, colon);
  const std::string_view name = ParseNameTags(out->name_part, out);
  // DogStatsD tags apply to every sample of the line; the first `|#` field holds them.
  const size_t dogstatsd = rest.find("|#");
  if (dogstatsd != npos) {
    if (!out->tags.empty()) {
      out->Clear();
      out->errors.push_back(BadLineReason::kMixedTaggingStyles);
      return;
    }
    const size_t end = rest.find('|', dogstatsd + 2);
    out->dogstatsd_tags = rest.substr(dogstatsd + 2, end == npos ? npos : end - dogstatsd - 2);
    ParseTagList(out->dogstatsd_tags, ',', ':', /*trim_hash=*/true, out);
  }
  if (name.empty()) {
    out->Clear();
    out->errors.push_back(BadLineReason::kEmptyName);
    return;
  }
  // Samples: `values|type` then fields, each `|`-separated; a `:` after the type or after a
  // rate or timestamp field starts the next sample (Etsy's `k:1|c:2|ms`).
  for (size_t pos = 0;;) {
    const size_t bar = rest.find('|', pos);
    if (bar == npos) {
      out->errors.push_back(BadLineReason::kMalformedLine);
      return;
    }
    const std::string_view values = rest.substr(pos, bar - pos);
    size_t cur = FindEither(rest, '|', ':', bar + 1);
    StatsdSample proto;
    proto.name = name;
    bool ok = ParseType(rest.substr(bar + 1, cur == npos ? npos : cur - bar - 1), &proto.type);
    BadLineReason error = BadLineReason::kUnknownType;
    bool have_rate = false;
    const auto fail = [&](BadLineReason reason) {
      if (ok) error = reason;
      ok = false;
    };
    while (cur != npos && rest[cur] == '|') {
      const size_t start = cur + 1;
      const char first = start < rest.size() ? rest[start] : '\0';
      if (first == '#' || (first == 'c' && start + 1 < rest.size() && rest[start + 1] == ':')) {
        // Tags and container IDs run to the next `|`; they may hold `:`.
        cur = rest.find('|', start);
        const size_t length = (cur == npos ? rest.size() : cur) - start;
        if (first == '#' && start - 1 != dogstatsd) {
          fail(BadLineReason::kUnknownField);  // a second tags field
        } else if (first == 'c' && length == 2) {
          fail(BadLineReason::kMalformedContainerId);
        }
        continue;
      }
      cur = FindEither(rest, '|', ':', start);
      const std::string_view field = rest.substr(start, cur == npos ? npos : cur - start);
      if (first == '@' && !have_rate) {
        if (!ParseStatsdNumber(field.substr(1), &proto.sample_rate) || !(proto.sample_rate > 0)) {
          fail(BadLineReason::kInvalidSampleRate);
        }
        have_rate = true;
      } else if (first == 'T') {
        if (!IsInteger(field.substr(1))) fail(BadLineReason::kMalformedTimestamp);
      } else {
        fail(BadLineReason::kUnknownField);
      }
    }
    if (ok) {
      AddValues(values, proto, out);
    } else {
      out->errors.push_back(error);
    }
    if (cur == npos) return;
    pos = cur + 1;
  }
}

void SanitizeEtsyKey(std::string_view key, std::string* out) {
  out->clear();
  bool in_space = false;
  for (char c : key) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!in_space) out->push_back('_');
      in_space = true;
      continue;
    }
    in_space = false;
    if (c == '/') {
      out->push_back('-');
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.' || c == ';' || c == '=') {
      out->push_back(c);
    }
  }
}

}  // namespace metricsgate::ingest

namespace metricsgate::ingest {

void EtsyKey(std::string_view line, std::string* out) {
  // Etsy: bits = line.split('|#'); the tags are bits[1].split(','), the key bits[0] up to its
  // first ':'.
  const size_t tags_start = line.find("|#");
  const std::string_view head = line.substr(0, tags_start);
  std::string raw(head.substr(0, head.find(':')));
  if (tags_start != std::string_view::npos) {
    std::string_view tags = line.substr(tags_start + 2);
    tags = tags.substr(0, tags.find("|#"));
    if (!tags.empty()) {
      while (true) {
        const size_t comma = tags.find(',');
        std::string tag(tags.substr(0, comma));
        // Each tag's first ';' becomes '_' and its first ':' '='.
        if (size_t i = tag.find(';'); i != std::string::npos) tag[i] = '_';
        if (size_t i = tag.find(':'); i != std::string::npos) tag[i] = '=';
        raw.push_back(';');
        raw.append(tag);
        if (comma == std::string_view::npos) break;
        tags.remove_prefix(comma + 1);
      }
    }
  }
  SanitizeEtsyKey(raw, out);
}

}  // namespace metricsgate::ingest
