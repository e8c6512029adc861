// StrCat for std::string_view. Debian's abseil is built with its own absl::string_view
// (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so absl::StrCat does not take std::string_view;
// this one does, together with absl::string_view, chars and integers. Pure; safe from any thread.
#ifndef METRICSGATE_BASE_STR_CAT_H_
#define METRICSGATE_BASE_STR_CAT_H_

#include <concepts>
#include <string>
#include <string_view>

namespace metricsgate {
namespace internal_str_cat {

template <typename T>
void Append(std::string* out, const T& part) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out->append(std::string_view(part));
  } else if constexpr (requires { std::string_view(part.data(), part.size()); }) {
    out->append(part.data(), part.size());  // absl::string_view and the like
  } else if constexpr (std::same_as<T, char>) {
    out->push_back(part);
  } else {
    static_assert(std::integral<T>, "StrCat takes strings, chars and integers");
    out->append(std::to_string(part));
  }
}

}  // namespace internal_str_cat

template <typename... Parts>
std::string StrCat(const Parts&... parts) {
  std::string out;
  (internal_str_cat::Append(&out, parts), ...);
  return out;
}

// `text` quoted as Go's %q quotes it in error messages: `"`, `\` and control bytes escaped
// (`\n`, `\r`, `\t`, `\xNN`), so the messages read as Go programs' (Pushgateway's) do.
inline std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// Appends the parts to `*out`.
template <typename... Parts>
void StrAppend(std::string* out, const Parts&... parts) {
  (internal_str_cat::Append(out, parts), ...);
}

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_STR_CAT_H_
