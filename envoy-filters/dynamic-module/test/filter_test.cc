// Drives the module's exported hooks against FakeEnvoy: config accept and
// reject, metric names, per-datagram publishing, multi-slice datagrams and
// the gauge bookkeeping across workers and teardown.
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "envoy_abi.h"
#include "fake_envoy_abi.h"
#include "filter.h"
#include "gtest/gtest.h"

namespace mediamesh {
namespace rtp_filter {
namespace {

using testing::FakeEnvoy;
using testing::FakeWorker;

std::string rtp(uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t pt = 111, size_t payload = 20) {
  std::string p(12 + payload, '\x55');
  p[0] = '\x80';
  p[1] = static_cast<char>(pt);
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<char>(ts >> (24 - 8 * i));
    p[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
  return p;
}

// RTCP receiver report with no report blocks.
std::string rtcpRr(uint32_t ssrc) {
  std::string p(8, '\0');
  p[0] = '\x80';
  p[1] = static_cast<char>(201);
  p[3] = 1;
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
  return p;
}

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override { FakeEnvoy::get().reset(); }

  const void* newConfig(const std::string& json, const std::string& name = "rtp") {
    return envoy_dynamic_module_on_udp_listener_filter_config_new(
        &FakeEnvoy::get(), {name.data(), name.size()}, {json.data(), json.size()});
  }

  static void send(const void* filter, FakeWorker& w, std::vector<std::string> chunks) {
    w.chunks = std::move(chunks);
    EXPECT_EQ(envoy_dynamic_module_type_on_udp_listener_filter_status_Continue,
              envoy_dynamic_module_on_udp_listener_filter_on_data(&w, filter));
  }

  static const rtp::RtpCounters& trackerCounters(const void* filter) {
    return static_cast<const RtpFilter*>(filter)->tracker().counters();
  }

  int64_t c(const std::string& metric) { return FakeEnvoy::get().counter("media.feed." + metric); }
  int64_t g(const std::string& metric) { return FakeEnvoy::get().gauge("media.feed." + metric); }
};

TEST_F(FilterTest, ProgramInitReturnsAbiVersion) {
  EXPECT_STREQ("v0.2.0", envoy_dynamic_module_on_program_init());
}

TEST_F(FilterTest, RejectsBadConfigAndWrongFilterName) {
  EXPECT_EQ(nullptr, newConfig("{not json"));
  EXPECT_EQ(nullptr, newConfig(R"({"route":"media.feed"})", "other"));
  EXPECT_EQ(nullptr, newConfig(R"({"route":"media.feed","max_sources":0})"));
  EXPECT_TRUE(FakeEnvoy::get().counter_names.empty());
  ASSERT_FALSE(FakeEnvoy::get().logs.empty());
  EXPECT_NE(std::string::npos, FakeEnvoy::get().logs.back().find("max_sources"));
}

TEST_F(FilterTest, DefinesEveryMetricUnderTheRoute) {
  const void* config = newConfig(R"({"route":"media.feed","stat_prefix":"mediamesh"})");
  ASSERT_NE(nullptr, config);
  EXPECT_EQ((std::vector<std::string>{"media.feed.packets", "media.feed.bytes",
                                      "media.feed.expected", "media.feed.lost",
                                      "media.feed.duplicates", "media.feed.out_of_order",
                                      "media.feed.rtcp", "media.feed.non_rtp",
                                      "media.feed.malformed"}),
            FakeEnvoy::get().counter_names);
  EXPECT_EQ((std::vector<std::string>{"media.feed.jitter_us", "media.feed.active_ssrcs",
                                      "media.feed.lost_pending"}),
            FakeEnvoy::get().gauge_names);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

TEST_F(FilterTest, CountsMixedTrafficAndPassesEverythingOn) {
  const void* config = newConfig(R"({"route":"media.feed","clock_rates":{"111":48000}})");
  ASSERT_NE(nullptr, config);
  FakeWorker w;
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  ASSERT_NE(nullptr, filter);

  uint64_t rtp_bytes = 0;
  for (uint16_t seq = 1; seq <= 20; ++seq) {
    if (seq == 5 || seq == 9) {
      continue;  // lost on the way
    }
    const std::string p = rtp(seq, seq * 960u, 0xabcdef01);
    rtp_bytes += p.size();
    send(filter, w, {p});
  }
  send(filter, w, {"hello, not rtp"});
  send(filter, w, {std::string("\x80\x6f\x00", 3)});  // truncated RTP header
  send(filter, w, {rtcpRr(0xabcdef01)});
  send(filter, w, {});  // empty datagram

  EXPECT_EQ(18, c("packets"));
  EXPECT_EQ(static_cast<int64_t>(rtp_bytes), c("bytes"));
  EXPECT_EQ(2, c("non_rtp"));  // "hello" and the empty datagram
  EXPECT_EQ(1, c("malformed"));
  EXPECT_EQ(1, c("rtcp"));
  EXPECT_EQ(0, c("lost"));
  EXPECT_EQ(2, g("lost_pending"));
  EXPECT_EQ(1, g("active_ssrcs"));

  // Every published counter equals the tracker's own figure.
  const rtp::RtpCounters& t = trackerCounters(filter);
  EXPECT_EQ(static_cast<int64_t>(t.expected), c("expected"));
  EXPECT_EQ(static_cast<int64_t>(t.duplicates), c("duplicates"));
  EXPECT_EQ(static_cast<int64_t>(t.out_of_order), c("out_of_order"));
  EXPECT_EQ(static_cast<int64_t>(t.non_rtp), c("non_rtp"));

  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

TEST_F(FilterTest, GapsBecomeLostOnceOutOfTheReorderWindow) {
  const void* config = newConfig(R"({"route":"media.feed"})");
  FakeWorker w;
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  for (uint32_t seq = 1; seq <= 1500; ++seq) {
    if (seq == 5 || seq == 9 || seq == 1400) {
      continue;
    }
    send(filter, w, {rtp(static_cast<uint16_t>(seq), seq * 3000u, 7, 96)});
  }
  EXPECT_EQ(2, c("lost"));
  EXPECT_EQ(1, g("lost_pending"));
  EXPECT_EQ(static_cast<int64_t>(trackerCounters(filter).expected), c("expected"));
  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

TEST_F(FilterTest, MultiSliceDatagramReadsLikeOneSlice) {
  const void* config = newConfig(R"({"route":"media.feed"})");
  FakeWorker w;
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  for (uint16_t seq = 1; seq <= 10; ++seq) {
    const std::string p = rtp(seq, seq * 3000u, 9, 96);
    // 1..12 slices, some empty, the header split across them.
    std::vector<std::string> slices;
    for (size_t i = 0; i < p.size(); i += seq) {
      slices.push_back(p.substr(i, seq));
      if (seq % 3 == 0) {
        slices.emplace_back();
      }
    }
    send(filter, w, slices);
  }
  EXPECT_EQ(10, c("packets"));
  EXPECT_EQ(0, c("malformed"));
  EXPECT_EQ(0, g("lost_pending"));
  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

TEST_F(FilterTest, GaugesSumOverWorkersAndJitterIsTheMaximum) {
  // Every packet recomputes the scanned gauges, so they can be compared with the trackers.
  const void* config = newConfig(R"({"route":"media.feed","gauge_interval_ms":0})");
  FakeWorker w0, w1;
  w1.worker_index = 1;
  const void* f0 = envoy_dynamic_module_on_udp_listener_filter_new(config, &w0);
  const void* f1 = envoy_dynamic_module_on_udp_listener_filter_new(config, &w1);

  // Worker 0: steady 90 kHz stream; worker 1: two streams, one skipping a
  // packet, with timestamps that jump so the jitter is large.
  for (uint16_t seq = 1; seq <= 30; ++seq) {
    send(f0, w0, {rtp(seq, seq * 3000u, 100, 96)});
    send(f1, w1, {rtp(seq, seq * 3000u + (seq % 2) * 45000u, 200, 96)});
    if (seq != 15) {
      send(f1, w1, {rtp(seq, seq * 3000u, 201, 96)});
    }
  }
  EXPECT_EQ(3, g("active_ssrcs"));
  EXPECT_EQ(1, g("lost_pending"));
  EXPECT_EQ(89, c("packets"));  // 30 + 30 + 29
  const uint64_t j0 = jitterGaugeValue(static_cast<const RtpFilter*>(f0)->tracker().jitterMicros());
  const uint64_t j1 = jitterGaugeValue(static_cast<const RtpFilter*>(f1)->tracker().jitterMicros());
  EXPECT_GT(j1, j0);
  EXPECT_EQ(static_cast<int64_t>(j1), g("jitter_us"));

  // Worker 1 goes away (listener drained): its share leaves the gauges and
  // the maximum falls back to worker 0's jitter; counters stay.
  envoy_dynamic_module_on_udp_listener_filter_destroy(f1);
  EXPECT_EQ(1, g("active_ssrcs"));
  EXPECT_EQ(0, g("lost_pending"));
  EXPECT_EQ(static_cast<int64_t>(j0), g("jitter_us"));
  EXPECT_EQ(89, c("packets"));  // 30 + 30 + 29
  envoy_dynamic_module_on_udp_listener_filter_destroy(f0);
  EXPECT_EQ(0, g("active_ssrcs"));
  EXPECT_EQ(0, g("jitter_us"));
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

// One filter config with its filter on one worker, torn down in reverse.
struct SingleWorkerFilter {
  explicit SingleWorkerFilter(const std::string& json)
      : config(envoy_dynamic_module_on_udp_listener_filter_config_new(
            &FakeEnvoy::get(), {"rtp", 3}, {json.data(), json.size()})),
        filter(envoy_dynamic_module_on_udp_listener_filter_new(config, &worker)) {}
  ~SingleWorkerFilter() {
    envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
    envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
  }
  SingleWorkerFilter(const SingleWorkerFilter&) = delete;
  SingleWorkerFilter& operator=(const SingleWorkerFilter&) = delete;

  void send(const std::string& datagram) {
    worker.chunks = {datagram};
    envoy_dynamic_module_on_udp_listener_filter_on_data(&worker, filter);
  }
  // 10 packets of one stream whose timestamps swing, so its jitter grows on every packet.
  void sendJitteryStream(uint32_t ssrc, uint16_t first_seq) {
    for (uint16_t seq = first_seq; seq < first_seq + 10; ++seq) {
      send(rtp(seq, seq * 3000u + (seq % 2) * 45000u, ssrc, 96));
    }
  }
  uint64_t trackerJitter() const {
    return jitterGaugeValue(static_cast<const RtpFilter*>(filter)->tracker().jitterMicros());
  }

  FakeWorker worker;
  const void* config;
  const void* filter;
};

TEST_F(FilterTest, ScannedGaugesFollowEveryPacketWithFewSources) {
  SingleWorkerFilter f(R"({"route":"media.feed","gauge_interval_ms":60000})");
  for (uint16_t first = 1; first <= 21; first += 10) {
    f.sendJitteryStream(100, first);
    EXPECT_EQ(static_cast<int64_t>(f.trackerJitter()), g("jitter_us"));
  }
  EXPECT_GT(g("jitter_us"), 0);
}

// Fills the table up to the per-packet limit with steady sources, so the next one makes scanning periodic.
void addSteadySources(SingleWorkerFilter& f) {
  for (uint32_t ssrc = 1; ssrc <= RtpFilter::kScanEveryPacketUpTo; ++ssrc) {
    f.send(rtp(1, 0, ssrc, 96));
  }
}

TEST_F(FilterTest, ScannedGaugesWaitForTheIntervalButNotForANewSource) {
  SingleWorkerFilter f(R"({"route":"media.feed","gauge_interval_ms":60000})");
  addSteadySources(f);
  f.sendJitteryStream(100, 1);
  EXPECT_EQ(5, g("active_ssrcs"));  // published with the new source's first packet
  EXPECT_GT(f.trackerJitter(), 0u);
  EXPECT_EQ(0, g("jitter_us")) << "recomputed before the interval";
  EXPECT_EQ(14, c("packets"));      // counters are never held back

  f.sendJitteryStream(200, 1);  // a new source recomputes at once
  EXPECT_EQ(6, g("active_ssrcs"));
  EXPECT_GT(g("jitter_us"), 0);
}

TEST_F(FilterTest, ScannedGaugesFollowAfterTheInterval) {
  SingleWorkerFilter f(R"({"route":"media.feed","gauge_interval_ms":20})");
  addSteadySources(f);
  f.sendJitteryStream(100, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  f.sendJitteryStream(100, 11);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  f.send(rtp(21, 21 * 3000u, 100, 96));
  EXPECT_EQ(static_cast<int64_t>(f.trackerJitter()), g("jitter_us"));
}

TEST_F(FilterTest, NullHandlesAreHarmless) {
  FakeWorker w;
  EXPECT_EQ(nullptr, envoy_dynamic_module_on_udp_listener_filter_new(nullptr, &w));
  EXPECT_EQ(envoy_dynamic_module_type_on_udp_listener_filter_status_Continue,
            envoy_dynamic_module_on_udp_listener_filter_on_data(&w, nullptr));
  envoy_dynamic_module_on_udp_listener_filter_destroy(nullptr);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(nullptr);
}

}  // namespace
}  // namespace rtp_filter
}  // namespace mediamesh
