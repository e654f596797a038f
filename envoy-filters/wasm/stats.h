// Every stat of the RTSP filter, declared once.
//
// Names are mediamesh.rtsp.<route>.<stat>, where <route> is the RtspRoute's
// "<namespace>.<name>" (the control plane writes it into the plugin config).
// Envoy keeps Wasm metrics under its custom stat namespace: `/stats` lists
// wasmcustom.mediamesh.rtsp.media.cameras.requests.SETUP, `/stats/prometheus`
// drops the namespace, and the stats tags `mediamesh bootstrap` adds turn
// route, method, status class and direction into labels:
// mediamesh_rtsp_requests{rtsp_route="media.cameras",rtsp_method="SETUP"}.
// Interleaved RTP stats are under <route>.rtp.*, so a grep for either rtsp
// or rtp finds them.
//
// X(enumerator, name, kind)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "host.h"

namespace mediamesh {
namespace rtsp_filter {

// Methods counted by name; anything else is "other".
#define MEDIAMESH_RTSP_METHODS(X) \
  X(Options, "OPTIONS")           \
  X(Describe, "DESCRIBE")         \
  X(Announce, "ANNOUNCE")         \
  X(Setup, "SETUP")               \
  X(Play, "PLAY")                 \
  X(Pause, "PAUSE")               \
  X(Record, "RECORD")             \
  X(Teardown, "TEARDOWN")         \
  X(GetParameter, "GET_PARAMETER") \
  X(SetParameter, "SET_PARAMETER") \
  X(Redirect, "REDIRECT")         \
  X(PlayNotify, "PLAY_NOTIFY")    \
  X(Other, "other")

#define MEDIAMESH_RTSP_STATS(X)                                                                  \
  /* connections through the route's listener */                                                 \
  X(ConnectionsTotal, "connections_total", Counter)                                              \
  X(ConnectionsActive, "connections_active", Gauge)                                              \
  /* requests from the client, by method (one stat per MEDIAMESH_RTSP_METHODS entry follows) */  \
  X(RequestsFromServer, "requests_from_server", Counter)                                         \
  /* responses from the server, by status class */                                              \
  X(Responses1xx, "responses.1xx", Counter)                                                      \
  X(Responses2xx, "responses.2xx", Counter)                                                      \
  X(Responses3xx, "responses.3xx", Counter)                                                      \
  X(Responses4xx, "responses.4xx", Counter)                                                      \
  X(Responses5xx, "responses.5xx", Counter)                                                      \
  /* RTSP sessions: a Session id first seen in a 2xx reply to SETUP, until TEARDOWN or close */  \
  X(SessionsTotal, "sessions_total", Counter)                                                    \
  X(SessionsActive, "sessions_active", Gauge)                                                    \
  /* SETUP to its 2xx reply, microseconds */                                                     \
  X(SetupLatencyUs, "setup_latency_us", Histogram)                                               \
  X(BytesClientToServer, "bytes.client_to_server", Counter)                                      \
  X(BytesServerToClient, "bytes.server_to_client", Counter)                                      \
  /* the filter's own answers and refusals */                                                    \
  X(NoRoute, "no_route", Counter)                                                                \
  X(ParseErrors, "parse_errors", Counter)                                                        \
  X(BadRequests, "bad_requests", Counter)                                                        \
  /* interleaved ($) RTP and RTCP, both directions, through the rtp/ tracker */                  \
  X(RtpPackets, "rtp.packets", Counter)                                                          \
  X(RtpBytes, "rtp.bytes", Counter)                                                              \
  X(RtpExpected, "rtp.expected", Counter)                                                        \
  X(RtpLost, "rtp.lost", Counter)                                                                \
  X(RtpOutOfOrder, "rtp.out_of_order", Counter)                                                  \
  X(RtpDuplicates, "rtp.duplicates", Counter)                                                    \
  X(RtpMalformed, "rtp.malformed", Counter)                                                      \
  X(RtcpPackets, "rtp.rtcp_packets", Counter)                                                    \
  X(RtpJitterUs, "rtp.jitter_us", Gauge)                                                         \
  /* SETUPs a route's transport rule refused with 461 */                                         \
  X(TransportRefused, "transport_refused", Counter)                                              \
  /* UDP transport: relays asked of the control plane for a SETUP, granted or not (the client */  \
  /* then got 503), open now, how long the SETUP was held for them (microseconds), and replies */ \
  /* whose Transport could not be rewritten (their head had already gone on) */                  \
  X(RelaysRequested, "relays.requested", Counter)                                                \
  X(RelaysGranted, "relays.granted", Counter)                                                    \
  X(RelaysFailed, "relays.failed", Counter)                                                      \
  X(RelaysActive, "relays.active", Gauge)                                                        \
  X(RelayWaitUs, "relays.wait_us", Histogram)                                                    \
  X(RelayRewriteFailed, "relays.rewrite_failed", Counter)

enum class Method : uint8_t {
#define MEDIAMESH_X(e, name) e,
  MEDIAMESH_RTSP_METHODS(MEDIAMESH_X)
#undef MEDIAMESH_X
};
#define MEDIAMESH_X(e, name) +1
inline constexpr size_t kMethodCount = 0 MEDIAMESH_RTSP_METHODS(MEDIAMESH_X);
#undef MEDIAMESH_X

inline constexpr std::string_view kMethodNames[kMethodCount] = {
#define MEDIAMESH_X(e, name) name,
    MEDIAMESH_RTSP_METHODS(MEDIAMESH_X)
#undef MEDIAMESH_X
};

enum class Stat : uint8_t {
#define MEDIAMESH_X(e, name, kind) e,
  MEDIAMESH_RTSP_STATS(MEDIAMESH_X)
#undef MEDIAMESH_X
};
#define MEDIAMESH_X(e, name, kind) +1
inline constexpr size_t kStatCount = 0 MEDIAMESH_RTSP_STATS(MEDIAMESH_X);
#undef MEDIAMESH_X

struct StatInfo {
  std::string_view name;
  MetricKind kind;
};

inline constexpr StatInfo kStats[kStatCount] = {
#define MEDIAMESH_X(e, name, kind) {name, MetricKind::kind},
    MEDIAMESH_RTSP_STATS(MEDIAMESH_X)
#undef MEDIAMESH_X
};

constexpr size_t index(Stat s) { return static_cast<size_t>(s); }
constexpr size_t index(Method m) { return static_cast<size_t>(m); }

// Exact, case-sensitive (RFC 2326 methods are case-sensitive).
Method methodOf(std::string_view method) noexcept;

// Metric ids of one route, defined once per plugin configuration.
class RouteStats {
 public:
  // Defines mediamesh.rtsp.<route>.* on the host; false if the host refused any.
  bool define(Host& host, std::string_view route);

  uint32_t id(Stat s) const noexcept { return ids_[index(s)]; }
  uint32_t requestId(Method m) const noexcept { return request_ids_[index(m)]; }

 private:
  uint32_t ids_[kStatCount] = {};
  uint32_t request_ids_[kMethodCount] = {};
};

// The prefix every name shares.
inline constexpr std::string_view kStatPrefix = "mediamesh.rtsp.";

}  // namespace rtsp_filter
}  // namespace mediamesh
