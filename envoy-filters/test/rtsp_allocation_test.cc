// Once its buffers have grown to the largest head and split frame seen, the
// parser allocates nothing more, however the bytes are cut: per-packet work
// on an interleaved session is allocation-free. This binary links the
// counting allocation functions (counting_allocator.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "counting_allocator.h"
#include "rtsp/rtsp_parser.h"
#include "rtsp_test_util.h"

namespace mediamesh {
namespace rtsp {
namespace {

using mediamesh::testing::AllocationCounter;

// Counts events without keeping anything, so the sink itself never allocates.
struct CountingSink : ParserCallbacks {
  uint64_t messages = 0;
  uint64_t frames = 0;
  uint64_t frame_bytes = 0;
  uint64_t body_bytes = 0;
  void onMessageComplete(const Message&) override { ++messages; }
  void onBody(std::string_view piece, uint64_t) override { body_bytes += piece.size(); }
  void onInterleavedFrame(const InterleavedFrame& frame) override {
    ++frames;
    frame_bytes += frame.length;
  }
};

TEST(RtspAllocation, SteadySessionDoesNotAllocate) {
  const std::string session = testing::serverStream() + testing::clientStream();
  // Frames of every size up to 2000 bytes, cut at varying points.
  std::string frames;
  for (size_t i = 0; i < 400; ++i) {
    frames += testing::frame(static_cast<uint8_t>(i % 4), testing::rtpPacket(static_cast<uint16_t>(i), 0, i * 5 % 1988));
  }
  CountingSink sink;
  RtspParser parser(sink);
  auto run = [&](size_t chunk) {
    const std::string* streams[] = {&session, &frames};
    for (const std::string* s : streams) {
      for (size_t pos = 0; pos < s->size(); pos += chunk) {
        ASSERT_TRUE(parser.feed(std::string_view(*s).substr(pos, chunk)));
      }
    }
  };
  // Warm-up: the buffers grow to what this traffic needs.
  for (size_t chunk : {1u, 7u, 1448u, 65536u}) {
    run(chunk);
  }
  const size_t grown = parser.allocatedBytes();
  const uint64_t frames_before = sink.frames;

  AllocationCounter::start();
  for (int pass = 0; pass < 3; ++pass) {
    for (size_t chunk : {1u, 3u, 13u, 500u, 1448u, 9000u, 65536u}) {
      run(chunk);
    }
  }
  EXPECT_EQ(AllocationCounter::stop(), 0u);
  EXPECT_EQ(parser.allocatedBytes(), grown);
  EXPECT_EQ(sink.frames - frames_before, 3u * 7u * (400u + 5u));
  EXPECT_LE(sizeof(RtspParser) + parser.allocatedBytes(), RtspParser::memoryBound(parser.limits()));
}

TEST(RtspAllocation, WholeFramesInOneChunkNeverTouchTheFrameBuffer) {
  std::string frames;
  for (size_t i = 0; i < 100; ++i) {
    frames += testing::frame(0, testing::rtpPacket(static_cast<uint16_t>(i), 0, 1400));
  }
  CountingSink sink;
  RtspParser parser(sink);
  AllocationCounter::start();
  ASSERT_TRUE(parser.feed(frames));
  EXPECT_EQ(AllocationCounter::stop(), 0u);
  EXPECT_EQ(parser.allocatedBytes(), 0u);
  EXPECT_EQ(sink.frames, 100u);
}

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
