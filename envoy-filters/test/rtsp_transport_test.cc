#include "rtsp/rtsp_transport.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mediamesh {
namespace rtsp {
namespace {

std::vector<TransportSpec> parseOk(std::string_view value) {
  std::vector<TransportSpec> specs;
  const char* reason = nullptr;
  EXPECT_TRUE(parseTransport(value, specs, &reason)) << value << ": " << (reason ? reason : "");
  return specs;
}

TEST(RtspTransport, UdpUnicastFromAClient) {
  const std::vector<TransportSpec> specs = parseOk("RTP/AVP;unicast;client_port=5000-5001");
  ASSERT_EQ(specs.size(), 1u);
  const TransportSpec& s = specs[0];
  EXPECT_EQ(s.protocol, "RTP/AVP");
  EXPECT_EQ(s.lowerTransport(), LowerTransport::Udp);
  EXPECT_TRUE(s.isUnicast());
  EXPECT_FALSE(s.isMulticast());
  ASSERT_TRUE(s.clientPort());
  EXPECT_EQ(*s.clientPort(), PortRange::pair(5000, 5001));
  EXPECT_FALSE(s.serverPort());
  EXPECT_FALSE(s.interleaved());
  EXPECT_FALSE(s.ssrc());
  EXPECT_FALSE(s.mode());
}

TEST(RtspTransport, ServerReplyWithEveryKnownParameter) {
  const std::vector<TransportSpec> specs = parseOk(
      "RTP/AVP/UDP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=0A1B2C3D;mode=\"PLAY\";"
      "destination=192.0.2.10;source=192.0.2.1");
  ASSERT_EQ(specs.size(), 1u);
  const TransportSpec& s = specs[0];
  EXPECT_EQ(s.lowerTransport(), LowerTransport::Udp);
  EXPECT_EQ(*s.clientPort(), PortRange::pair(5000, 5001));
  EXPECT_EQ(*s.serverPort(), PortRange::pair(6970, 6971));
  EXPECT_EQ(*s.ssrc(), 0x0A1B2C3Du);
  EXPECT_EQ(*s.mode(), "PLAY");
  EXPECT_EQ(*s.destination(), "192.0.2.10");
  EXPECT_EQ(*s.source(), "192.0.2.1");
  ASSERT_EQ(s.params.size(), 7u);
  EXPECT_EQ(s.params[4].value, "\"PLAY\"");
}

TEST(RtspTransport, TcpInterleaved) {
  const TransportSpec s = parseOk("RTP/AVP/TCP;unicast;interleaved=0-1")[0];
  EXPECT_EQ(s.lowerTransport(), LowerTransport::Tcp);
  EXPECT_EQ(*s.interleaved(), PortRange::pair(0, 1));
  const TransportSpec single = parseOk("RTP/AVP/TCP;interleaved=4")[0];
  EXPECT_EQ(*single.interleaved(), PortRange::single(4));
}

TEST(RtspTransport, MulticastWithPortAndTtl) {
  const TransportSpec s = parseOk("RTP/AVP;multicast;destination=232.1.1.1;port=5004-5005;ttl=16")[0];
  EXPECT_TRUE(s.isMulticast());
  EXPECT_EQ(*s.port(), PortRange::pair(5004, 5005));
  ASSERT_NE(s.find("ttl"), nullptr);
  EXPECT_EQ(s.find("TTL")->value, "16");
}

TEST(RtspTransport, SeveralSpecsAndQuotedCommas) {
  const std::vector<TransportSpec> specs =
      parseOk("RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY,RECORD\"");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].lowerTransport(), LowerTransport::Tcp);
  EXPECT_EQ(*specs[1].mode(), "PLAY,RECORD");
  EXPECT_EQ(*specs[1].clientPort(), PortRange::pair(5000, 5001));
}

