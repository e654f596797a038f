#include "rtsp/rtsp_url.h"

#include "rtsp/rtsp_text.h"

namespace mediamesh {
namespace rtsp {

namespace {

// RFC 3986 reg-name: unreserved, sub-delims and percent-encoded octets.
bool validRegName(std::string_view host) noexcept {
  for (size_t i = 0; i < host.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(host[i]);
    if (isAlpha(c) || isDigit(c)) {
      continue;
    }
    switch (c) {
      case '-': case '.': case '_': case '~':
      case '!': case '$': case '&': case '\'': case '(': case ')':
      case '*': case '+': case ',': case ';': case '=':
        continue;
      case '%':
        if (i + 2 < host.size() && isHexDigit(static_cast<unsigned char>(host[i + 1])) &&
            isHexDigit(static_cast<unsigned char>(host[i + 2]))) {
          i += 2;
          continue;
        }
        return false;
      default:
        return false;
    }
  }
  return true;
}

// Loose on purpose: hex digits, ':' and '.' (an embedded IPv4 tail). The
// resolver has the final word; this only keeps junk out of the host.
bool validIpv6Literal(std::string_view host) noexcept {
  for (char ch : host) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!isHexDigit(c) && c != ':' && c != '.') {
      return false;
    }
  }
  return host.find(':') != std::string_view::npos;
}

}  // namespace

bool splitUrl(std::string_view url, RtspUrl& out, const UrlLimits& limits, const char** reason) noexcept {
  out = RtspUrl{};
  auto refuse = [&](const char* why) {
    out = RtspUrl{};
    if (reason != nullptr) {
      *reason = why;
    }
    return false;
  };
  if (url.empty()) {
    return refuse("empty URL");
  }
  if (url.size() > limits.max_url) {
    return refuse("URL longer than the limit");
  }
  for (char c : url) {
    if (!isVisibleAscii(static_cast<unsigned char>(c))) {
      return refuse("URL holds a character that is not visible ASCII");
    }
  }
  if (url == "*") {
    out.is_asterisk = true;
    return true;
  }
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return refuse("URL is neither * nor rtsp:// or rtsps://");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (equalsIgnoreCase(scheme, "rtsp")) {
    out.scheme = UrlScheme::Rtsp;
    out.port = kDefaultRtspPort;
  } else if (equalsIgnoreCase(scheme, "rtsps")) {
    out.scheme = UrlScheme::Rtsps;
    out.port = kDefaultRtspsPort;
  } else {
    return refuse("URL scheme is not rtsp or rtsps");
  }

  const std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

  // Cameras commonly take credentials in the URL; the last '@' ends them
  // because a password may hold an unescaped '@' where the host cannot.
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out.userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }

  std::string_view port_part;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return refuse("IPv6 host without a closing bracket");
    }
    out.host = authority.substr(1, close - 1);
    out.is_ipv6 = true;
    if (!validIpv6Literal(out.host)) {
      return refuse("IPv6 host is not an address");
    }
    port_part = authority.substr(close + 1);
    if (!port_part.empty() && port_part[0] != ':') {
      return refuse("junk after the IPv6 host");
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    port_part = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
    if (!validRegName(out.host)) {
      return refuse("host holds a character a host name cannot");
    }
  }
  if (out.host.empty()) {
    return refuse("URL has no host");
  }
  if (out.host.size() > limits.max_host) {
    return refuse("host longer than the limit");
  }
  // RFC 3986 allows an empty port after the colon; it means the default.
  if (port_part.size() > 1) {
    uint64_t port = 0;
    if (!parseDecimal(port_part.substr(1), 65535, port) || port == 0) {
      return refuse("port is not a number from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(port);
    out.has_port = true;
  }

  const size_t path_end = tail.find_first_of("?#");
  out.path = tail.substr(0, path_end);
  if (out.path.empty()) {
    out.path = "/";
  }
  if (out.path.size() > limits.max_path) {
    return refuse("path longer than the limit");
  }
  if (path_end != std::string_view::npos && tail[path_end] == '?') {
    const std::string_view after = tail.substr(path_end + 1);
    out.query = after.substr(0, after.find('#'));
    out.has_query = true;
  }
  return true;
}

}  // namespace rtsp
}  // namespace mediamesh
