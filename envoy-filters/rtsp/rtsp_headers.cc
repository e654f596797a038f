#include "rtsp/rtsp_headers.h"

#include "rtsp/rtsp_text.h"

namespace mediamesh {
namespace rtsp {

bool parseCSeq(std::string_view value, uint32_t& out) noexcept {
  uint64_t number = 0;
  if (!parseDecimal(trimWhitespace(value), UINT32_MAX, number)) {
    return false;
  }
  out = static_cast<uint32_t>(number);
  return true;
}

bool parseSession(std::string_view value, SessionHeader& out) noexcept {
  out = SessionHeader{};
  value = trimWhitespace(value);
  const size_t semicolon = value.find(';');
  const std::string_view id = trimWhitespace(value.substr(0, semicolon));
  if (id.empty() || id.size() > kMaxSessionIdLength) {
    return false;
  }
  for (char ch : id) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!isVisibleAscii(c) || c == ';' || c == ',') {
      return false;
    }
  }
  out.id = id;
  std::string_view rest = semicolon == std::string_view::npos ? std::string_view{} : value.substr(semicolon + 1);
  while (!rest.empty()) {
    const size_t next = rest.find(';');
    const std::string_view param = trimWhitespace(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    const size_t equals = param.find('=');
    if (!equalsIgnoreCase(trimWhitespace(param.substr(0, equals)), "timeout")) {
      continue;
    }
    uint64_t seconds = 0;
    if (equals == std::string_view::npos || out.has_timeout ||
        !parseDecimal(trimWhitespace(param.substr(equals + 1)), UINT32_MAX, seconds)) {
      return false;
    }
    out.has_timeout = true;
    out.timeout_seconds = static_cast<uint32_t>(seconds);
  }
  return true;
}

bool parseContentLength(std::string_view value, uint64_t& out) noexcept {
  return parseDecimal(trimWhitespace(value), UINT64_MAX, out);
}

}  // namespace rtsp
}  // namespace mediamesh
