#include "rtp/rtp_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "rtp_test_packets.h"

namespace mediamesh {
namespace rtp {
namespace {

using testing::buildRtp;
using testing::RtpSpec;
using testing::sendRtp;

constexpr uint32_t kSsrcA = 0xAAAA0001;
constexpr uint32_t kSsrcB = 0xBBBB0002;
constexpr uint32_t kSsrcC = 0xCCCC0003;
constexpr uint64_t kMs = 1'000'000;  // nanoseconds
constexpr uint64_t kDatagram = 32;   // sendRtp(): 12-byte header + 20-byte payload

TrackerConfig smallTable(size_t sources) {
  TrackerConfig config;
  config.max_sources = sources;
  return config;
}

// The bookkeeping identity every state must satisfy (see rtp_tracker.h).
void expectConsistent(const RtpTracker& t) {
  const RtpCounters& c = t.counters();
  EXPECT_LE(c.lost + t.pendingLost(), c.expected);
  EXPECT_EQ(c.packets, c.unvalidated + (c.expected - c.lost - t.pendingLost()) + c.duplicates + c.late);
  EXPECT_EQ(c.cumulative_lost_rfc3550,
            static_cast<int64_t>(c.expected) - static_cast<int64_t>(c.packets - c.unvalidated));
  EXPECT_LE(c.late, c.out_of_order);
}

SourceSnapshot snapshot(const RtpTracker& t, uint32_t ssrc) {
  SourceSnapshot s;
  EXPECT_TRUE(t.sourceSnapshot(ssrc, s)) << "ssrc " << ssrc;
  return s;
}

// --- Clock rates ----------------------------------------------------------------

TEST(ClockRateMap, Defaults) {
  const ClockRateMap map = ClockRateMap::defaults();
  EXPECT_EQ(map.get(0), 8000u);    // PCMU
  EXPECT_EQ(map.get(8), 8000u);    // PCMA
  EXPECT_EQ(map.get(9), 8000u);    // G722's historical 8 kHz clock
  EXPECT_EQ(map.get(26), 90000u);  // JPEG
  EXPECT_EQ(map.get(33), 90000u);  // MP2T
  for (uint8_t pt = 96; pt < 128; ++pt) {
    EXPECT_EQ(map.get(pt), 90000u) << int(pt);
  }
  EXPECT_EQ(map.get(1), 0u);    // reserved
  EXPECT_EQ(map.get(50), 0u);   // unassigned
  EXPECT_EQ(map.get(200), 0u);  // not a payload type
}

TEST(ClockRateMap, SetOverridesAndIgnoresOutOfRange) {
  ClockRateMap map = ClockRateMap::defaults();
  map.set(111, 48000);
  map.set(0, 0);
  map.set(128, 1234);
  EXPECT_EQ(map.get(111), 48000u);
  EXPECT_EQ(map.get(0), 0u);
  EXPECT_EQ(map.get(128), 0u);
}

// --- Datagram kinds ---------------------------------------------------------------

TEST(RtpTracker, CountsEachKindApart) {
  RtpTracker t(TrackerConfig{});
  const std::vector<uint8_t> rr = {0x81, 201, 0, 7, 1, 2, 3, 4};
  const std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  const std::vector<uint8_t> short_rtp = {0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(t.onDatagram(rr.data(), rr.size(), 0), PacketKind::Rtcp);
  EXPECT_EQ(t.onDatagram(rr.data(), rr.size(), 0), PacketKind::Rtcp);
  EXPECT_EQ(t.onDatagram(stun.data(), stun.size(), 0), PacketKind::NotRtp);
  EXPECT_EQ(t.onDatagram(nullptr, 0, 0), PacketKind::NotRtp);
  EXPECT_EQ(t.onDatagram(short_rtp.data(), short_rtp.size(), 0), PacketKind::Malformed);
  EXPECT_EQ(sendRtp(t, kSsrcA, 1), PacketKind::Rtp);

  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.rtcp, 2u);
  EXPECT_EQ(c.non_rtp, 2u);
  EXPECT_EQ(c.malformed, 1u);
  EXPECT_EQ(c.packets, 1u);
  EXPECT_EQ(c.bytes, kDatagram);  // RTCP and the rest are not RTP bytes
  EXPECT_EQ(t.activeSources(), 1u);
}

TEST(RtpTracker, StartsAtZero) {
  RtpTracker t(TrackerConfig{});
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.packets + c.bytes + c.expected + c.lost + c.duplicates + c.out_of_order + c.rtcp + c.non_rtp +
                c.malformed + c.late + c.unvalidated + c.resyncs + c.sources_evicted,
            0u);
  EXPECT_EQ(c.cumulative_lost_rfc3550, 0);
  EXPECT_EQ(t.pendingLost(), 0u);
  EXPECT_EQ(t.activeSources(), 0u);
  EXPECT_EQ(t.jitterMicros(), 0.0);
  double j = -1;
  EXPECT_FALSE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_EQ(t.capacity(), 64u);
}

// --- Probation and sequence basics ----------------------------------------------

TEST(RtpTracker, InOrderStreamHasNoLoss) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 100; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  const RtpCounters& c = t.counters();
  // Seq 0 is the probation packet A.1 does not count; 1 is the base.
  EXPECT_EQ(c.packets, 100u);
  EXPECT_EQ(c.bytes, 100 * kDatagram);
  EXPECT_EQ(c.unvalidated, 1u);
  EXPECT_EQ(c.expected, 99u);
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(t.pendingLost(), 0u);
  EXPECT_EQ(c.duplicates, 0u);
  EXPECT_EQ(c.out_of_order, 0u);
  EXPECT_EQ(c.cumulative_lost_rfc3550, 0);
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_TRUE(s.validated);
  EXPECT_EQ(s.base_seq, 1u);
  EXPECT_EQ(s.max_seq, 99u);
  EXPECT_EQ(s.expected, 99u);
  expectConsistent(t);
}

TEST(RtpTracker, ProbationNeedsTwoSequentialPackets) {
  RtpTracker t(TrackerConfig{});
  sendRtp(t, kSsrcA, 10);
  EXPECT_FALSE(snapshot(t, kSsrcA).validated);
  sendRtp(t, kSsrcA, 12);  // not 11: probation starts over from 12
  EXPECT_FALSE(snapshot(t, kSsrcA).validated);
  sendRtp(t, kSsrcA, 12);  // a repeat is not "sequential" either
  EXPECT_FALSE(snapshot(t, kSsrcA).validated);
  sendRtp(t, kSsrcA, 13);
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_TRUE(s.validated);
  EXPECT_EQ(s.base_seq, 13u);
  sendRtp(t, kSsrcA, 14);
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.packets, 5u);
  EXPECT_EQ(c.unvalidated, 3u);
  EXPECT_EQ(c.expected, 2u);  // 13, 14
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  EXPECT_EQ(c.duplicates, 0u);  // no duplicates before validation
  expectConsistent(t);
}

