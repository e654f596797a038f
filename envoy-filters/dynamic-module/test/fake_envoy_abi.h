// A stand-in for the Envoy side of the dynamic-module ABI, so the module's
// hooks run in a unit test: it keeps metrics by id and serves one datagram
// at a time, split into as many slices as the test asks for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "envoy_abi.h"

namespace mediamesh {
namespace rtp_filter {
namespace testing {

struct FakeWorker {
  uint32_t worker_index = 0;
  std::vector<std::string> chunks;  // the current datagram
};

struct FakeEnvoy {
  uint32_t concurrency = 2;
  std::vector<std::string> counter_names;
  std::vector<uint64_t> counters;
  std::vector<std::string> gauge_names;
  std::vector<uint64_t> gauges;
  std::vector<std::string> logs;

  static FakeEnvoy& get();
  void reset();
  // Value by metric name (the module's part, e.g. "media.feed.lost"); -1 if
  // no such metric.
  int64_t counter(const std::string& name) const;
  int64_t gauge(const std::string& name) const;
};

}  // namespace testing
}  // namespace rtp_filter
}  // namespace mediamesh
