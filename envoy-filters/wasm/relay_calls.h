// The filter's side of the control plane's relay API
// (xds-server/src/admin/relay-api.ts): request paths and bodies, the grant it
// answers with, and the address juggling around them. Pure functions, so the
// shapes are tested natively beside the TypeScript that serves them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mediamesh {
namespace rtsp_filter {

inline constexpr std::string_view kRelaySessionsPath = "/relays/v1/sessions";

struct PortPair {
  uint16_t rtp = 0;
  uint16_t rtcp = 0;
};

struct RelayGrant {
  PortPair to_client;  // the server sends here; the proxy forwards to the client
  PortPair to_server;  // the client sends here; the proxy forwards to the server
  uint32_t timeout_ms = 0;
};

// POST /relays/v1/sessions
std::string openRelayBody(std::string_view node, std::string_view session, std::string_view client_ip,
                          PortPair client);
// PUT .../server
std::string serverRelayBody(std::string_view server_ip, PortPair server);
// /relays/v1/sessions/<node>/<session><suffix>, each segment percent-encoded.
std::string relaySessionPath(std::string_view node, std::string_view session, std::string_view suffix = {});

// False unless `body` is the API's grant with every port in 1..65535.
bool parseRelayGrant(std::string_view body, RelayGrant& out);

// "1.2.3.4:5" → "1.2.3.4", "[::1]:5" → "::1"; empty when it is not host:port.
std::string_view hostOfAddress(std::string_view address) noexcept;

}  // namespace rtsp_filter
}  // namespace mediamesh
