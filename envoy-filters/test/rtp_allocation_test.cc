// Proves the hot path never allocates: this binary replaces the global
// allocation functions with counting ones.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "rtp/rtp_tracker.h"
#include "rtp_test_packets.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace mediamesh {
namespace rtp {
namespace {

using testing::buildRtp;
using testing::RtpSpec;

TEST(RtpAllocation, CountingAllocatorSeesAllocations) {
  const uint64_t before = g_allocations.load();
  // A direct call: the compiler may elide a new-expression, not this.
  void* p = ::operator new(16);
  ::operator delete(p);
  EXPECT_GT(g_allocations.load(), before);
}

TEST(RtpAllocation, NoAllocationPerDatagram) {
  TrackerConfig config;
  config.max_sources = 16;
  RtpTracker tracker(config);

  // Everything the loop sends is built before counting starts: 40 SSRCs over
  // 16 slots (evictions), reordering, duplicates, jumps, RTCP and junk.
  std::vector<std::vector<uint8_t>> datagrams;
  for (uint32_t i = 0; i < 4000; ++i) {
    RtpSpec spec;
    spec.ssrc = 0x1000 + i % 40;
    spec.seq = static_cast<uint16_t>(i / 40 + ((i % 7 == 0) ? 3000 : 0) - ((i % 11 == 0) ? 2 : 0));
    spec.timestamp = i * 90;
    spec.payload_type = static_cast<uint8_t>(i % 3 == 0 ? 0 : 96);
    datagrams.push_back(buildRtp(spec));
  }
  datagrams.push_back({0x81, 201, 0, 7, 1, 2, 3, 4});
  datagrams.push_back({0x00, 0x01, 0x00, 0x00});
  datagrams.push_back({0x80, 96, 0});

  const uint64_t before = g_allocations.load();
  uint64_t arrival = 0;
  for (int pass = 0; pass < 5; ++pass) {
    for (const auto& d : datagrams) {
      tracker.onDatagram(d.data(), d.size(), arrival);
      arrival += 1'000'000;
    }
    // The queries the Envoy glue calls per packet or per flush must not
    // allocate either.
    double j;
    (void)tracker.counters();
    (void)tracker.pendingLost();
    (void)tracker.activeSources();
    (void)tracker.jitterMicros();
    (void)tracker.sourceJitterMicros(0x1001, j);
    tracker.flush();
  }
  const uint64_t after = g_allocations.load();
  EXPECT_EQ(after - before, 0u);
  EXPECT_GT(tracker.counters().sources_evicted, 0u);
  EXPECT_GT(tracker.counters().packets, 0u);
}

}  // namespace
}  // namespace rtp
}  // namespace mediamesh
