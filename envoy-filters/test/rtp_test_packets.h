// Builders for RTP datagrams used by the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rtp/rtp_tracker.h"

namespace mediamesh {
namespace rtp {
namespace testing {

struct RtpSpec {
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0x1234abcd;
  uint8_t payload_type = 96;
  bool marker = false;
  std::vector<uint32_t> csrcs;
  bool extension = false;
  uint16_t extension_words = 0;
  size_t payload = 20;
  uint8_t padding = 0;  // total padding bytes, count byte included
};

inline void putBe16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

inline void putBe32(std::vector<uint8_t>& out, uint32_t v) {
  putBe16(out, static_cast<uint16_t>(v >> 16));
  putBe16(out, static_cast<uint16_t>(v));
}

inline std::vector<uint8_t> buildRtp(const RtpSpec& spec) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(0x80 | (spec.padding ? 0x20 : 0) | (spec.extension ? 0x10 : 0) |
                                     (spec.csrcs.size() & 0x0f)));
  out.push_back(static_cast<uint8_t>((spec.marker ? 0x80 : 0) | (spec.payload_type & 0x7f)));
  putBe16(out, spec.seq);
  putBe32(out, spec.timestamp);
  putBe32(out, spec.ssrc);
  for (uint32_t csrc : spec.csrcs) {
    putBe32(out, csrc);
  }
  if (spec.extension) {
    putBe16(out, 0xBEDE);
    putBe16(out, spec.extension_words);
    out.insert(out.end(), 4u * spec.extension_words, 0xAA);
  }
  out.insert(out.end(), spec.payload, 0x55);
  if (spec.padding) {
    out.insert(out.end(), spec.padding - 1u, 0);
    out.push_back(spec.padding);
  }
  return out;
}

// Sends one RTP packet with the 20-byte default payload (32-byte datagram).
inline PacketKind sendRtp(RtpTracker& tracker, uint32_t ssrc, uint16_t seq, uint64_t arrival_ns = 0,
                          uint32_t timestamp = 0, uint8_t payload_type = 96) {
  RtpSpec spec;
  spec.ssrc = ssrc;
  spec.seq = seq;
  spec.timestamp = timestamp;
  spec.payload_type = payload_type;
  const std::vector<uint8_t> bytes = buildRtp(spec);
  return tracker.onDatagram(bytes.data(), bytes.size(), arrival_ns);
}

}  // namespace testing
}  // namespace rtp
}  // namespace mediamesh
