// The RTP UDP listener filter: the shared per-listener config and the
// per-worker filter that feeds datagrams to an RtpTracker and publishes the
// tracker's figures as Envoy metrics.
//
// Threading (Envoy 1.40): `RtpFilterConfig` is built on the main thread in
// on_udp_listener_filter_config_new and shared read-only by every worker; its
// only mutable state is the per-worker jitter slots (atomics). Envoy creates
// one `RtpFilter` per (listener, worker thread) and calls it only from that
// worker, so the tracker is per worker and needs no lock. On Linux each
// worker has its own SO_REUSEPORT socket and the kernel hashes a 5-tuple to
// one of them, so all packets of one RTP stream meet the same tracker.
//
// How the figures reach Envoy:
//   counters      the change of the tracker's cumulative counter since the
//                 last publish is added; Envoy's counter is the sum over
//                 workers.
//   active_ssrcs, each worker adds/subtracts the change of its own value, so
//   lost_pending  the gauge is the sum over workers; a worker's share is
//                 removed when its filter is destroyed (listener drained or
//                 updated).
//   jitter_us     maximum over workers: each worker stores its own maximum
//                 in its slot and sets the gauge to the maximum of all slots
//                 when its own changes. Two workers publishing at once may
//                 leave the older maximum for one packet; with one stream per
//                 worker it is exact.
// active_ssrcs and jitter_us scan every tracked source. With up to
// kScanEveryPacketUpTo sources that is cheap and they follow every packet;
// with more they are recomputed at most every gauge_interval_ms (default 50)
// while packets flow, and at once when a new source joins the table, so the
// per-packet cost stays flat in the number of streams. Gauges move only when
// a datagram arrives (the 1.40 UDP ABI has no timer), so after traffic stops
// they keep their last values until the next packet.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "envoy_abi.h"
#include "filter_config.h"
#include "rtp/rtp_tracker.h"
#include "stats.h"

namespace mediamesh {
namespace rtp_filter {

class RtpFilterConfig {
 public:
  // Main thread. Defines the metrics; returns nullptr (and logs why) if
  // Envoy refuses one.
  static std::unique_ptr<RtpFilterConfig> create(
      envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config,
      FilterSettings settings, uint32_t worker_count);

  const FilterSettings& settings() const { return settings_; }
  envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoyConfig() const {
    return envoy_config_;
  }
  size_t counterId(Counter c) const { return counter_ids_[index(c)]; }
  size_t gaugeId(Gauge g) const { return gauge_ids_[index(g)]; }

  // Stores a worker's maximum jitter and returns the maximum over workers.
  uint64_t publishWorkerJitter(uint32_t worker_index, uint64_t jitter_us) const noexcept;

 private:
  RtpFilterConfig(envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config,
                  FilterSettings settings, uint32_t worker_count);

  const envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config_;
  const FilterSettings settings_;
  size_t counter_ids_[kCounterCount] = {};
  size_t gauge_ids_[kGaugeCount] = {};
  const uint32_t worker_slots_;
  std::unique_ptr<std::atomic<uint64_t>[]> worker_jitter_us_;
};

class RtpFilter {
 public:
  // Up to this many tracked sources the scanned gauges follow every packet.
  static constexpr size_t kScanEveryPacketUpTo = 4;

  RtpFilter(const RtpFilterConfig& config, uint32_t worker_index);
  ~RtpFilter();
  RtpFilter(const RtpFilter&) = delete;
  RtpFilter& operator=(const RtpFilter&) = delete;

  // Worker thread, once per datagram. Never fails: the datagram always goes
  // on to the next filter untouched.
  void onDatagram(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter) noexcept;

  const rtp::RtpTracker& tracker() const { return tracker_; }

 private:
  // Returns a contiguous view of the current datagram (copied into
  // scratch_ only when Envoy holds it in several slices).
  bool readDatagram(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter,
                    const uint8_t*& data, size_t& length) noexcept;
  void publish(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter,
               uint64_t now_ns) noexcept;
  void publishScannedGauges(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter) noexcept;
  void publishGaugeDelta(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter,
                         Gauge gauge, uint64_t now) noexcept;

  const RtpFilterConfig& config_;
  const uint32_t worker_index_;
  rtp::RtpTracker tracker_;

  // What this worker has already added to Envoy's metrics.
  uint64_t published_counters_[kCounterCount] = {};
  uint64_t published_gauges_[kGaugeCount] = {};
  // When active_ssrcs and jitter_us are next recomputed, and the tracker's
  // sources_started at the last recompute (a change forces one).
  uint64_t next_scan_ns_ = 0;
  uint64_t sources_started_at_scan_ = 0;

  // Reused across datagrams: no allocation per packet once warmed up.
  std::vector<envoy_dynamic_module_type_envoy_buffer> chunks_;
  std::vector<uint8_t> scratch_;
};

}  // namespace rtp_filter
}  // namespace mediamesh