TEST(RtspTransport, Rtsp20ParametersPassThrough) {
  const std::string value =
      "RTP/AVP/UDP;unicast;dest_addr=\":5000\"/\":5001\";src_addr=\"198.51.100.7:6000\"/\"198.51.100.7:6001\";"
      "ssrc=93CB001E/93CB001F;RTCP-mux;setup=active";
  const std::vector<TransportSpec> specs = parseOk(value);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(*specs[0].ssrc(), 0x93CB001Eu);
  EXPECT_EQ(specs[0].find("dest_addr")->value, "\":5000\"/\":5001\"");
  EXPECT_FALSE(specs[0].find("RTCP-mux")->has_value);
  EXPECT_EQ(serializeTransport(specs), value);
}

TEST(RtspTransport, RoundTripKeepsUnknownParametersInOrder) {
  const std::string value =
      "RTP/AVP;unicast;x-vendor=1;client_port=5000-5001;x-flag;layers=2;append;"
      "destination;x-quoted=\"a;b,c\"";
  std::vector<TransportSpec> specs = parseOk(value);
  ASSERT_EQ(specs.size(), 1u);
  std::vector<std::string> names;
  for (const TransportParam& p : specs[0].params) {
    names.push_back(p.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"unicast", "x-vendor", "client_port", "x-flag", "layers", "append",
                                            "destination", "x-quoted"}));
  EXPECT_EQ(serializeTransport(specs), value);
  EXPECT_EQ(*specs[0].destination(), "");

  // Rewriting the ports changes only those values, in place.
  specs[0].setClientPort(PortRange::pair(40000, 40001));
  specs[0].setServerPort(PortRange::pair(41000, 41001));
  EXPECT_EQ(serializeTransport(specs),
            "RTP/AVP;unicast;x-vendor=1;client_port=40000-40001;x-flag;layers=2;append;"
            "destination;x-quoted=\"a;b,c\";server_port=41000-41001");
  // And what was serialised parses back to the same specs.
  std::vector<TransportSpec> again = parseOk(serializeTransport(specs));
  EXPECT_EQ(again, specs);
}

TEST(RtspTransport, CanonicalSpacingOnSerialize) {
  const std::vector<TransportSpec> specs =
      parseOk(" RTP/AVP ; unicast ;client_port = 5000-5001 ;;, RTP/AVP/TCP;interleaved=2-3 ,");
  EXPECT_EQ(serializeTransport(specs), "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=2-3");
}

TEST(RtspTransport, ParamNameCaseIsKept) {
  std::vector<TransportSpec> specs = parseOk("RTP/AVP;Unicast;Client_Port=5000-5001");
  EXPECT_TRUE(specs[0].isUnicast());
  specs[0].setClientPort(PortRange::single(7000));
  EXPECT_EQ(serializeTransport(specs), "RTP/AVP;Unicast;Client_Port=7000");
}

TEST(RtspTransport, SetAndRemove) {
  TransportSpec s = parseOk("RTP/AVP;unicast;client_port=1-2;x=1;x=2")[0];
  EXPECT_EQ(s.remove("x"), 2u);
  s.set("ssrc", "DEADBEEF");
  s.setInterleaved(PortRange::pair(2, 3));
  std::string out;
  serializeTransportSpec(s, out);
  EXPECT_EQ(out, "RTP/AVP;unicast;client_port=1-2;ssrc=DEADBEEF;interleaved=2-3");
  EXPECT_EQ(*s.ssrc(), 0xDEADBEEFu);
}

TEST(RtspTransport, OtherLowerTransports) {
  EXPECT_EQ(parseOk("RTP/AVP/SCTP")[0].lowerTransport(), LowerTransport::Other);
  EXPECT_EQ(parseOk("rtp/avp/tcp")[0].lowerTransport(), LowerTransport::Tcp);
  EXPECT_EQ(parseOk("RTP/SAVPF")[0].lowerTransport(), LowerTransport::Udp);
  EXPECT_EQ(parseOk("MP2T/H2221/UDP;unicast")[0].protocol, "MP2T/H2221/UDP");
}

