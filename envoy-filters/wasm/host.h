// What the RTSP filter needs from its host, and nothing more: the proxy-wasm
// glue (wasm_host.cc) implements it over the ABI inside Envoy, the unit tests
// over a fake. Keeping the filter's logic behind this interface is what lets
// it be tested natively with GoogleTest.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Replaces the first `length` bytes of the current callback's data (all of
  // it when `length` is its size) with `bytes`.
  virtual bool replaceData(Direction direction, size_t length, std::string_view bytes) = 0;

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
