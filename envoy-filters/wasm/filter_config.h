// The plugin configuration the control plane writes for one RtspRoute
// listener (JSON, in the Wasm filter's `configuration`), parsed and checked
// once per plugin, then shared by every connection of that listener:
//
//   {
//     "route": "media.cameras",                   // stat key: <namespace>.<name>
//     "hostnames": ["cameras.example.com", "*.cams.example.com"],
//     "matches": [                                // in precedence order, first match wins
//       {"path": {"type": "Exact", "value": "/cam1"},
//        "rule": 0, "cluster": "rtsp~media~cameras~554~0", "transport": "Auto"},
//       {"path": {"type": "PathPrefix", "value": "/"},
//        "rule": 1, "cluster": "rtsp~media~cameras~554~1", "transport": "TCP"}
//     ],
//     "reject_cluster": "mediamesh-rtsp-reject",  // where 400/404 answers are echoed from
//     "reject_close_ms": 250,                      // optional; idle time before a refused
//                                                  // connection is closed
//     "first_request_timeout_ms": 10000,           // optional; a client that has not sent
//                                                  // a whole first request by then is closed
//     "limits": {"max_start_line": 4096, ...},    // optional; rtsp::ParserLimits names
//     "relays": {                                  // optional; without it UDP transport
//       "cluster": "mediamesh-extensions",         //   passes untouched. The bootstrap cluster
//       "timeout_ms": 5000,                        //   of the control plane's relay API, how
//       "source": "local"                          //   long a SETUP may wait for its relays,
//     }                                            //   and which address the client is told
//   }                                              //   to send its media to (see RelayConfig)
//
// Unknown keys are refused, so a control plane newer than the filter fails
// loudly (a NACK naming the key) instead of being half understood.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "path_regex.h"
#include "rtsp/rtsp_parser.h"

namespace mediamesh {
namespace rtsp_filter {

enum class PathMatchType : uint8_t { Exact, PathPrefix, RegularExpression };

// What the rule lets the client ask for in SETUP; the UDP relays will act on it.
enum class Transport : uint8_t { Auto, Tcp, Udp };

struct RouteMatch {
  PathMatchType type = PathMatchType::PathPrefix;
  std::string value;
  std::unique_ptr<PathRegex> regex;  // RegularExpression only
  uint32_t rule = 0;
  std::string cluster;
  Transport transport = Transport::Auto;

  bool matchesPath(std::string_view path) const noexcept;
};

// How UDP-transport sessions get relays from the control plane.
struct RelayConfig {
  enum class Source : uint8_t {
    // The address the client connected to: a gateway, or file mode.
    Local,
    // The client's own address: a sidecar, which shares the client's network
    // namespace (the connection was redirected, so its local address is the
    // Service's, not the proxy's).
    Client,
  };
  std::string cluster;
  uint32_t timeout_ms = 5000;
  Source source = Source::Local;
};

struct FilterConfig {
  std::string route;
  std::vector<std::string> hostnames;  // lower case; empty: any host
  std::vector<RouteMatch> matches;
  std::string reject_cluster;
  uint32_t reject_close_ms = 250;
  uint32_t first_request_timeout_ms = 10000;
  rtsp::ParserLimits limits;
  std::unique_ptr<RelayConfig> relays;  // null: UDP transport is not relayed

  // The first match for a request URL's host and path, or null. `asterisk`
  // is an `OPTIONS *` URL: it has no host or path, so only a catch-all
  // (PathPrefix "/") can take it, and hostnames are not checked.
  const RouteMatch* match(std::string_view host, std::string_view path, bool asterisk) const noexcept;
  bool hostAllowed(std::string_view host) const noexcept;
};

// Null with `error` naming the field and the reason.
std::unique_ptr<FilterConfig> parseFilterConfig(std::string_view json, std::string& error);

// Gateway API hostname matching: exact, or "*.example.com" for any name with
// at least one more label; case-insensitive.
bool hostnameMatches(std::string_view pattern, std::string_view host) noexcept;

}  // namespace rtsp_filter
}  // namespace mediamesh
