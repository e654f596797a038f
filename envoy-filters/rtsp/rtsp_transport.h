// The Transport header (RFC 2326 section 12.39; RFC 7826 section 18.54 keeps
// the shape): a comma-separated list of transport specs, each a transport id
// such as "RTP/AVP/TCP" followed by ;parameters.
//
// A spec is kept as its transport id and its parameters in order, each as
// the name and value text received, so serializeTransport() gives back what
// was parsed (in canonical spacing) with only the values the filter changed
// being different; parameters this code does not know, such as RTSP 2.0's
// dest_addr or a vendor's, pass through verbatim. Typed accessors read and
// write the parameters the filter needs.
//
// Parameters that carry ports or channels are checked when parsed, so a
// filter that rewrites them never works from a value it misread: a
// client_port that is not "port" or "port-port" fails the whole header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mediamesh {
namespace rtsp {

// Bounds on one Transport header; a header past them fails to parse.
inline constexpr size_t kMaxTransportSpecs = 16;
inline constexpr size_t kMaxTransportParams = 32;  // per spec
inline constexpr size_t kMaxTransportLength = 4096;

enum class LowerTransport : uint8_t { Udp, Tcp, Other };

// "a" (first == last, is_range false) or "a-b" (first <= b). Ports are
// 0..65535, interleaved channels 0..255.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool is_range = false;

  static PortRange single(uint16_t port) noexcept { return PortRange{port, port, false}; }
  static PortRange pair(uint16_t first, uint16_t last) noexcept { return PortRange{first, last, true}; }
  bool operator==(const PortRange& o) const noexcept {
    return first == o.first && last == o.last && is_range == o.is_range;
  }
  bool operator!=(const PortRange& o) const noexcept { return !(*this == o); }
};

struct TransportParam {
  std::string name;   // as received, e.g. "client_port"
  std::string value;  // as received, quotes included
  bool has_value = false;  // "unicast" has none; "destination=" has an empty one

  bool operator==(const TransportParam& o) const noexcept {
    return name == o.name && value == o.value && has_value == o.has_value;
  }
};

struct TransportSpec {
  std::string protocol;  // the transport id, e.g. "RTP/AVP" or "RTP/AVP/TCP"
  std::vector<TransportParam> params;

  // The third part of the transport id; RTP/AVP without one means UDP.
  LowerTransport lowerTransport() const noexcept;
  bool isUnicast() const noexcept;
  bool isMulticast() const noexcept;

  std::optional<PortRange> clientPort() const noexcept;
  std::optional<PortRange> serverPort() const noexcept;
  std::optional<PortRange> interleaved() const noexcept;
  std::optional<PortRange> port() const noexcept;  // multicast
  // The first SSRC (RTSP 2.0 allows a '/'-separated list).
  std::optional<uint32_t> ssrc() const noexcept;
  // Without the quotes, e.g. PLAY for mode="PLAY".
  std::optional<std::string_view> mode() const noexcept;
  // Empty when the parameter has no value (a bare "destination").
  std::optional<std::string_view> destination() const noexcept;
  std::optional<std::string_view> source() const noexcept;

  // Replace the value in place, keeping the parameter's position and name
  // spelling, or append the parameter when absent.
  void setClientPort(const PortRange& range);
  void setServerPort(const PortRange& range);
  void setInterleaved(const PortRange& range);

  // Case-insensitive, first match.
  const TransportParam* find(std::string_view name) const noexcept;
  // Set has the in-place-or-append rule above; the value is not checked, so
  // it is for parameters without a typed setter.
  void set(std::string_view name, std::string_view value);
  // Removes every parameter of that name; returns how many.
  size_t remove(std::string_view name);

  bool operator==(const TransportSpec& o) const noexcept { return protocol == o.protocol && params == o.params; }
};

// Parses a Transport header value into `out` (replacing its contents). On
// failure returns false, leaves `out` empty and, if `reason` is given, points
// it at a short fixed sentence.
bool parseTransport(std::string_view value, std::vector<TransportSpec>& out, const char** reason = nullptr);

// spec;param;name=value,spec;... with no spaces; for a header parsed from
// that form, the exact input.
std::string serializeTransport(const std::vector<TransportSpec>& specs);
void serializeTransportSpec(const TransportSpec& spec, std::string& out);

// "a" or "a-b" with a <= b <= max; no spaces, no signs.
bool parsePortRange(std::string_view text, uint32_t max, PortRange& out) noexcept;
void appendPortRange(const PortRange& range, std::string& out);

}  // namespace rtsp
}  // namespace mediamesh