TEST(RtpTracker, ProbationAcrossWrap) {
  RtpTracker t(TrackerConfig{});
  sendRtp(t, kSsrcA, 65535);
  sendRtp(t, kSsrcA, 0);
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_TRUE(s.validated);
  EXPECT_EQ(s.base_seq, 0u);
  EXPECT_EQ(s.cycles, 0u);
}

// --- Wraparound --------------------------------------------------------------------

TEST(RtpTracker, WraparoundExtendsSequence) {
  RtpTracker t(TrackerConfig{});
  uint16_t seq = 65530;
  for (int i = 0; i < 16; ++i) {
    sendRtp(t, kSsrcA, seq++);  // 65530..65535, 0..9
  }
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_EQ(s.base_seq, 65531u);
  EXPECT_EQ(s.cycles, 1u);
  EXPECT_EQ(s.max_seq, 65536u + 9);
  EXPECT_EQ(t.counters().expected, 15u);  // 65531..65535 and 0..9
  EXPECT_EQ(t.counters().lost + t.pendingLost(), 0u);
  expectConsistent(t);
}

TEST(RtpTracker, ManyCyclesStayExact) {
  RtpTracker t(TrackerConfig{});
  constexpr uint32_t kCount = 200000;  // a little over three wraps
  for (uint32_t i = 0; i < kCount; ++i) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(i));
  }
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_EQ(s.cycles, 3u);  // 199999 >> 16
  EXPECT_EQ(s.max_seq, kCount - 1);
  EXPECT_EQ(t.counters().expected, kCount - 1);
  EXPECT_EQ(t.counters().lost + t.pendingLost(), 0u);
  expectConsistent(t);
}

