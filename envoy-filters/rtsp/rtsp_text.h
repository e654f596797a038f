// Character classes and small text helpers shared by the RTSP parser and its
// header, Transport and URL helpers. ASCII only on purpose: RTSP's syntax is
// ASCII, and locale-dependent <cctype> would make the parser's verdicts depend
// on the process's locale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mediamesh {
namespace rtsp {

constexpr bool isDigit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }

constexpr bool isAlpha(unsigned char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr bool isHexDigit(unsigned char c) noexcept {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 7230 tchar, which RFC 2326's "token" and RFC 7826's "token" agree with.
constexpr bool isTokenChar(unsigned char c) noexcept {
  if (isDigit(c) || isAlpha(c)) {
    return true;
  }
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// Control characters other than horizontal tab, which header values may hold.
constexpr bool isForbiddenControl(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7f; }

constexpr bool isVisibleAscii(unsigned char c) noexcept { return c > 0x20 && c < 0x7f; }

constexpr char toLowerAscii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

constexpr bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// Strips spaces and tabs (RFC 7230 OWS) from both ends.
constexpr std::string_view trimWhitespace(std::string_view s) noexcept {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && (s[begin] == ' ' || s[begin] == '\t')) {
    ++begin;
  }
  while (end > begin && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
    --end;
  }
  return s.substr(begin, end - begin);
}

// Plain decimal: one or more digits, no sign, no spaces, value <= max.
// Leading zeros are accepted ("007"); a long run of them is not an overflow.
constexpr bool parseDecimal(std::string_view s, uint64_t max, uint64_t& out) noexcept {
  if (s.empty()) {
    return false;
  }
  uint64_t value = 0;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!isDigit(c)) {
      return false;
    }
    const uint64_t digit = c - '0';
    if (digit > max || value > (max - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

}  // namespace rtsp
}  // namespace mediamesh
