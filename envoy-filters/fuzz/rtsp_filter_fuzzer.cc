// The RTSP filter's connection logic under arbitrary bytes: the input is
// split into steps that each deliver a slice to the client or the server
// side (or fire the first-request timeout), against the fake host that acts
// like Envoy's filter chain. Whatever arrives, the filter must not crash,
// must answer a refused connection once, and must keep its gauges balanced.
// The same input's first bytes also exercise the path regex compiler.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "connection.h"
#include "fake_host.h"
#include "filter_config.h"
#include "path_regex.h"

using namespace mediamesh::rtsp_filter;

namespace {

const char* kConfig = R"({
  "route": "fuzz.route",
  "hostnames": ["cam", "*.example.com"],
  "matches": [
    {"path": {"type": "Exact", "value": "/a"}, "rule": 0, "cluster": "c0"},
    {"path": {"type": "RegularExpression", "value": "/c[0-9]+(/.*)?"}, "rule": 1, "cluster": "c1"},
    {"path": {"type": "PathPrefix", "value": "/"}, "rule": 2, "cluster": "c2"}
  ],
  "reject_cluster": "reject",
  "limits": {"max_header_bytes": 4096, "max_interleaved_frame": 2048},
  "relays": {"cluster": "cp", "timeout_ms": 1000}
})";

// Answers the relay API could give, for the fuzzer to pick from.
const char* kAnswers[] = {
    R"({"toClient":{"rtp":40000,"rtcp":40001},"toServer":{"rtp":40002,"rtcp":40003},"timeoutMs":60000})",
    R"({"toClient":{"rtp":1,"rtcp":2}})",
    "",
};

const FilterConfig& config() {
  static std::unique_ptr<FilterConfig> parsed = [] {
    std::string error;
    auto c = parseFilterConfig(kConfig, error);
    if (!c) abort();
    return c;
  }();
  return *parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first line, if short, is also a regular expression to compile and run.
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline != std::string_view::npos && newline < 64) {
    std::string error;
    auto regex = PathRegex::compile(input.substr(0, newline), error);
    if (regex) regex->matches(input.substr(newline + 1, 256));
  }

  testing::FakeHost host;
  RouteStats stats;
  if (!stats.define(host, config().route)) abort();
  {
    RtspConnection connection(config(), stats, host);
    testing::Driver driver(host, connection);
    size_t pos = 0;
    while (pos < size) {
      const uint8_t op = data[pos++];
      const size_t length = std::min<size_t>(size - pos, 1 + (op >> 3) * 37);
      const std::string_view slice = input.substr(pos, length);
      pos += length;
      switch (op & 7) {
        case 0:
        case 1:
        case 2:
          driver.client(slice, false);
          break;
        case 3:
        case 4:
        case 5:
          driver.server(slice, false);
          break;
        case 6:
          host.now_ns += 1'000'000ull * (op >> 3);
          break;
        case 7:
          if (op & 8) {
            connection.onFirstRequestTimeout();
          } else if (!host.calls.empty()) {
            // The control plane answers the latest call: granted, refused or garbled.
            const uint32_t status = (op >> 4) % 3 == 0 ? 200 : (op >> 4) % 3 == 1 ? 503 : 0;
            connection.onHttpAnswer(host.calls.back().token, status, kAnswers[(op >> 4) % 3]);
          }
          break;
      }
      if (host.close_calls > 1) abort();  // asked to close once at most
    }
    connection.finish();
  }
  if (host.stat("mediamesh.rtsp.fuzz.route.connections_active") != 0) abort();
  if (host.stat("mediamesh.rtsp.fuzz.route.sessions_active") != 0) abort();
  if (host.stat("mediamesh.rtsp.fuzz.route.relays.active") != 0) abort();
  return 0;
}