TEST(RtpTracker, LossAcrossWrapIsCountedOnce) {
  RtpTracker t(TrackerConfig{});
  for (uint32_t i = 65500; i < 65600; ++i) {
    const auto seq = static_cast<uint16_t>(i);
    if (seq == 65535 || seq == 0) {
      continue;
    }
    sendRtp(t, kSsrcA, seq);
  }
  EXPECT_EQ(t.counters().expected, 99u);  // 65501 .. 65599 (extended)
  EXPECT_EQ(t.pendingLost(), 2u);
  t.flush();
  EXPECT_EQ(t.counters().lost, 2u);
  EXPECT_EQ(t.pendingLost(), 0u);
  expectConsistent(t);
}

TEST(RtpTracker, LateFillAcrossWrap) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq : {65533, 65534, 0, 1, 65535, 2}) {
    sendRtp(t, kSsrcA, seq);
  }
  EXPECT_EQ(t.counters().out_of_order, 1u);
  EXPECT_EQ(t.counters().lost + t.pendingLost(), 0u);
  EXPECT_EQ(snapshot(t, kSsrcA).max_seq, 65536u + 2);
  expectConsistent(t);
}

// --- Reordering, late packets, duplicates ------------------------------------------

TEST(RtpTracker, LateFillIsOutOfOrderNotLost) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq : {0, 1, 2, 3, 5}) {
    sendRtp(t, kSsrcA, seq);
  }
  EXPECT_EQ(t.pendingLost(), 1u);  // 4 may still come
  EXPECT_EQ(t.counters().lost, 0u);
  sendRtp(t, kSsrcA, 4);
  for (uint16_t seq = 6; seq < 10; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.late, 0u);
  EXPECT_EQ(c.expected, 9u);
  EXPECT_EQ(t.pendingLost(), 0u);
  t.flush();
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(c.cumulative_lost_rfc3550, 0);
  expectConsistent(t);
}

TEST(RtpTracker, LateFillBeyondMaxMisorderButInsideWindow) {
  // A.1 alone would take a packet 150 behind for a possible restart and
  // ignore it; inside the window we know it fills a gap.
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq <= 200; ++seq) {
    if (seq != 50) {
      sendRtp(t, kSsrcA, seq);
    }
  }
  EXPECT_EQ(t.pendingLost(), 1u);
  sendRtp(t, kSsrcA, 50);
  sendRtp(t, kSsrcA, 201);
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  EXPECT_EQ(c.resyncs, 0u);
  EXPECT_EQ(snapshot(t, kSsrcA).max_seq, 201u);
  expectConsistent(t);
}

TEST(RtpTracker, GapBecomesLostWhenItLeavesTheWindow) {
  RtpTracker t(TrackerConfig{});
  constexpr uint16_t kGap = 5;
  constexpr uint16_t kLeavesAt = kGap + RtpTracker::kReorderWindow;  // 1029
  for (uint16_t seq = 0; seq < kLeavesAt; ++seq) {
    if (seq != kGap) {
      sendRtp(t, kSsrcA, seq);
    }
  }
  EXPECT_EQ(t.counters().lost, 0u);
  EXPECT_EQ(t.pendingLost(), 1u);
  sendRtp(t, kSsrcA, kLeavesAt);
  EXPECT_EQ(t.counters().lost, 1u);
  EXPECT_EQ(t.pendingLost(), 0u);

  // Too late now: it stays lost (counters only grow) and counts as late.
  sendRtp(t, kSsrcA, kGap);
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.lost, 1u);
  EXPECT_EQ(c.late, 1u);
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.duplicates, 0u);
  // The late packet must not disturb the sequence that follows.
  sendRtp(t, kSsrcA, kLeavesAt + 1);
  EXPECT_EQ(c.resyncs, 0u);
  EXPECT_EQ(c.lost + t.pendingLost(), 1u);
  expectConsistent(t);
}

TEST(RtpTracker, LateFillAfterFlushIsLate) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq : {0, 1, 2, 4, 5}) {
    sendRtp(t, kSsrcA, seq);
  }
  t.flush();
  EXPECT_EQ(t.counters().lost, 1u);
  sendRtp(t, kSsrcA, 3);
  EXPECT_EQ(t.counters().lost, 1u);  // never decreases
  EXPECT_EQ(t.counters().late, 1u);
  EXPECT_EQ(t.counters().out_of_order, 1u);
  sendRtp(t, kSsrcA, 4);  // still a duplicate: the window remembers it arrived
  EXPECT_EQ(t.counters().duplicates, 1u);
  expectConsistent(t);
}

