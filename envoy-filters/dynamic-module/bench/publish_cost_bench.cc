// What the RTP filter costs per datagram, as the number of RTP streams on one
// worker grows, with the scanned gauges (active_ssrcs, jitter_us) recomputed
// on every packet (gauge_interval_ms 0) or at the default interval (50 ms).
// Drives the module's exported hooks against the test FakeEnvoy, so the
// figure is the filter's own work without Envoy's socket path around it.
//
//   mediamesh_rtp_filter_cost_bench [--packets N] [--reps N]
//
// Prints one JSON line: per (streams, interval) the median ns per datagram
// over the reps, and per stream count the ratio of the two intervals.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "envoy_abi.h"
#include "fake_envoy_abi.h"

namespace {

using mediamesh::rtp_filter::testing::FakeEnvoy;
using mediamesh::rtp_filter::testing::FakeWorker;

constexpr uint32_t kStreamCounts[] = {1, 16, 64, 256};
constexpr uint32_t kIntervalsMs[] = {0, 50};

void writeHeader(std::string& p, uint16_t seq, uint32_t ts, uint32_t ssrc) {
  p[0] = '\x80';
  p[1] = 96;
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<char>(ts >> (24 - 8 * i));
    p[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
}

// ns per datagram for one run of `packets` datagrams spread round-robin over `streams` SSRCs.
double runOnce(uint32_t streams, uint32_t interval_ms, uint64_t packets) {
  FakeEnvoy::get().reset();
  const std::string json = "{\"route\":\"bench.cost\",\"max_sources\":" + std::to_string(std::max(64u, streams)) +
                           ",\"gauge_interval_ms\":" + std::to_string(interval_ms) + "}";
  const std::string name = "rtp";
  const void* config = envoy_dynamic_module_on_udp_listener_filter_config_new(
      &FakeEnvoy::get(), {name.data(), name.size()}, {json.data(), json.size()});
  if (config == nullptr) {
    std::fprintf(stderr, "filter config rejected: %s\n", json.c_str());
    std::exit(1);
  }
  FakeWorker w;
  w.chunks = {std::string(12 + 200, '\x55')};
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  std::string& datagram = w.chunks[0];
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < packets; ++i) {
    const uint32_t stream = static_cast<uint32_t>(i % streams);
    const uint64_t n = i / streams;  // this stream's packet number
    writeHeader(datagram, static_cast<uint16_t>(n), static_cast<uint32_t>(n * 3000u), 0x1000u + stream);
    envoy_dynamic_module_on_udp_listener_filter_on_data(&w, filter);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
  return std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(packets);
}

uint64_t argValue(int argc, char** argv, const char* flag, uint64_t fallback, uint64_t min, uint64_t max) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], flag) != 0) continue;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(argv[i + 1], &end, 10);
    if (end == argv[i + 1] || *end != '\0' || v < min || v > max) {
      std::fprintf(stderr, "%s must be an integer in %llu..%llu\n", flag, static_cast<unsigned long long>(min),
                   static_cast<unsigned long long>(max));
      std::exit(2);
    }
    return v;
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t packets = argValue(argc, argv, "--packets", 2'000'000, 1000, 1'000'000'000);
  const uint64_t reps = argValue(argc, argv, "--reps", 5, 1, 50);
  std::string results;
  std::string ratios;
  for (uint32_t streams : kStreamCounts) {
    double median_ns[2] = {};
    for (size_t k = 0; k < 2; ++k) {
      std::vector<double> runs;
      // Runs are short; the median over reps absorbs a noisy neighbour.
      for (uint64_t r = 0; r < reps; ++r) runs.push_back(runOnce(streams, kIntervalsMs[k], packets));
      std::sort(runs.begin(), runs.end());
      median_ns[k] = runs[runs.size() / 2];
      char line[160];
      std::snprintf(line, sizeof line, "%s{\"streams\":%u,\"gauge_interval_ms\":%u,\"ns_per_datagram_median\":%.1f}",
                    results.empty() ? "" : ",", streams, kIntervalsMs[k], median_ns[k]);
      results += line;
      std::fprintf(stderr, "[bench:rtp-filter] %3u streams, gauge_interval_ms %2u: %.1f ns/datagram (median of %llu)\n",
                   streams, kIntervalsMs[k], median_ns[k], static_cast<unsigned long long>(reps));
    }
    char ratio[96];
    std::snprintf(ratio, sizeof ratio, "%s\"%u\":%.3f", ratios.empty() ? "" : ",", streams, median_ns[1] / median_ns[0]);
    ratios += ratio;
  }
  std::printf("{\"packets_per_run\":%llu,\"reps\":%llu,\"results\":[%s],\"interval_50_vs_0_ratio_by_streams\":{%s}}\n",
              static_cast<unsigned long long>(packets), static_cast<unsigned long long>(reps), results.c_str(), ratios.c_str());
  return 0;
}
