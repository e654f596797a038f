// libFuzzer target for the RTP core: arbitrary bytes become a run of
// datagrams with arrival times, fed through one RtpTracker, checking after
// each one the bookkeeping identities documented in rtp_tracker.h. Sanitizers
// (address, undefined) catch memory and arithmetic faults.
//
// Input layout, so the fuzzer can reach deep sequence states and not just
// header parsing:
//   byte 0      table size (1..8, small so eviction happens) and timeout
//   byte 1      optional clock-rate override
//   then records, each starting with a control byte c:
//     c & 0x80  synthesised RTP: 3 more bytes give the sequence step, the
//               timestamp step and payload type/size for one of 4 SSRCs (plus
//               one stray), so reordering, duplicates, jumps and wraps are
//               a byte away;
//     c == 0x7f flush(), as at the end of a session;
//     else      raw datagram: next byte is its length, then that many bytes.
//   c & 0x70 scaled is the arrival-time step (it may also step backwards).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "rtp/rtp_packet.h"
#include "rtp/rtp_tracker.h"

namespace {

using mediamesh::rtp::PacketKind;
using mediamesh::rtp::parsePacket;
using mediamesh::rtp::RtpCounters;
using mediamesh::rtp::RtpHeaderView;
using mediamesh::rtp::RtpTracker;
using mediamesh::rtp::TrackerConfig;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                             \
    }                                                                               \
  } while (0)

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return size_ == 0; }
  size_t remaining() const { return size_; }
  uint8_t byte() {
    if (size_ == 0) {
      return 0;
    }
    --size_;
    return *data_++;
  }
  const uint8_t* take(size_t n) {
    const uint8_t* p = data_;
    data_ += n;
    size_ -= n;
    return p;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

void checkParse(const uint8_t* data, size_t length) {
  RtpHeaderView view;
  const PacketKind kind = parsePacket(data, length, view);
  if (kind == PacketKind::Rtp) {
    FUZZ_CHECK(view.version == 2);
    FUZZ_CHECK(view.header_length >= 12);
    const size_t fixed_and_csrcs = 12 + 4u * view.csrc_count;
    if (view.extension) {
      FUZZ_CHECK(view.header_length >= fixed_and_csrcs + 4 && (view.header_length - fixed_and_csrcs) % 4 == 0);
    } else {
      FUZZ_CHECK(view.header_length == fixed_and_csrcs);
    }
    FUZZ_CHECK(view.header_length + view.payload_length + view.padding_length == length);
    FUZZ_CHECK(view.payload_type < 128);
    FUZZ_CHECK(view.padding == (view.padding_length > 0));
  } else {
    FUZZ_CHECK(view.header_length == 0 && view.payload_length == 0);
    if (kind == PacketKind::NotRtp && length > 0) {
      FUZZ_CHECK((data[0] >> 6) != 2);
    }
  }
}

void checkMonotonic(const RtpCounters& before, const RtpCounters& after) {
  FUZZ_CHECK(after.packets >= before.packets);
  FUZZ_CHECK(after.bytes >= before.bytes);
  FUZZ_CHECK(after.expected >= before.expected);
  FUZZ_CHECK(after.lost >= before.lost);
  FUZZ_CHECK(after.duplicates >= before.duplicates);
  FUZZ_CHECK(after.out_of_order >= before.out_of_order);
  FUZZ_CHECK(after.rtcp >= before.rtcp);
  FUZZ_CHECK(after.non_rtp >= before.non_rtp);
  FUZZ_CHECK(after.malformed >= before.malformed);
  FUZZ_CHECK(after.late >= before.late);
  FUZZ_CHECK(after.unvalidated >= before.unvalidated);
}

void checkBooks(const RtpTracker& tracker, uint64_t datagrams, uint64_t bytes, size_t capacity) {
  const RtpCounters& c = tracker.counters();
  const uint64_t pending = tracker.pendingLost();
  FUZZ_CHECK(c.packets + c.rtcp + c.non_rtp + c.malformed == datagrams);
  FUZZ_CHECK(c.bytes <= bytes);
  FUZZ_CHECK(c.lost + pending <= c.expected);
  FUZZ_CHECK(c.unvalidated + c.duplicates + c.late <= c.packets);
  FUZZ_CHECK(c.packets == c.unvalidated + (c.expected - c.lost - pending) + c.duplicates + c.late);
  FUZZ_CHECK(c.late <= c.out_of_order);
  FUZZ_CHECK(c.cumulative_lost_rfc3550 ==
             static_cast<int64_t>(c.expected) - static_cast<int64_t>(c.packets - c.unvalidated));
  FUZZ_CHECK(tracker.activeSources() <= capacity);
  const double jitter = tracker.jitterMicros();
  FUZZ_CHECK(std::isfinite(jitter) && jitter >= 0.0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  TrackerConfig config;
  const uint8_t setup = in.byte();
  config.max_sources = 1 + (setup & 0x07);
  config.source_timeout_ns = static_cast<uint64_t>(setup >> 3) * 50'000'000ull;
  const uint8_t clock = in.byte();
  if (clock & 0x80) {
    config.clock_rates.set(clock & 0x7f, (clock & 0x40) ? 48000 : 0);
  }
  RtpTracker tracker(config);

  uint16_t seq[5] = {0, 100, 30000, 65500, 7};
  uint32_t timestamp[5] = {0, 0xFFFFF000u, 12345, 0, 0x80000000u};
  uint64_t arrival = 1'000'000'000ull;
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  std::vector<uint8_t> datagram;

  while (!in.empty()) {
    const uint8_t control = in.byte();
    if (control == 0x7f) {
      const uint64_t lost = tracker.counters().lost;
      const uint64_t pending = tracker.pendingLost();
      tracker.flush();
      FUZZ_CHECK(tracker.pendingLost() == 0);
      FUZZ_CHECK(tracker.counters().lost == lost + pending);
      continue;
    }
    const uint64_t step = static_cast<uint64_t>((control >> 4) & 0x07) * 7'000'000ull;
    // Mostly forward, occasionally backward, as a buggy clock might.
    arrival = (control & 0x08) && (control & 0x01) ? arrival - step / 2 : arrival + step;

    if (control & 0x80) {
      const uint8_t seq_byte = in.byte();
      const uint8_t ts_byte = in.byte();
      const uint8_t pt_byte = in.byte();
      const unsigned src = (control & 0x03) + ((control & 0x0c) == 0x0c ? 1 : 0);
      const int8_t delta = static_cast<int8_t>(seq_byte);
      // Steps mostly of +1; the high values reach far jumps and wraps.
      int step_seq = delta >= -8 && delta <= 8 ? delta : delta > 0 ? (delta - 8) * 97 : (delta + 8) * 97;
      if (delta == 0) {
        step_seq = 1;
      }
      seq[src] = static_cast<uint16_t>(seq[src] + step_seq);
      timestamp[src] += static_cast<uint32_t>(ts_byte) * 90u;
      datagram.assign(12 + (pt_byte >> 7) * 20, 0);
      datagram[0] = 0x80;
      datagram[1] = static_cast<uint8_t>(pt_byte & 0x7f);
      datagram[2] = static_cast<uint8_t>(seq[src] >> 8);
      datagram[3] = static_cast<uint8_t>(seq[src]);
      for (int i = 0; i < 4; ++i) {
        datagram[4 + i] = static_cast<uint8_t>(timestamp[src] >> (24 - 8 * i));
      }
      datagram[11] = static_cast<uint8_t>(src + 1);
    } else {
      const size_t length = in.byte();
      const size_t n = length < in.remaining() ? length : in.remaining();
      // An exact-size heap copy, so reading one byte past the datagram is an
      // ASan report rather than a read of the next record.
      const uint8_t* p = in.take(n);
      datagram.assign(p, p + n);
    }

    checkParse(datagram.data(), datagram.size());
    const RtpCounters before = tracker.counters();
    tracker.onDatagram(datagram.data(), datagram.size(), arrival);
    ++datagrams;
    bytes += datagram.size();
    checkMonotonic(before, tracker.counters());
    checkBooks(tracker, datagrams, bytes, config.max_sources);

    double jitter = 0;
    if (tracker.sourceJitterMicros(1, jitter)) {
      FUZZ_CHECK(std::isfinite(jitter) && jitter >= 0.0);
      mediamesh::rtp::SourceSnapshot source;
      FUZZ_CHECK(tracker.sourceSnapshot(1, source));
      FUZZ_CHECK(source.jitter_us == jitter);
      if (source.validated) {
        FUZZ_CHECK(source.max_seq >= source.base_seq);
        FUZZ_CHECK(source.pending_lost < source.expected);
        FUZZ_CHECK(source.pending_lost < RtpTracker::kReorderWindow);
      } else {
        FUZZ_CHECK(source.expected == 0 && source.pending_lost == 0);
      }
    }
  }

  const RtpCounters before = tracker.counters();
  const uint64_t pending = tracker.pendingLost();
  tracker.flush();
  FUZZ_CHECK(tracker.pendingLost() == 0);
  FUZZ_CHECK(tracker.counters().lost == before.lost + pending);
  checkBooks(tracker, datagrams, bytes, config.max_sources);
  return 0;
}