TEST(RtpTracker, DuplicatesNeverOffsetLoss) {
  RtpTracker t(TrackerConfig{});
  // 7 is lost, 5 arrives twice, 9 (the highest) arrives twice.
  for (uint16_t seq : {0, 1, 2, 3, 4, 5, 5, 6, 8, 9, 9}) {
    sendRtp(t, kSsrcA, seq);
  }
  t.flush();
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.packets, 11u);  // duplicates crossed the wire: counted
  EXPECT_EQ(c.bytes, 11 * kDatagram);
  EXPECT_EQ(c.duplicates, 2u);
  EXPECT_EQ(c.out_of_order, 0u);
  EXPECT_EQ(c.expected, 9u);  // 1..9
  EXPECT_EQ(c.lost, 1u);
  // RFC 3550's figure counts duplicates as received, so they hide the loss.
  EXPECT_EQ(c.cumulative_lost_rfc3550, -1);
  expectConsistent(t);
}

TEST(RtpTracker, DuplicateFarBehindInsideWindowDoesNotResync) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq <= 1000; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  // Two consecutive replays 500 behind: A.1 would resync on the second.
  sendRtp(t, kSsrcA, 500);
  sendRtp(t, kSsrcA, 501);
  sendRtp(t, kSsrcA, 1001);
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.duplicates, 2u);
  EXPECT_EQ(c.resyncs, 0u);
  EXPECT_EQ(c.expected, 1001u);
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  expectConsistent(t);
}

// --- Exact loss -----------------------------------------------------------------------

TEST(RtpTracker, DropEveryTenthOfAThousand) {
  RtpTracker t(TrackerConfig{});
  uint64_t sent = 0;
  for (uint16_t seq = 0; seq < 1000; ++seq) {
    if (seq % 10 == 5) {
      continue;  // 5, 15, ..., 995: 100 drops
    }
    sendRtp(t, kSsrcA, seq);
    ++sent;
  }
  EXPECT_EQ(sent, 900u);
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.packets, 900u);
  EXPECT_EQ(c.expected, 999u);  // 1..999
  // Every gap is still inside the 1024 window: all pending, none final yet.
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(t.pendingLost(), 100u);
  t.flush();
  EXPECT_EQ(c.lost, 100u);
  EXPECT_EQ(t.pendingLost(), 0u);
  EXPECT_EQ(c.cumulative_lost_rfc3550, 100);
  expectConsistent(t);
}

TEST(RtpTracker, DropEveryTenthOfTenThousandSplitsFinalAndPending) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 10000; ++seq) {
    if (seq % 10 != 5) {
      sendRtp(t, kSsrcA, seq);
    }
  }
  // Highest 9999; the window holds 8976..9999, whose gaps are 8985..9995
  // step 10: 102 pending. The other 898 of the 1000 gaps have left it.
  EXPECT_EQ(t.counters().lost, 898u);
  EXPECT_EQ(t.pendingLost(), 102u);
  EXPECT_EQ(t.counters().expected, 9999u);
  expectConsistent(t);
}

TEST(RtpTracker, BurstLossAndRandomLossAreExact) {
  RtpTracker t(TrackerConfig{});
  std::mt19937 rng(1234);
  uint64_t dropped = 0;
  for (uint32_t i = 0; i < 50000; ++i) {
    const bool burst = i >= 20000 && i < 22000;  // wider than the window
    // Keep the first two (base 1) and the last: loss after the highest
    // packet received is invisible to any receiver.
    if (i >= 2 && i < 49999 && (burst || rng() % 100 < 3)) {
      ++dropped;
      continue;
    }
    sendRtp(t, kSsrcA, static_cast<uint16_t>(i));
  }
  t.flush();
  EXPECT_EQ(t.counters().expected, 49999u);
  EXPECT_EQ(t.counters().lost, dropped);
  EXPECT_EQ(t.counters().resyncs, 0u);
  expectConsistent(t);
}

// --- Large jumps -------------------------------------------------------------------------

TEST(RtpTracker, JumpThenSequentialResyncs) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 100; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  for (uint16_t seq = 10000; seq < 10010; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  const RtpCounters& c = t.counters();
  // 10000 is set aside; 10001 confirms the new sequence and is its base.
  EXPECT_EQ(c.resyncs, 1u);
  EXPECT_EQ(c.unvalidated, 2u);       // seq 0 and seq 10000
  EXPECT_EQ(c.expected, 99u + 9u);    // 1..99 then 10001..10009
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);  // not 9900 lost
  const SourceSnapshot s = snapshot(t, kSsrcA);
  EXPECT_EQ(s.base_seq, 10001u);
  EXPECT_EQ(s.max_seq, 10009u);
  expectConsistent(t);
}

