// What the RTSP filter needs from its host, and nothing more: the proxy-wasm
// glue (wasm_host.cc) implements it over the ABI inside Envoy, the unit tests
// over a fake. Keeping the filter's logic behind this interface is what lets
// it be tested natively with GoogleTest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mediamesh {
namespace rtsp_filter {

// Which side's bytes a data callback carries.
enum class Direction : uint8_t {
  ClientToServer,  // proxy-wasm DOWNSTREAM_DATA
  ServerToClient,  // proxy-wasm UPSTREAM_DATA
};

// What a data callback tells Envoy to do with the bytes it holds.
enum class Verdict : uint8_t {
  Continue,  // pass them on (tcp_proxy drains them)
  Pause,     // keep them buffered; the next callback sees them again, plus new ones
};

enum class MetricKind : uint8_t { Counter, Gauge, Histogram };

enum class LogLevel : uint8_t { Trace, Debug, Info, Warn, Error, Critical };

// Envoy's filter state keys the filter sets (tcp_proxy reads them).
inline constexpr std::string_view kTcpProxyClusterKey = "envoy.tcp_proxy.cluster";
inline constexpr std::string_view kTcpProxyIdleTimeoutKey = "envoy.tcp_proxy.per_connection_idle_timeout_ms";

struct BytesView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class Host {
 public:
  virtual ~Host() = default;

  virtual uint64_t monotonicNanos() = 0;
  virtual void log(LogLevel level, std::string_view message) = 0;

  // Bytes [start, start + length) of the current callback's data. The view
  // stays valid until the next readData() call. False when the host has no
  // such bytes.
  virtual bool readData(Direction direction, size_t start, size_t length, BytesView& out) = 0;
  // Replaces bytes [start, start + length) of the data the host holds for
  // that direction (the current callback's, or what an earlier Pause kept)
  // with `bytes`.
  virtual bool replaceData(Direction direction, size_t start, size_t length, std::string_view bytes) = 0;
  bool replaceData(Direction direction, size_t length, std::string_view bytes) {
    return replaceData(direction, 0, length, bytes);
  }
  // Lets the client's bytes held by an earlier Pause go on (continue_stream).
  // Only the client's direction can be resumed in Envoy.
  virtual void resumeClient() = 0;

  // An HTTP request to a cluster of the proxy's bootstrap (the control
  // plane's relay API). Its answer, or its failure after `timeout_ms`, comes
  // back later through RtspConnection::onHttpAnswer with the same `token`,
  // even when it was sent from a connection that has since closed (the host
  // then drops it). False when the host refused to send it.
  virtual bool httpCall(std::string_view cluster, std::string_view method, std::string_view path,
                        std::string_view body, uint32_t timeout_ms, uint32_t& token) = 0;

  // Envoy attributes of this connection; empty when unknown. Addresses are
  // "ip:port" ("[v6]:port" for IPv6).
  virtual std::string nodeId() = 0;
  virtual std::string clientAddress() = 0;  // source.address
  virtual std::string localAddress() = 0;   // destination.address
  virtual std::string serverAddress() = 0;  // upstream.address
  // Unique among the proxy's connections (connection.id); 0 when unknown.
  virtual uint64_t connectionId() = 0;

  // Envoy filter state on the downstream connection (set_envoy_filter_state).
  virtual bool setFilterState(std::string_view key, std::string_view value) = 0;
  // Closes the client connection once what was written is flushed; tcp_proxy
  // then closes the server side.
  virtual void closeClient() = 0;

  // False when the host refuses the metric (ids start at 0 in Envoy).
  virtual bool defineMetric(MetricKind kind, std::string_view name, uint32_t& id) = 0;
  virtual void incrementMetric(uint32_t id, int64_t delta) = 0;
  virtual void recordMetric(uint32_t id, uint64_t value) = 0;
};

}  // namespace rtsp_filter
}  // namespace mediamesh