TEST(RtspTransport, PortRanges) {
  PortRange r;
  EXPECT_TRUE(parsePortRange("0", 65535, r));
  EXPECT_EQ(r, PortRange::single(0));
  EXPECT_TRUE(parsePortRange("65534-65535", 65535, r));
  EXPECT_EQ(r, PortRange::pair(65534, 65535));
  EXPECT_TRUE(parsePortRange("7-7", 255, r));
  EXPECT_EQ(r, PortRange::pair(7, 7));
  EXPECT_FALSE(parsePortRange("65536", 65535, r));
  EXPECT_FALSE(parsePortRange("256", 255, r));
  EXPECT_FALSE(parsePortRange("5001-5000", 65535, r));
  EXPECT_FALSE(parsePortRange("5000-", 65535, r));
  EXPECT_FALSE(parsePortRange("-5000", 65535, r));
  EXPECT_FALSE(parsePortRange("5000-5001-5002", 65535, r));
  EXPECT_FALSE(parsePortRange("a-b", 65535, r));
  EXPECT_FALSE(parsePortRange("", 65535, r));
  std::string out;
  appendPortRange(PortRange::pair(1, 2), out);
  appendPortRange(PortRange::single(3), out);
  EXPECT_EQ(out, "1-23");
}

struct BadTransport {
  const char* name;
  std::string value;
};

void PrintTo(const BadTransport& c, std::ostream* os) { *os << c.name; }

class MalformedTransport : public ::testing::TestWithParam<BadTransport> {};

TEST_P(MalformedTransport, IsRefused) {
  std::vector<TransportSpec> specs(2);
  const char* reason = nullptr;
  EXPECT_FALSE(parseTransport(GetParam().value, specs, &reason));
  EXPECT_TRUE(specs.empty());
  ASSERT_NE(reason, nullptr);
  EXPECT_NE(std::string(reason), "");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedTransport,
    ::testing::Values(BadTransport{"Empty", ""}, BadTransport{"OnlyCommas", " , ,"},
                      BadTransport{"NoProfile", "RTP;unicast"}, BadTransport{"FourParts", "RTP/AVP/TCP/X"},
                      BadTransport{"EmptyPart", "RTP//TCP"}, BadTransport{"SpaceInId", "RTP/A VP"},
                      BadTransport{"BadClientPort", "RTP/AVP;client_port=abc"},
                      BadTransport{"ClientPortNoValue", "RTP/AVP;client_port"},
                      BadTransport{"ClientPortTooHigh", "RTP/AVP;client_port=70000-70001"},
                      BadTransport{"ClientPortBackwards", "RTP/AVP;client_port=5001-5000"},
                      BadTransport{"ServerPortSpace", "RTP/AVP;server_port=1 - 2"},
                      BadTransport{"InterleavedTooHigh", "RTP/AVP/TCP;interleaved=256-257"},
                      BadTransport{"SsrcNotHex", "RTP/AVP;ssrc=XYZ"},
                      BadTransport{"SsrcTooLong", "RTP/AVP;ssrc=123456789"},
                      BadTransport{"UnicastWithValue", "RTP/AVP;unicast=yes"},
                      BadTransport{"UnicastAndMulticast", "RTP/AVP;unicast;multicast"},
                      BadTransport{"RepeatedClientPort", "RTP/AVP;client_port=1-2;client_port=3-4"},
                      BadTransport{"EmptyMode", "RTP/AVP;mode="},
                      BadTransport{"BadParamName", "RTP/AVP;x y=1"}, BadTransport{"EmptyParamName", "RTP/AVP;=1"},
                      BadTransport{"UnterminatedQuote", "RTP/AVP;mode=\"PLAY"},
                      BadTransport{"ControlCharacter", "RTP/AVP;unicast\r\nX: y"},
                      BadTransport{"TooLong", "RTP/AVP;x=" + std::string(kMaxTransportLength, 'a')},
                      BadTransport{"TooManySpecs",
                                   [] {
                                     std::string s = "RTP/AVP";
                                     for (size_t i = 0; i < kMaxTransportSpecs; ++i) s += ",RTP/AVP";
                                     return s;
                                   }()},
                      BadTransport{"TooManyParams",
                                   [] {
                                     std::string s = "RTP/AVP";
                                     for (size_t i = 0; i <= kMaxTransportParams; ++i) s += ";x";
                                     return s;
                                   }()}),
    [](const ::testing::TestParamInfo<BadTransport>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