TEST(RtpTracker, GapsOpenAtResyncBecomeLost) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq : {0, 1, 2, 4, 5}) {
    sendRtp(t, kSsrcA, seq);
  }
  EXPECT_EQ(t.pendingLost(), 1u);
  sendRtp(t, kSsrcA, 40000);
  sendRtp(t, kSsrcA, 40001);
  EXPECT_EQ(t.counters().resyncs, 1u);
  EXPECT_EQ(t.counters().lost, 1u);
  EXPECT_EQ(t.pendingLost(), 0u);
  expectConsistent(t);
}

TEST(RtpTracker, StrayJumpIsIgnored) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 100; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  sendRtp(t, kSsrcA, 30000);
  for (uint16_t seq = 100; seq < 110; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.resyncs, 0u);
  EXPECT_EQ(c.unvalidated, 2u);
  EXPECT_EQ(c.expected, 109u);
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  EXPECT_EQ(snapshot(t, kSsrcA).max_seq, 109u);
  expectConsistent(t);
}

TEST(RtpTracker, RestartLowerResyncs) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq <= 5000; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  // Sender restarts 4900 lower: outside the window, so A.1 decides.
  for (uint16_t seq = 100; seq < 110; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.resyncs, 1u);
  EXPECT_EQ(c.late, 1u);  // 100, before 101 confirmed the restart
  EXPECT_EQ(c.expected, 5000u + 9u);
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  EXPECT_EQ(snapshot(t, kSsrcA).base_seq, 101u);
  expectConsistent(t);
}

TEST(RtpTracker, JumpBelowMaxDropoutCountsAsLoss) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 10; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  sendRtp(t, kSsrcA, 2009);  // 2000 ahead, under MAX_DROPOUT: a real gap
  // 10..985 already left the window (976), 986..2008 are pending (1023).
  EXPECT_EQ(t.counters().lost, 976u);
  EXPECT_EQ(t.pendingLost(), 1023u);
  EXPECT_EQ(t.counters().expected, 2009u);
  expectConsistent(t);
}

// --- SSRCs ---------------------------------------------------------------------------------

TEST(RtpTracker, NewSsrcGetsItsOwnProbation) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t seq = 0; seq < 10; ++seq) {
    sendRtp(t, kSsrcA, seq);
  }
  for (uint16_t seq = 5000; seq < 5010; ++seq) {
    sendRtp(t, kSsrcB, seq);
  }
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.unvalidated, 2u);
  EXPECT_EQ(c.expected, 9u + 9u);
  EXPECT_EQ(c.lost + t.pendingLost(), 0u);
  EXPECT_EQ(c.resyncs, 0u);
  EXPECT_EQ(t.activeSources(), 2u);
  EXPECT_EQ(snapshot(t, kSsrcB).base_seq, 5001u);
  expectConsistent(t);
}

TEST(RtpTracker, InterleavedSourcesAreIndependent) {
  RtpTracker t(TrackerConfig{});
  for (uint16_t i = 0; i < 300; ++i) {
    if (i != 100) {
      sendRtp(t, kSsrcA, i);
    }
    if (i != 200 && i != 201) {
      sendRtp(t, kSsrcB, static_cast<uint16_t>(60000 + i));
    }
  }
  EXPECT_EQ(snapshot(t, kSsrcA).pending_lost, 1u);
  EXPECT_EQ(snapshot(t, kSsrcB).pending_lost, 2u);
  EXPECT_EQ(t.pendingLost(), 3u);
  expectConsistent(t);
}

TEST(RtpTracker, EvictsLeastRecentlyHeardAndFinalisesItsGaps) {
  RtpTracker t(smallTable(2));
  for (uint16_t seq : {0, 1, 2, 4}) {
    sendRtp(t, kSsrcA, seq);  // 3 pending
  }
  sendRtp(t, kSsrcB, 0);
  sendRtp(t, kSsrcB, 1);
  EXPECT_EQ(t.pendingLost(), 1u);
  sendRtp(t, kSsrcC, 0);  // table full: A is the oldest
  double j;
  EXPECT_FALSE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_TRUE(t.sourceJitterMicros(kSsrcB, j));
  EXPECT_TRUE(t.sourceJitterMicros(kSsrcC, j));
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.sources_evicted, 1u);
  EXPECT_EQ(c.lost, 1u);  // A's open gap could never be filled any more
  EXPECT_EQ(t.pendingLost(), 0u);
  EXPECT_EQ(t.activeSources(), 2u);

  // A comes back as a stranger: probation again, and B (now oldest) goes.
  sendRtp(t, kSsrcA, 5);
  EXPECT_FALSE(snapshot(t, kSsrcA).validated);
  EXPECT_FALSE(t.sourceJitterMicros(kSsrcB, j));
  EXPECT_EQ(c.sources_evicted, 2u);
  expectConsistent(t);
}

