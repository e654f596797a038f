// Every stat of the RTP filter, declared once.
//
// Envoy 1.40 names a module metric `<metrics_namespace>.<filter_name>.<name>`;
// this module defines `<route>.<metric>` and answers only to filter_name
// "rtp", so with metrics_namespace "mediamesh" and route "media.feed" the lost
// counter is `mediamesh.rtp.media.feed.lost` (Prometheus:
// `envoy_mediamesh_rtp_media_feed_lost`). The 1.40 UDP ABI has no labels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rtp/rtp_tracker.h"

namespace mediamesh {
namespace rtp_filter {

// Counters: monotonic, summed over workers by Envoy.
enum class Counter : uint8_t {
  Packets,
  Bytes,
  Expected,
  Lost,
  Duplicates,
  OutOfOrder,
  Rtcp,
  NonRtp,
  Malformed,
};
inline constexpr size_t kCounterCount = 9;

// Gauges. ActiveSsrcs and LostPending are published as each worker's
// contribution (increment/decrement by the change), so Envoy's single gauge
// holds the sum over workers. JitterUs is a maximum: see filter.h.
enum class Gauge : uint8_t {
  JitterUs,
  ActiveSsrcs,
  LostPending,
};
inline constexpr size_t kGaugeCount = 3;

inline constexpr const char* kCounterNames[kCounterCount] = {
    "packets", "bytes", "expected", "lost", "duplicates", "out_of_order", "rtcp", "non_rtp",
    "malformed",
};

inline constexpr const char* kGaugeNames[kGaugeCount] = {
    "jitter_us",
    "active_ssrcs",
    "lost_pending",
};

constexpr size_t index(Counter c) { return static_cast<size_t>(c); }
constexpr size_t index(Gauge g) { return static_cast<size_t>(g); }

// The tracker's cumulative counters, in the order of `Counter`.
inline void counterValues(const rtp::RtpCounters& c, uint64_t (&out)[kCounterCount]) noexcept {
  out[index(Counter::Packets)] = c.packets;
  out[index(Counter::Bytes)] = c.bytes;
  out[index(Counter::Expected)] = c.expected;
  out[index(Counter::Lost)] = c.lost;
  out[index(Counter::Duplicates)] = c.duplicates;
  out[index(Counter::OutOfOrder)] = c.out_of_order;
  out[index(Counter::Rtcp)] = c.rtcp;
  out[index(Counter::NonRtp)] = c.non_rtp;
  out[index(Counter::Malformed)] = c.malformed;
}

// Jitter in whole microseconds for the gauge; NaN/negative read as 0.
inline uint64_t jitterGaugeValue(double micros) noexcept {
  if (!(micros > 0.0)) {
    return 0;
  }
  if (micros >= 1.8e19) {
    return UINT64_MAX;
  }
  return static_cast<uint64_t>(micros + 0.5);
}

}  // namespace rtp_filter
}  // namespace mediamesh
