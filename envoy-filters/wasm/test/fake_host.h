// A Host for the filter's unit tests and fuzzer that behaves like Envoy's
// network filter chain in front of tcp_proxy: bytes a callback Continues are
// handed on (and drained), bytes it Pauses stay and come again with the next
// bytes, replaceData edits what is held, filter state and metrics are kept
// by name so tests can read them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "connection.h"
#include "host.h"

namespace mediamesh {
namespace rtsp_filter {
namespace testing {

class FakeHost : public Host {
 public:
  struct Metric {
    MetricKind kind;
    std::string name;
    int64_t value = 0;              // counter or gauge
    std::vector<uint64_t> records;  // histogram
  };

  uint64_t now_ns = 1'000'000'000;
  std::string held[2];            // per Direction: bytes of the current callback
  std::string forwarded[2];       // bytes Continued past the filter, per Direction
  std::map<std::string, std::string> filter_state;
  std::vector<std::string> logs;
  int close_calls = 0;
  bool refuse_filter_state = false;
  bool refuse_reads = false;
  std::vector<Metric> metrics;

  struct HttpCall {
    std::string cluster, method, path, body;
    uint32_t timeout_ms;
    uint32_t token;
  };
  std::vector<HttpCall> calls;
  bool refuse_calls = false;
  int resumes = 0;
  std::string node_id = "cam-client.media";
  std::string client_address = "10.0.0.7:40000";
  std::string local_address = "10.0.0.1:554";
  std::string server_address = "10.1.0.9:8554";
  uint64_t connection_id = 42;

  uint64_t monotonicNanos() override { return now_ns; }
  void log(LogLevel, std::string_view message) override { logs.emplace_back(message); }
  bool readData(Direction direction, size_t start, size_t length, BytesView& out) override;
  using Host::replaceData;
  bool replaceData(Direction direction, size_t start, size_t length, std::string_view bytes) override;
  // Envoy's continue_stream: what the client's side held goes on.
  void resumeClient() override;
  bool httpCall(std::string_view cluster, std::string_view method, std::string_view path, std::string_view body,
                uint32_t timeout_ms, uint32_t& token) override;
  std::string nodeId() override { return node_id; }
  std::string clientAddress() override { return client_address; }
  std::string localAddress() override { return local_address; }
  std::string serverAddress() override { return server_address; }
  uint64_t connectionId() override { return connection_id; }
  bool setFilterState(std::string_view key, std::string_view value) override;
  void closeClient() override { ++close_calls; }
  bool defineMetric(MetricKind kind, std::string_view name, uint32_t& id) override;
  void incrementMetric(uint32_t id, int64_t delta) override;
  void recordMetric(uint32_t id, uint64_t value) override;

  // The value of mediamesh.rtsp.<route>.<stat>, 0 when never defined.
  int64_t stat(std::string_view full_name) const;
  const Metric* find(std::string_view full_name) const;
};

// Drives one RtspConnection the way Envoy does: appends bytes to what the
// filter holds, calls it with the whole held size, and on Continue passes the
// held bytes on.
class Driver {
 public:
  Driver(FakeHost& host, RtspConnection& connection) : host_(host), connection_(connection) {}

  Verdict client(std::string_view bytes, bool end_of_stream = false);
  Verdict server(std::string_view bytes, bool end_of_stream = false);

 private:
  Verdict deliver(Direction direction, std::string_view bytes, bool end_of_stream);
  FakeHost& host_;
  RtspConnection& connection_;
};

}  // namespace testing
}  // namespace rtsp_filter
}  // namespace mediamesh