TEST(RtpTracker, RecentUseProtectsFromEviction) {
  RtpTracker t(smallTable(2));
  sendRtp(t, kSsrcA, 0);
  sendRtp(t, kSsrcB, 0);
  sendRtp(t, kSsrcA, 1);  // A is now the most recent
  sendRtp(t, kSsrcC, 0);
  double j;
  EXPECT_TRUE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_FALSE(t.sourceJitterMicros(kSsrcB, j));
}

TEST(RtpTracker, TableOfOneEntry) {
  RtpTracker t(smallTable(0));  // clamped to 1
  EXPECT_EQ(t.capacity(), 1u);
  for (uint16_t seq = 0; seq < 10; ++seq) {
    sendRtp(t, seq % 2 ? kSsrcA : kSsrcB, seq);
  }
  EXPECT_EQ(t.counters().sources_evicted, 9u);
  EXPECT_EQ(t.counters().unvalidated, 10u);
  EXPECT_EQ(t.activeSources(), 1u);
}

TEST(RtpTracker, IndexSurvivesHeavyChurn) {
  // Thousands of SSRCs through a 64-entry table: after every round exactly
  // the 64 most recent must be found, which checks the hash index deletion.
  RtpTracker t(TrackerConfig{});
  std::mt19937 rng(42);
  std::vector<uint32_t> recent;
  for (int round = 0; round < 50; ++round) {
    recent.clear();
    for (int i = 0; i < 100; ++i) {
      const uint32_t ssrc = rng();
      recent.push_back(ssrc);
      sendRtp(t, ssrc, 0);
    }
    double j;
    for (size_t i = 0; i < recent.size(); ++i) {
      EXPECT_EQ(t.sourceJitterMicros(recent[i], j), i >= recent.size() - 64) << "round " << round << " i " << i;
    }
  }
  EXPECT_EQ(t.counters().sources_evicted, 50u * 100u - 64u);
}

TEST(RtpTracker, ActiveSourcesHonoursTimeout) {
  TrackerConfig config;
  config.source_timeout_ns = 1000 * kMs;
  RtpTracker t(config);
  sendRtp(t, kSsrcA, 0, 0);
  sendRtp(t, kSsrcB, 0, 500 * kMs);
  EXPECT_EQ(t.activeSources(), 2u);
  sendRtp(t, kSsrcB, 1, 1000 * kMs);  // A heard exactly one timeout ago
  EXPECT_EQ(t.activeSources(), 2u);
  sendRtp(t, kSsrcB, 2, 1001 * kMs);
  EXPECT_EQ(t.activeSources(), 1u);
  sendRtp(t, kSsrcA, 1, 1002 * kMs);
  EXPECT_EQ(t.activeSources(), 2u);
}

// --- Jitter (RFC 3550 A.8) -------------------------------------------------------------------

// 90 kHz video, one packet every 20 ms (1800 ticks); packet k arrives at
// k * 20 ms except packet 5, which is 5 ms (450 ticks) late.
// Packet 0 is on probation and packet 1 is the first A.1 accepts, so it only
// sets the reference. With J in ticks and D = (Rj - Ri) - (Sj - Si):
//   k=2..4  D = 1800 - 1800 = 0                 J = 0
//   k=5     D = 2250 - 1800 = +450              J = 0 + (450 - 0)/16      = 28.125
//   k=6     D = 1350 - 1800 = -450              J = 28.125 + (450 - 28.125)/16 = 54.4921875
//   k=7     D = 0                               J = 54.4921875 * 15/16    = 51.08642578125
//   k=8     D = 0                               J = 51.08642578125 * 15/16 = 47.893524169921875
// In microseconds (x 1e6 / 90000): 312.5, 605.46875, 567.626953125,
// 532.1502685546875. All are exact binary fractions, so compare exactly.
TEST(RtpJitter, OneDelayedPacketAt90kHz) {
  RtpTracker t(TrackerConfig{});
  const double expected_us[] = {0, 0, 0, 0, 0, 312.5, 605.46875, 567.626953125, 532.1502685546875};
  for (uint32_t k = 0; k < 9; ++k) {
    const uint64_t arrival = k * 20 * kMs + (k == 5 ? 5 * kMs : 0);
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), arrival, 1800 * k, 96);
    double j = -1;
    ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
    EXPECT_DOUBLE_EQ(j, expected_us[k]) << "after packet " << k;
  }
  EXPECT_DOUBLE_EQ(t.jitterMicros(), 532.1502685546875);
  EXPECT_DOUBLE_EQ(47.893524169921875 * 1e6 / 90000, 532.1502685546875);  // ticks -> us check
}

