#include "rtp/rtp_packet.h"

namespace mediamesh {
namespace rtp {

namespace {

uint16_t readBe16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint32_t readBe32(const uint8_t* p) noexcept {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

}  // namespace

PacketKind parsePacket(const uint8_t* data, size_t length, RtpHeaderView& out) noexcept {
  out = RtpHeaderView{};
  if (data == nullptr || length == 0) {
    return PacketKind::NotRtp;
  }
  out.version = static_cast<uint8_t>(data[0] >> 6);
  if (out.version != 2) {
    return PacketKind::NotRtp;
  }
  if (length < 2) {
    return PacketKind::Malformed;
  }
  if (isRtcpPacketType(data[1])) {
    out.padding = (data[0] & 0x20) != 0;
    // The RTCP length field is deliberately not checked against the datagram:
    // SRTCP appends an index and an authentication tag it does not cover.
    return length < kRtcpCommonHeaderLength ? PacketKind::Malformed : PacketKind::Rtcp;
  }
  if (length < kRtpFixedHeaderLength) {
    return PacketKind::Malformed;
  }

  const bool padding = (data[0] & 0x20) != 0;
  const bool extension = (data[0] & 0x10) != 0;
  const uint8_t csrc_count = data[0] & 0x0f;

  size_t header_length = kRtpFixedHeaderLength + 4u * csrc_count;
  if (header_length > length) {
    return PacketKind::Malformed;
  }
  if (extension) {
    // RFC 3550 5.3.1: 16-bit profile field, 16-bit length in 32-bit words
    // not counting the 4-byte extension header itself.
    if (header_length + 4 > length) {
      return PacketKind::Malformed;
    }
    const size_t words = readBe16(data + header_length + 2);
    header_length += 4 + 4 * words;
    if (header_length > length) {
      return PacketKind::Malformed;
    }
  }
  size_t padding_length = 0;
  if (padding) {
    padding_length = data[length - 1];
    // A count of 0 is impossible (the count byte counts itself); a count that
    // reaches into the header means the sender's framing is broken.
    if (padding_length == 0 || padding_length > length - header_length) {
      return PacketKind::Malformed;
    }
  }

  out.padding = padding;
  out.extension = extension;
  out.csrc_count = csrc_count;
  out.marker = (data[1] & 0x80) != 0;
  out.payload_type = data[1] & 0x7f;
  out.sequence = readBe16(data + 2);
  out.timestamp = readBe32(data + 4);
  out.ssrc = readBe32(data + 8);
  out.header_length = header_length;
  out.payload_length = length - header_length - padding_length;
  out.padding_length = padding_length;
  return PacketKind::Rtp;
}

}  // namespace rtp
}  // namespace mediamesh
