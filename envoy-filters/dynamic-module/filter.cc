#include "filter.h"

#include <time.h>

#include <algorithm>
#include <string>
#include <utility>

#include "log.h"

namespace mediamesh {
namespace rtp_filter {

namespace {

// Largest UDP payload; the scratch buffer is sized for it up front.
constexpr size_t kMaxDatagram = 65535;
// Slices Envoy may hand out for one datagram before chunks_ must grow.
constexpr size_t kInitialChunks = 8;

uint64_t monotonicNanos() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool defineMetric(envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config,
                  const std::string& route, const char* metric, bool is_gauge, size_t& id_out) {
  const std::string name = route + "." + metric;
  const envoy_dynamic_module_type_module_buffer buffer{name.data(), name.size()};
  const envoy_dynamic_module_type_metrics_result result =
      is_gauge ? envoy_dynamic_module_callback_udp_listener_filter_config_define_gauge(
                     envoy_config, buffer, &id_out)
               : envoy_dynamic_module_callback_udp_listener_filter_config_define_counter(
                     envoy_config, buffer, &id_out);
  if (result != envoy_dynamic_module_type_metrics_result_Success) {
    log(envoy_dynamic_module_type_log_level_Error,
        "defining metric '" + name + "' failed with result " + std::to_string(result));
    return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------- config ----

RtpFilterConfig::RtpFilterConfig(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config,
    FilterSettings settings, uint32_t worker_count)
    : envoy_config_(envoy_config),
      settings_(std::move(settings)),
      worker_slots_(std::max<uint32_t>(worker_count, 1)),
      worker_jitter_us_(new std::atomic<uint64_t>[worker_slots_]) {
  for (uint32_t i = 0; i < worker_slots_; ++i) {
    worker_jitter_us_[i].store(0, std::memory_order_relaxed);
  }
}

std::unique_ptr<RtpFilterConfig> RtpFilterConfig::create(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr envoy_config,
    FilterSettings settings, uint32_t worker_count) {
  std::unique_ptr<RtpFilterConfig> config(
      new RtpFilterConfig(envoy_config, std::move(settings), worker_count));
  const std::string& route = config->settings_.route;
  for (size_t i = 0; i < kCounterCount; ++i) {
    if (!defineMetric(envoy_config, route, kCounterNames[i], false, config->counter_ids_[i])) {
      return nullptr;
    }
  }
  for (size_t i = 0; i < kGaugeCount; ++i) {
    if (!defineMetric(envoy_config, route, kGaugeNames[i], true, config->gauge_ids_[i])) {
      return nullptr;
    }
  }
  return config;
}

uint64_t RtpFilterConfig::publishWorkerJitter(uint32_t worker_index,
                                              uint64_t jitter_us) const noexcept {
  worker_jitter_us_[worker_index % worker_slots_].store(jitter_us, std::memory_order_relaxed);
  uint64_t max = 0;
  for (uint32_t i = 0; i < worker_slots_; ++i) {
    max = std::max(max, worker_jitter_us_[i].load(std::memory_order_relaxed));
  }
  return max;
}

// ------------------------------------------------------------- filter ----

RtpFilter::RtpFilter(const RtpFilterConfig& config, uint32_t worker_index)
    : config_(config), worker_index_(worker_index), tracker_(config.settings().tracker) {
  chunks_.resize(kInitialChunks);
  scratch_.resize(kMaxDatagram);
}

RtpFilter::~RtpFilter() {
  // Take this worker's share out of the summed gauges and its jitter out of
  // the maximum, so a drained or replaced listener leaves no stale values.
  // The Envoy filter handle may already be gone: use the config handle.
  auto envoy_config = config_.envoyConfig();
  for (Gauge g : {Gauge::ActiveSsrcs, Gauge::LostPending}) {
    if (published_gauges_[index(g)] != 0) {
      envoy_dynamic_module_callback_udp_listener_filter_config_decrement_gauge(
          envoy_config, config_.gaugeId(g), published_gauges_[index(g)]);
    }
  }
  if (published_gauges_[index(Gauge::JitterUs)] != 0) {
    const uint64_t max = config_.publishWorkerJitter(worker_index_, 0);
    envoy_dynamic_module_callback_udp_listener_filter_config_set_gauge(
        envoy_config, config_.gaugeId(Gauge::JitterUs), max);
  }
}

bool RtpFilter::readDatagram(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter,
                             const uint8_t*& data, size_t& length) noexcept {
  static const uint8_t kEmpty = 0;
  const size_t count =
      envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks_size(envoy_filter);
  if (count == 0) {
    data = &kEmpty;
    length = 0;
    return true;
  }
  if (count > chunks_.size()) {
    // Only if Envoy ever hands out more slices than seen so far.
    try {
      chunks_.resize(count);
    } catch (...) {
      return false;
    }
  }
  if (!envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks(envoy_filter,
                                                                                 chunks_.data())) {
    return false;
  }
  if (count == 1) {
    data = reinterpret_cast<const uint8_t*>(chunks_[0].ptr);
    length = chunks_[0].length;
    return data != nullptr || length == 0;
  }
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    total += chunks_[i].length;
  }
  if (total > scratch_.size()) {
    try {
      scratch_.resize(total);
    } catch (...) {
      return false;
    }
  }
  size_t offset = 0;
  for (size_t i = 0; i < count; ++i) {
    if (chunks_[i].length != 0) {
      std::copy_n(reinterpret_cast<const uint8_t*>(chunks_[i].ptr), chunks_[i].length,
                  scratch_.data() + offset);
      offset += chunks_[i].length;
    }
  }
  data = scratch_.data();
  length = total;
  return true;
}

void RtpFilter::onDatagram(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter) noexcept {
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (!readDatagram(envoy_filter, data, length)) {
    return;  // Nothing readable; the datagram still goes on to udp_proxy.
  }
  const uint64_t now_ns = monotonicNanos();
  tracker_.onDatagram(data, length, now_ns);
  publish(envoy_filter, now_ns);
}

void RtpFilter::publishGaugeDelta(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter, Gauge gauge,
    uint64_t now) noexcept {
  uint64_t& published = published_gauges_[index(gauge)];
  if (now > published) {
    envoy_dynamic_module_callback_udp_listener_filter_increment_gauge(
        envoy_filter, config_.gaugeId(gauge), now - published);
  } else if (now < published) {
    envoy_dynamic_module_callback_udp_listener_filter_decrement_gauge(
        envoy_filter, config_.gaugeId(gauge), published - now);
  }
  published = now;
}

void RtpFilter::publish(envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter,
                        uint64_t now_ns) noexcept {
  uint64_t now[kCounterCount];
  counterValues(tracker_.counters(), now);
  for (size_t i = 0; i < kCounterCount; ++i) {
    // The tracker's counters are cumulative and never go down; a value below
    // the published one would be a tracker bug and is not subtracted.
    if (now[i] > published_counters_[i]) {
      envoy_dynamic_module_callback_udp_listener_filter_increment_counter(
          envoy_filter, config_.counterId(static_cast<Counter>(i)), now[i] - published_counters_[i]);
      published_counters_[i] = now[i];
    }
  }

  publishGaugeDelta(envoy_filter, Gauge::LostPending, tracker_.pendingLost());

  const uint64_t started = tracker_.counters().sources_started;
  if (tracker_.trackedSources() <= kScanEveryPacketUpTo || now_ns >= next_scan_ns_ ||
      started != sources_started_at_scan_) {
    next_scan_ns_ = now_ns + config_.settings().gauge_interval_ns;
    sources_started_at_scan_ = started;
    publishScannedGauges(envoy_filter);
  }
}

void RtpFilter::publishScannedGauges(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr envoy_filter) noexcept {
  publishGaugeDelta(envoy_filter, Gauge::ActiveSsrcs, tracker_.activeSources());
  const uint64_t jitter = jitterGaugeValue(tracker_.jitterMicros());
  uint64_t& published_jitter = published_gauges_[index(Gauge::JitterUs)];
  if (jitter != published_jitter) {
    published_jitter = jitter;
    const uint64_t max =
        config_.publishWorkerJitter(worker_index_, jitter);
    envoy_dynamic_module_callback_udp_listener_filter_set_gauge(
        envoy_filter, config_.gaugeId(Gauge::JitterUs), max);
  }
}

}  // namespace rtp_filter
}  // namespace mediamesh
