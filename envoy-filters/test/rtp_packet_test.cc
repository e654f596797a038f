#include "rtp/rtp_packet.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "rtp_test_packets.h"

namespace mediamesh {
namespace rtp {
namespace {

using testing::buildRtp;
using testing::RtpSpec;

struct ValidCase {
  std::string name;
  RtpSpec spec;
  size_t header_length;
  size_t payload_length;
  size_t padding_length;
};

// Keeps gtest from dumping the case as raw bytes in test names and failures.
void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }

class ValidRtp : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidRtp, ParsesHeaderAndLengths) {
  const ValidCase& c = GetParam();
  const std::vector<uint8_t> bytes = buildRtp(c.spec);
  RtpHeaderView view;
  ASSERT_EQ(parsePacket(bytes.data(), bytes.size(), view), PacketKind::Rtp);
  EXPECT_EQ(view.version, 2);
  EXPECT_EQ(view.padding, c.spec.padding != 0);
  EXPECT_EQ(view.extension, c.spec.extension);
  EXPECT_EQ(view.csrc_count, c.spec.csrcs.size());
  EXPECT_EQ(view.marker, c.spec.marker);
  EXPECT_EQ(view.payload_type, c.spec.payload_type);
  EXPECT_EQ(view.sequence, c.spec.seq);
  EXPECT_EQ(view.timestamp, c.spec.timestamp);
  EXPECT_EQ(view.ssrc, c.spec.ssrc);
  EXPECT_EQ(view.header_length, c.header_length);
  EXPECT_EQ(view.payload_length, c.payload_length);
  EXPECT_EQ(view.padding_length, c.padding_length);
  EXPECT_EQ(view.header_length + view.payload_length + view.padding_length, bytes.size());
}

ValidCase minimal() {
  RtpSpec s;
  s.payload = 0;
  return {"Minimal12Bytes", s, 12, 0, 0};
}
ValidCase withPayload() {
  RtpSpec s;
  s.seq = 0xBEEF;
  s.timestamp = 0xDEADBEEF;
  s.ssrc = 0xCAFEF00D;
  s.payload_type = 0;
  s.marker = true;
  s.payload = 160;
  return {"Pcmu160BytesMarker", s, 12, 160, 0};
}
ValidCase withCsrcs() {
  RtpSpec s;
  s.csrcs = {1, 2, 3};
  return {"ThreeCsrcs", s, 12 + 12, 20, 0};
}
ValidCase withMaxCsrcs() {
  RtpSpec s;
  s.csrcs = std::vector<uint32_t>(15, 7);
  s.payload = 0;
  return {"FifteenCsrcsNoPayload", s, 12 + 60, 0, 0};
}
ValidCase withExtension() {
  RtpSpec s;
  s.extension = true;
  s.extension_words = 2;
  return {"ExtensionTwoWords", s, 12 + 4 + 8, 20, 0};
}
ValidCase withEmptyExtension() {
  RtpSpec s;
  s.extension = true;
  s.payload = 0;
  return {"ExtensionHeaderOnlyEndsDatagram", s, 16, 0, 0};
}
ValidCase withCsrcAndExtension() {
  RtpSpec s;
  s.csrcs = {9};
  s.extension = true;
  s.extension_words = 1;
  return {"CsrcThenExtension", s, 12 + 4 + 4 + 4, 20, 0};
}
ValidCase withPadding() {
  RtpSpec s;
  s.payload = 10;
  s.padding = 4;
  return {"PaddingFour", s, 12, 10, 4};
}
ValidCase withPaddingOnly() {
  RtpSpec s;
  s.payload = 0;
  s.padding = 4;
  return {"PaddingIsTheWholePayload", s, 12, 0, 4};
}
ValidCase withEverything() {
  RtpSpec s;
  s.csrcs = {1, 2};
  s.extension = true;
  s.extension_words = 3;
  s.payload = 7;
  s.padding = 1;
  return {"CsrcExtensionPaddingOne", s, 12 + 8 + 4 + 12, 7, 1};
}
ValidCase rtcpConflictFreeType() {
  // Payload type 77 without the marker is byte 77: plain RTP, not RTCP.
  RtpSpec s;
  s.payload_type = 77;
  return {"PayloadType77NoMarker", s, 12, 20, 0};
}

INSTANTIATE_TEST_SUITE_P(Parse, ValidRtp,
                         ::testing::Values(minimal(), withPayload(), withCsrcs(), withMaxCsrcs(), withExtension(),
                                           withEmptyExtension(), withCsrcAndExtension(), withPadding(),
                                           withPaddingOnly(), withEverything(), rtcpConflictFreeType()),
                         [](const ::testing::TestParamInfo<ValidCase>& info) { return info.param.name; });

struct KindCase {
  std::string name;
  std::vector<uint8_t> bytes;
  PacketKind kind;
};

void PrintTo(const KindCase& c, std::ostream* os) { *os << c.name; }

class Classify : public ::testing::TestWithParam<KindCase> {};

TEST_P(Classify, Kind) {
  const KindCase& c = GetParam();
  RtpHeaderView view;
  view.ssrc = 0xFFFFFFFF;  // must be cleared for anything but RTP
  EXPECT_EQ(parsePacket(c.bytes.data(), c.bytes.size(), view), c.kind);
  if (c.kind != PacketKind::Rtp) {
    EXPECT_EQ(view.ssrc, 0u);
    EXPECT_EQ(view.header_length, 0u);
    EXPECT_EQ(view.payload_length, 0u);
  }
}

std::vector<uint8_t> truncated(std::vector<uint8_t> bytes, size_t length) {
  bytes.resize(length);
  return bytes;
}

std::vector<uint8_t> rtcp(uint8_t packet_type, size_t length) {
  // V=2, count 0, the given type, length field for `length` bytes.
  std::vector<uint8_t> out = {0x80, packet_type, 0, static_cast<uint8_t>(length / 4 - 1)};
  out.resize(length, 0x11);
  return out;
}

std::vector<KindCase> kindCases() {
  std::vector<KindCase> cases;
  const std::vector<uint8_t> twelve = buildRtp([] {
    RtpSpec s;
    s.payload = 0;
    return s;
  }());

  // Not RTP at all: nothing to judge, or another protocol on the port.
  cases.push_back({"Empty", {}, PacketKind::NotRtp});
  cases.push_back({"StunBindingRequest", {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42}, PacketKind::NotRtp});
  cases.push_back({"DtlsHandshake", {0x16, 0xFE, 0xFD, 0x00, 0x00}, PacketKind::NotRtp});
  cases.push_back({"Version1", {0x40, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, PacketKind::NotRtp});
  cases.push_back({"Version3", {0xC0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, PacketKind::NotRtp});
  cases.push_back({"OneByteVersion0", {0x00}, PacketKind::NotRtp});
  cases.push_back({"AsciiText", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'}, PacketKind::NotRtp});

  // RTCP by second byte.
  cases.push_back({"RtcpSenderReport", rtcp(200, 28), PacketKind::Rtcp});
  cases.push_back({"RtcpReceiverReport", rtcp(201, 8), PacketKind::Rtcp});
  cases.push_back({"RtcpSdes", rtcp(202, 12), PacketKind::Rtcp});
  cases.push_back({"RtcpByeNoSources", rtcp(203, 4), PacketKind::Rtcp});
  cases.push_back({"RtcpApp", rtcp(204, 12), PacketKind::Rtcp});
  cases.push_back({"RtcpTransportFeedback", rtcp(205, 16), PacketKind::Rtcp});
  cases.push_back({"RtcpPayloadFeedbackPli", rtcp(206, 12), PacketKind::Rtcp});
  cases.push_back({"RtcpExtendedReport", rtcp(207, 8), PacketKind::Rtcp});
  cases.push_back({"RtcpLowestOfReservedRange", rtcp(192, 8), PacketKind::Rtcp});
  cases.push_back({"RtcpHighestOfReservedRange", rtcp(223, 8), PacketKind::Rtcp});
  cases.push_back({"RtcpWithPaddingBit", [] {
                     auto b = rtcp(201, 8);
                     b[0] |= 0x20;
                     return b;
                   }(),
                   PacketKind::Rtcp});
  cases.push_back({"JustAboveRtcpRangeIsRtp", rtcp(224, 12), PacketKind::Rtp});
  cases.push_back({"JustBelowRtcpRangeIsRtp", rtcp(191, 12), PacketKind::Rtp});

  // Version 2 but inconsistent.
  cases.push_back({"OneByteVersion2", {0x80}, PacketKind::Malformed});
  cases.push_back({"ElevenBytes", truncated(twelve, 11), PacketKind::Malformed});
  cases.push_back({"TwoBytes", truncated(twelve, 2), PacketKind::Malformed});
  cases.push_back({"RtcpThreeBytes", truncated(rtcp(201, 8), 3), PacketKind::Malformed});
  cases.push_back({"CsrcListPastEnd", [] {
                     RtpSpec s;
                     s.csrcs = {1, 2, 3};
                     s.payload = 0;
                     return truncated(buildRtp(s), 12 + 11);
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"CsrcCountWithNoList", [&] {
                     auto b = twelve;
                     b[0] |= 0x01;
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"ExtensionHeaderPastEnd", [] {
                     RtpSpec s;
                     s.extension = true;
                     s.payload = 0;
                     return truncated(buildRtp(s), 14);
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"ExtensionBitWithNothingAfterHeader", [&] {
                     auto b = twelve;
                     b[0] |= 0x10;
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"ExtensionBodyPastEnd", [] {
                     RtpSpec s;
                     s.extension = true;
                     s.extension_words = 4;
                     s.payload = 0;
                     return truncated(buildRtp(s), 12 + 4 + 15);
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"ExtensionLengthHuge", [] {
                     RtpSpec s;
                     s.extension = true;
                     s.payload = 40;
                     auto b = buildRtp(s);
                     b[14] = 0xFF;
                     b[15] = 0xFF;
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"PaddingCountZero", [] {
                     RtpSpec s;
                     s.payload = 10;
                     s.padding = 4;
                     auto b = buildRtp(s);
                     b.back() = 0;
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"PaddingPastPayloadStart", [] {
                     RtpSpec s;
                     s.payload = 10;
                     s.padding = 4;
                     auto b = buildRtp(s);
                     b.back() = 15;  // 14 bytes follow the header
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"PaddingBitOnBareHeader", [&] {
                     auto b = twelve;
                     b[0] |= 0x20;
                     b[11] = 1;  // last SSRC byte read as the padding count
                     return b;
                   }(),
                   PacketKind::Malformed});
  cases.push_back({"PaddingIntoExtension", [] {
                     RtpSpec s;
                     s.extension = true;
                     s.extension_words = 1;
                     s.payload = 2;
                     s.padding = 2;
                     auto b = buildRtp(s);
                     b.back() = 5;  // header is 20 bytes, only 4 follow it
                     return b;
                   }(),
                   PacketKind::Malformed});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Parse, Classify, ::testing::ValuesIn(kindCases()),
                         [](const ::testing::TestParamInfo<KindCase>& info) { return info.param.name; });

TEST(ParsePacket, NullDataIsNotRtp) {
  RtpHeaderView view;
  EXPECT_EQ(parsePacket(nullptr, 0, view), PacketKind::NotRtp);
  EXPECT_EQ(parsePacket(nullptr, 12, view), PacketKind::NotRtp);
}

TEST(ParsePacket, MarkerBitWithRtcpRangeTypeIsRtcp) {
  // PT 72 with the marker set is byte 200: RFC 5761 says it is RTCP, which is
  // why PT 64..95 may not be used for RTP on a muxed port.
  RtpSpec s;
  s.payload_type = 72;
  s.marker = true;
  const auto bytes = buildRtp(s);
  RtpHeaderView view;
  EXPECT_EQ(parsePacket(bytes.data(), bytes.size(), view), PacketKind::Rtcp);
}

TEST(ParsePacket, ReadsFieldsBigEndian) {
  const std::vector<uint8_t> bytes = {0x80, 0x60, 0x12, 0x34, 0x89, 0xAB, 0xCD, 0xEF,
                                      0x01, 0x02, 0x03, 0x04, 0xFF};
  RtpHeaderView view;
  ASSERT_EQ(parsePacket(bytes.data(), bytes.size(), view), PacketKind::Rtp);
  EXPECT_EQ(view.payload_type, 96);
  EXPECT_EQ(view.sequence, 0x1234);
  EXPECT_EQ(view.timestamp, 0x89ABCDEFu);
  EXPECT_EQ(view.ssrc, 0x01020304u);
  EXPECT_EQ(view.payload_length, 1u);
  EXPECT_FALSE(view.marker);
}

}  // namespace
}  // namespace rtp
}  // namespace mediamesh
