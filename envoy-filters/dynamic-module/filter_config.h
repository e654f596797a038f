// Parsing and validation of the RTP filter's `filter_config` JSON.
//
// Pure: no Envoy ABI here, so it is unit-tested on its own. Runs on Envoy's
// main thread when a listener is (re)configured; a failure is returned, never
// thrown, and makes the module refuse the config (Envoy rejects it: NACK).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rtp/rtp_tracker.h"

namespace mediamesh {
namespace rtp_filter {

// The filter_name this module answers to. Envoy 1.40 names every metric
// `<metrics_namespace>.<filter_name>.<metric>`, so a fixed "rtp" here is what
// puts `rtp` in every stat name.
inline constexpr std::string_view kFilterName = "rtp";

inline constexpr size_t kMaxRouteLength = 128;
inline constexpr size_t kMaxSourcesLimit = 4096;
inline constexpr uint64_t kMaxSourceTimeoutMs = 24ull * 3600 * 1000;
inline constexpr uint64_t kMaxGaugeIntervalMs = 60'000;
inline constexpr uint64_t kDefaultGaugeIntervalMs = 50;

struct FilterSettings {
  // Route name, the middle of every stat name: `<ns>.rtp.<route>.<metric>`.
  std::string route;
  // Informational copy of the prefix the control plane put in
  // dynamic_module_config.metrics_namespace (the module cannot see that
  // field); empty when not given.
  std::string stat_prefix;
  rtp::TrackerConfig tracker;
  // How often active_ssrcs and jitter_us, which scan every source, are
  // recomputed while packets flow once a worker tracks more than a few
  // sources (RtpFilter::kScanEveryPacketUpTo); 0 = on every packet. A new
  // source in the table recomputes them at once.
  uint64_t gauge_interval_ns = kDefaultGaugeIntervalMs * 1'000'000ull;
};

struct ParseResult {
  bool ok = false;
  FilterSettings settings;  // meaningful only when ok
  std::string error;        // meaningful only when !ok
};

// Accepted JSON (an object; unknown keys are an error):
//   "route"             string, required: 1..128 of [A-Za-z0-9_.-], no empty
//                       dot-separated segment
//   "stat_prefix"       string, optional, same alphabet (see FilterSettings)
//   "clock_rates"       object, optional: {"<payload type 0..127>": hz > 0}
//   "max_sources"       integer 1..4096, optional (default 64)
//   "source_timeout_ms" integer 1..86400000, optional (default 30000)
//   "gauge_interval_ms" integer 0..60000, optional (default 50)
ParseResult parseFilterConfig(std::string_view json);

// True when `name` is a usable stat name segment list (the route rule above).
bool isValidStatSegment(std::string_view name);

}  // namespace rtp_filter
}  // namespace mediamesh
