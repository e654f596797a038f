// Splitting an RTSP request URL (RFC 2326 section 3.2, RFC 7826 section
// 4.2) into the parts the filter's route rules match on: host, port, path.
//
//   rtsp://[userinfo@]host[:port][/path][?query][#fragment]
//   rtsps://...   (TLS; default port 322)
//   *             (OPTIONS * asks about the server, not a resource)
//
// The parts are views into the input; nothing is decoded or normalised (no
// percent-decoding, no dot-segment removal, case kept): the filter matches
// the path the server will see. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mediamesh {
namespace rtsp {

enum class UrlScheme : uint8_t { Rtsp, Rtsps };

inline constexpr uint16_t kDefaultRtspPort = 554;
inline constexpr uint16_t kDefaultRtspsPort = 322;

struct UrlLimits {
  size_t max_url = 4096;
  size_t max_host = 255;  // DNS names are at most 253 characters
  size_t max_path = 4096;
};

struct RtspUrl {
  bool is_asterisk = false;  // the URL was "*"; every other field is empty
  UrlScheme scheme = UrlScheme::Rtsp;
  std::string_view userinfo;  // "user:pass" of rtsp://user:pass@host/
  // Without brackets for an IPv6 literal (is_ipv6 then tells).
  std::string_view host;
  bool is_ipv6 = false;
  uint16_t port = 0;  // the explicit port, or the scheme's default
  bool has_port = false;
  // "/" when the URL has none (rtsp://cam.example), so a PathPrefix "/"
  // matches every URL.
  std::string_view path;
  std::string_view query;  // after '?', before '#'
  bool has_query = false;
};

// False when the URL is not one of the forms above or exceeds a limit; then
// `out` is reset and `reason`, if given, points at a short fixed sentence.
bool splitUrl(std::string_view url, RtspUrl& out, const UrlLimits& limits = UrlLimits{},
              const char** reason = nullptr) noexcept;

}  // namespace rtsp
}  // namespace mediamesh