// Same shape at 8 kHz (PCMU, PT 0): 160 ticks per 20 ms, packet 3 is 10 ms
// (80 ticks) early this time.
//   k=2     D = 0                               J = 0
//   k=3     D = 80 - 160 = -80                  J = 80/16 = 5 ticks = 625 us
//   k=4     D = 240 - 160 = +80                 J = 5 + (80 - 5)/16 = 9.6875 ticks = 1210.9375 us
TEST(RtpJitter, EarlyPacketAt8kHz) {
  RtpTracker t(TrackerConfig{});
  const double expected_us[] = {0, 0, 0, 625, 1210.9375};
  for (uint32_t k = 0; k < 5; ++k) {
    const uint64_t arrival = k * 20 * kMs - (k == 3 ? 10 * kMs : 0);
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), arrival, 160 * k, 0);
    double j = -1;
    ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
    EXPECT_DOUBLE_EQ(j, expected_us[k]) << "after packet " << k;
  }
}

TEST(RtpJitter, TimestampWrapIsNotAJump) {
  RtpTracker t(TrackerConfig{});
  const uint32_t start = 0xFFFFFFFFu - 1800 * 3;
  for (uint32_t k = 0; k < 10; ++k) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), k * 20 * kMs, start + 1800 * k, 96);
  }
  double j = -1;
  ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_EQ(j, 0.0);
}

// Opus at 48 kHz on dynamic PT 111: 960 ticks per 20 ms. With the default
// map PT 111 is taken as 90 kHz, so 960 ticks look like 10666.67 us while
// 20000 us pass: D = 9333.33 us on every packet from k=2.
TEST(RtpJitter, ClockRateOverride) {
  TrackerConfig opus;
  opus.clock_rates.set(111, 48000);
  RtpTracker right(opus);
  RtpTracker wrong(TrackerConfig{});
  for (uint32_t k = 0; k < 3; ++k) {
    sendRtp(right, kSsrcA, static_cast<uint16_t>(k), k * 20 * kMs, 960 * k, 111);
    sendRtp(wrong, kSsrcA, static_cast<uint16_t>(k), k * 20 * kMs, 960 * k, 111);
  }
  double j = -1;
  ASSERT_TRUE(right.sourceJitterMicros(kSsrcA, j));
  EXPECT_EQ(j, 0.0);
  ASSERT_TRUE(wrong.sourceJitterMicros(kSsrcA, j));
  const double d_us = 20000.0 - 960.0 * 1e6 / 90000.0;
  EXPECT_NEAR(j, d_us / 16, 1e-9);  // 583.333... us after one sample
}

TEST(RtpJitter, UnknownClockRateSkipsJitterButNotSequence) {
  TrackerConfig config;
  config.clock_rates.set(96, 0);
  RtpTracker t(config);
  for (uint32_t k = 0; k < 10; ++k) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), k * 7 * kMs + (k % 3) * kMs, 1800 * k, 96);
    sendRtp(t, kSsrcB, static_cast<uint16_t>(k), k * 7 * kMs + (k % 3) * kMs, 1800 * k, 50);
  }
  double j = -1;
  ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_EQ(j, 0.0);
  ASSERT_TRUE(t.sourceJitterMicros(kSsrcB, j));
  EXPECT_EQ(j, 0.0);  // PT 50 is unassigned
  EXPECT_EQ(t.counters().expected, 18u);
}

