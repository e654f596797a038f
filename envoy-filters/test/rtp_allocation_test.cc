// Proves the hot path never allocates: this binary links the counting
// allocation functions (counting_allocator.cc).
#include <gtest/gtest.h>

#include <new>
#include <vector>

#include "counting_allocator.h"

#include "rtp/rtp_tracker.h"
#include "rtp_test_packets.h"

namespace mediamesh {
namespace rtp {
namespace {

using testing::buildRtp;
using testing::RtpSpec;

TEST(RtpAllocation, CountingAllocatorSeesAllocations) {
  mediamesh::testing::AllocationCounter::start();
  // A direct call: the compiler may elide a new-expression, not this.
  void* p = ::operator new(16);
  const uint64_t counted = mediamesh::testing::AllocationCounter::stop();
  ::operator delete(p);
  EXPECT_EQ(counted, 1u);
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

  mediamesh::testing::AllocationCounter::start();
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
  EXPECT_EQ(mediamesh::testing::AllocationCounter::stop(), 0u);
  EXPECT_GT(tracker.counters().sources_evicted, 0u);
  EXPECT_GT(tracker.counters().packets, 0u);
}

}  // namespace
}  // namespace rtp
}  // namespace mediamesh
