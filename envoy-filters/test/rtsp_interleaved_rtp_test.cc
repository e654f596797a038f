// The RTSP parser's interleaved frames feed the RTP core as they are: the
// filter will hand each even-channel payload to an RtpTracker, exactly as the
// UDP filter hands it a datagram.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rtp/rtp_packet.h"
#include "rtp/rtp_tracker.h"
#include "rtp_test_packets.h"
#include "rtsp/rtsp_parser.h"
#include "rtsp_test_util.h"

namespace mediamesh {
namespace rtsp {
namespace {

// RTP on even channels, RTCP on the odd one above it (RFC 2326 section 10.12
// pairs them through the interleaved=a-b transport parameter).
class TrackingSink : public ParserCallbacks {
 public:
  explicit TrackingSink(rtp::RtpTracker& tracker) : tracker_(tracker) {}
  void onInterleavedFrame(const InterleavedFrame& frame) override {
    arrival_ns_ += 33'000'000;
    if (frame.channel % 2 == 0) {
      rtp::RtpHeaderView view;
      kinds.push_back(rtp::parsePacket(frame.data, frame.length, view));
      sequences.push_back(view.sequence);
    }
    tracker_.onDatagram(frame.data, frame.length, arrival_ns_);
  }
  std::vector<rtp::PacketKind> kinds;
  std::vector<uint16_t> sequences;

 private:
  rtp::RtpTracker& tracker_;
  uint64_t arrival_ns_ = 0;
};

TEST(RtspInterleavedRtp, FramesFeedTheRtpTracker) {
  std::string stream = "RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 6tLZOxWdPMCvjnh3\r\n\r\n";
  for (uint16_t seq = 1000; seq < 1050; ++seq) {
    if (seq == 1020) {
      continue;  // one packet lost on the way to the server's socket
    }
    rtp::testing::RtpSpec spec;
    spec.seq = seq;
    spec.timestamp = 3000u * seq;
    spec.ssrc = 0x0A1B2C3D;
    spec.payload = 1000 + seq % 7;
    const std::vector<uint8_t> packet = rtp::testing::buildRtp(spec);
    stream += testing::frame(0, std::string(packet.begin(), packet.end()));
    if (seq % 10 == 0) {
      stream += testing::frame(1, std::string("\x80\xc8\x00\x06", 4) + std::string(24, '\x22'));
    }
  }
  stream += "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n";

  rtp::TrackerConfig config;
  rtp::RtpTracker tracker(config);
  TrackingSink sink(tracker);
  RtspParser parser(sink);
  // Cut the stream into TCP-sized segments that split frames anywhere.
  for (size_t pos = 0; pos < stream.size(); pos += 1448) {
    ASSERT_TRUE(parser.feed(std::string_view(stream).substr(pos, 1448)));
  }
  ASSERT_EQ(sink.kinds.size(), 49u);
  for (rtp::PacketKind kind : sink.kinds) {
    EXPECT_EQ(kind, rtp::PacketKind::Rtp);
  }
  EXPECT_EQ(sink.sequences.front(), 1000);
  EXPECT_EQ(sink.sequences.back(), 1049);
  tracker.flush();
  EXPECT_EQ(tracker.counters().packets, 49u);
  EXPECT_EQ(tracker.counters().rtcp, 4u);  // 1000, 1010, 1030, 1040
  EXPECT_EQ(tracker.counters().lost, 1u);
  EXPECT_EQ(tracker.counters().malformed, 0u);
}

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
