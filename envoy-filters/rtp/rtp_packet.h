// RTP/RTCP datagram classification and RTP fixed-header parsing (RFC 3550
// section 5.1, RTCP demultiplexing per RFC 5761 section 4).
//
// Nothing here allocates or throws: it runs once per datagram inside Envoy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mediamesh {
namespace rtp {

enum class PacketKind : uint8_t {
  Rtp,        // version 2 with a consistent fixed header
  Rtcp,       // version 2, second byte 192..223 (SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR, ...)
  NotRtp,     // empty, or not version 2 (STUN, DTLS, anything else): pass it
  Malformed,  // version 2 but inconsistent; see parsePacket()
};

// Filled completely only when parsePacket() returns PacketKind::Rtp. For any
// other kind every field is zero except `version` (and `padding` for RTCP),
// so a caller that logs the view never reads stale values.
struct RtpHeaderView {
  uint8_t version;
  bool padding;
  bool extension;
  uint8_t csrc_count;
  bool marker;
  uint8_t payload_type;
  uint16_t sequence;
  uint32_t timestamp;
  uint32_t ssrc;
  size_t header_length;   // fixed header + CSRCs + extension header and body
  size_t payload_length;  // datagram minus header minus padding
  // Additions beyond the agreed API.
  size_t padding_length;  // trailing padding bytes, count byte included
};

// Smallest datagrams of each kind: the RTP fixed header, the RTCP common
// header (a BYE with no sources is the shortest legal RTCP packet).
inline constexpr size_t kRtpFixedHeaderLength = 12;
inline constexpr size_t kRtcpCommonHeaderLength = 4;

// Returns what the datagram is. Malformed means version 2 but one of:
//   - too short for the header its second byte implies (< 12 bytes for RTP,
//     < 4 bytes for RTCP),
//   - the CSRC list runs past the end,
//   - the extension header or its body runs past the end,
//   - the padding bit is set and the padding count is 0 or reaches back
//     past the start of the payload.
// An empty datagram is NotRtp: there is no version to judge it by.
PacketKind parsePacket(const uint8_t* data, size_t length, RtpHeaderView& out) noexcept;

// RFC 5761 section 4: with RTP and RTCP on one port, RTP may not use payload
// types 64..95, so a second byte of 192..223 (marker bit + those types) is
// RTCP. That covers RFC 3550's SR..APP (200..204) and also the RFC 4585
// feedback (205, 206) and RFC 3611 XR (207) packets that reduced-size RTCP
// (RFC 5506) sends on their own; reading those as RTP would invent a source
// from their SSRC field and a sequence number from their length field.
constexpr bool isRtcpPacketType(uint8_t second_byte) noexcept {
  return second_byte >= 192 && second_byte <= 223;
}

}  // namespace rtp
}  // namespace mediamesh