TEST(RtpJitter, AggregateIsMaxOverActiveSources) {
  TrackerConfig config;
  config.source_timeout_ns = 1000 * kMs;
  RtpTracker t(config);
  // A: 20 ms steps but timestamps say 10 ms: D = 10000 us from k=2.
  //   J(k=2) = 625, J(k=3) = 625 + (10000 - 625)/16 = 1210.9375
  // B: perfectly regular, J = 0.
  for (uint32_t k = 0; k < 4; ++k) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), k * 20 * kMs, 900 * k, 96);
    sendRtp(t, kSsrcB, static_cast<uint16_t>(k), k * 20 * kMs, 1800 * k, 96);
  }
  EXPECT_DOUBLE_EQ(t.jitterMicros(), 1210.9375);
  // A falls silent; once it times out only B counts.
  for (uint32_t k = 4; k < 60; ++k) {
    sendRtp(t, kSsrcB, static_cast<uint16_t>(k), k * 20 * kMs, 1800 * k, 96);
  }
  EXPECT_EQ(t.activeSources(), 1u);
  EXPECT_EQ(t.jitterMicros(), 0.0);
  double j = -1;
  ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_DOUBLE_EQ(j, 1210.9375);  // kept, just not aggregated
}

TEST(RtpJitter, ResyncRestartsTheReference) {
  RtpTracker t(TrackerConfig{});
  for (uint32_t k = 0; k < 5; ++k) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(k), k * 20 * kMs, 1800 * k, 96);
  }
  // New sequence with an unrelated timestamp base: without a fresh reference
  // this would be a D of billions of ticks.
  for (uint32_t k = 5; k < 10; ++k) {
    sendRtp(t, kSsrcA, static_cast<uint16_t>(30000 + k), k * 20 * kMs, 0x70000000u + 1800 * k, 96);
  }
  EXPECT_EQ(t.counters().resyncs, 1u);
  double j = -1;
  ASSERT_TRUE(t.sourceJitterMicros(kSsrcA, j));
  EXPECT_EQ(j, 0.0);
}

// --- Robustness ----------------------------------------------------------------------------

TEST(RtpTracker, RandomBytesNeverBreakTheBooks) {
  RtpTracker t(smallTable(8));
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(1500);
  uint64_t arrival = 0;
  uint64_t datagrams = 0;
  for (int i = 0; i < 200000; ++i) {
    const size_t length = rng() % 80;
    for (size_t b = 0; b < length; ++b) {
      buf[b] = static_cast<uint8_t>(rng());
    }
    // Bias toward plausible RTP so the sequence logic gets exercised too:
    // version 2, few SSRCs, nearby sequence numbers.
    if (length >= 12 && rng() % 2 == 0) {
      buf[0] = static_cast<uint8_t>(0x80 | (buf[0] & 0x3f));
      buf[1] &= 0x7f;
      buf[8] = buf[9] = buf[10] = 0;
      buf[11] &= 0x0f;
      buf[2] = 0;
    }
    arrival += rng() % (5 * kMs);
    t.onDatagram(buf.data(), length, arrival);
    ++datagrams;
  }
  const RtpCounters& c = t.counters();
  EXPECT_EQ(c.packets + c.rtcp + c.non_rtp + c.malformed, datagrams);
  EXPECT_GT(c.packets, 0u);
  EXPECT_GT(c.malformed, 0u);
  EXPECT_TRUE(std::isfinite(t.jitterMicros()));
  expectConsistent(t);
  t.flush();
  EXPECT_EQ(t.pendingLost(), 0u);
  expectConsistent(t);
}

TEST(RtpTracker, CountersOnlyGrow) {
  RtpTracker t(smallTable(4));
  std::mt19937 rng(99);
  RtpCounters prev = t.counters();
  uint16_t seq[4] = {0, 1000, 30000, 65000};
  for (int i = 0; i < 100000; ++i) {
    const int src = static_cast<int>(rng() % 5);  // 5 SSRCs over 4 slots
    const int idx = src % 4;
    const int r = static_cast<int>(rng() % 100);
    const int step = r < 80 ? 1 : r < 90 ? -static_cast<int>(rng() % 200) : r < 95 ? 0 : static_cast<int>(rng() % 5000);
    seq[idx] = static_cast<uint16_t>(seq[idx] + step);
    sendRtp(t, kSsrcA + static_cast<uint32_t>(src), seq[idx], static_cast<uint64_t>(i) * kMs);
    if (i % 10000 == 0) {
      t.flush();
    }
    const RtpCounters& c = t.counters();
    ASSERT_GE(c.lost, prev.lost);
    ASSERT_GE(c.expected, prev.expected);
    ASSERT_GE(c.duplicates, prev.duplicates);
    ASSERT_GE(c.out_of_order, prev.out_of_order);
    ASSERT_GE(c.packets, prev.packets);
    prev = c;
  }
  expectConsistent(t);
}

}  // namespace
}  // namespace rtp
}  // namespace mediamesh
