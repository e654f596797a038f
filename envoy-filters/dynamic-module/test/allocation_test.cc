// The per-datagram path must not allocate once a filter exists: count every
// operator new while on_data runs (counting_allocator.cc is linked in).
#include <new>
#include <string>
#include <vector>

#include "envoy_abi.h"
#include "fake_envoy_abi.h"
#include "gtest/gtest.h"
#include "test/counting_allocator.h"

namespace mediamesh {
namespace rtp_filter {
namespace {

using mediamesh::testing::AllocationCounter;
using testing::FakeEnvoy;
using testing::FakeWorker;

std::string rtpPacket(uint16_t seq, uint32_t ssrc) {
  std::string p(172, '\x22');
  p[0] = '\x80';
  p[1] = 96;
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  p[7] = static_cast<char>(seq);  // timestamp low byte
  p[11] = static_cast<char>(ssrc);
  return p;
}

TEST(AllocationTest, CountingAllocatorCounts) {
  AllocationCounter::start();
  void* p = ::operator new(16);  // a direct call cannot be elided
  const uint64_t counted = AllocationCounter::stop();
  ::operator delete(p);
  EXPECT_EQ(1u, counted);
}

TEST(AllocationTest, OnDataDoesNotAllocate) {
  FakeEnvoy::get().reset();
  const std::string json = R"({"route":"media.feed","max_sources":8})";
  const std::string name = "rtp";
  const void* config = envoy_dynamic_module_on_udp_listener_filter_config_new(
      &FakeEnvoy::get(), {name.data(), name.size()}, {json.data(), json.size()});
  ASSERT_NE(nullptr, config);
  FakeWorker w;
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  ASSERT_NE(nullptr, filter);

  // Every datagram prepared up front: single slice, several slices, garbage,
  // truncated, and more SSRCs than the table holds.
  std::vector<std::vector<std::string>> datagrams;
  for (uint16_t seq = 1; seq <= 300; ++seq) {
    const std::string p = rtpPacket(seq, seq % 20);
    if (seq % 7 == 0) {
      datagrams.push_back({p.substr(0, 5), p.substr(5, 9), p.substr(14)});
    } else {
      datagrams.push_back({p});
    }
    if (seq % 50 == 0) {
      datagrams.push_back({"not rtp at all"});
      datagrams.push_back({std::string("\x80\x60\x00", 3)});
    }
  }

  AllocationCounter::start();
  for (auto& d : datagrams) {
    w.chunks.swap(d);
    envoy_dynamic_module_on_udp_listener_filter_on_data(&w, filter);
    w.chunks.swap(d);
  }
  EXPECT_EQ(0u, AllocationCounter::stop());
  EXPECT_EQ(300, FakeEnvoy::get().counter("media.feed.packets"));

  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

}  // namespace
}  // namespace rtp_filter
}  // namespace mediamesh
