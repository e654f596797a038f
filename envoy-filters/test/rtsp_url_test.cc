#include "rtsp/rtsp_url.h"

#include <gtest/gtest.h>

#include <string>

namespace mediamesh {
namespace rtsp {
namespace {

RtspUrl splitOk(std::string_view url, const UrlLimits& limits = UrlLimits{}) {
  RtspUrl out;
  const char* reason = nullptr;
  EXPECT_TRUE(splitUrl(url, out, limits, &reason)) << url << ": " << (reason ? reason : "");
  return out;
}

TEST(RtspUrl, HostPortPath) {
  const RtspUrl u = splitOk("rtsp://cam.example:8554/lobby/stream=0");
  EXPECT_FALSE(u.is_asterisk);
  EXPECT_EQ(u.scheme, UrlScheme::Rtsp);
  EXPECT_EQ(u.host, "cam.example");
  EXPECT_EQ(u.port, 8554);
  EXPECT_TRUE(u.has_port);
  EXPECT_EQ(u.path, "/lobby/stream=0");
  EXPECT_FALSE(u.has_query);
  EXPECT_EQ(u.userinfo, "");
}

TEST(RtspUrl, DefaultPortsAndEmptyPath) {
  RtspUrl u = splitOk("rtsp://10.0.0.7");
  EXPECT_EQ(u.port, kDefaultRtspPort);
  EXPECT_FALSE(u.has_port);
  EXPECT_EQ(u.path, "/");
  u = splitOk("RTSPS://cam.example:/x");
  EXPECT_EQ(u.scheme, UrlScheme::Rtsps);
  EXPECT_EQ(u.port, kDefaultRtspsPort);
  EXPECT_FALSE(u.has_port);
  EXPECT_EQ(u.path, "/x");
}

TEST(RtspUrl, QueryFragmentAndUserinfo) {
  const RtspUrl u = splitOk("rtsp://admin:p@ss@cam.example:554/Streaming/Channels/101?transportmode=unicast#frag");
  EXPECT_EQ(u.userinfo, "admin:p@ss");
  EXPECT_EQ(u.host, "cam.example");
  EXPECT_EQ(u.path, "/Streaming/Channels/101");
  EXPECT_TRUE(u.has_query);
  EXPECT_EQ(u.query, "transportmode=unicast");
  const RtspUrl q = splitOk("rtsp://h?x=1");
  EXPECT_EQ(q.path, "/");
  EXPECT_EQ(q.query, "x=1");
  const RtspUrl f = splitOk("rtsp://h/p#a?b");
  EXPECT_EQ(f.path, "/p");
  EXPECT_FALSE(f.has_query);
}

TEST(RtspUrl, Ipv6) {
  const RtspUrl u = splitOk("rtsp://[2001:db8::1]:8554/cam");
  EXPECT_TRUE(u.is_ipv6);
  EXPECT_EQ(u.host, "2001:db8::1");
  EXPECT_EQ(u.port, 8554);
  EXPECT_EQ(splitOk("rtsp://[::ffff:192.0.2.1]/").host, "::ffff:192.0.2.1");
}

TEST(RtspUrl, Asterisk) {
  const RtspUrl u = splitOk("*");
  EXPECT_TRUE(u.is_asterisk);
  EXPECT_EQ(u.host, "");
  EXPECT_EQ(u.path, "");
}

TEST(RtspUrl, PathIsNotDecodedOrNormalised) {
  EXPECT_EQ(splitOk("rtsp://h/a%20b/../C").path, "/a%20b/../C");
  EXPECT_EQ(splitOk("rtsp://h%2Dx/").host, "h%2Dx");
}

TEST(RtspUrl, Limits) {
  UrlLimits limits;
  limits.max_url = 30;
  limits.max_host = 5;
  limits.max_path = 6;
  RtspUrl u;
  EXPECT_TRUE(splitUrl("rtsp://abcde/12345", u, limits));
  EXPECT_FALSE(splitUrl("rtsp://abcdef/1", u, limits));
  EXPECT_TRUE(splitUrl("rtsp://a/12345", u, limits));
  EXPECT_FALSE(splitUrl("rtsp://a/123456", u, limits));
  EXPECT_FALSE(splitUrl("rtsp://a/1?" + std::string(30, 'q'), u, limits));
  EXPECT_FALSE(u.is_asterisk);
  EXPECT_EQ(u.host, "");
}

TEST(RtspUrl, Refused) {
  for (const char* bad : {"", "/relative/path", "http://h/x", "rtsp:/h/x", "rtspu://h/x", "rtsp://", "rtsp:///x",
                          "rtsp://h:0/", "rtsp://h:65536/", "rtsp://h:12a/", "rtsp://h:-1/", "rtsp://[::1/x",
                          "rtsp://[::1]x/", "rtsp://[zz]/", "rtsp://h h/", "rtsp://h\x01/", "rtsp://h/\xff",
                          "rtsp://h%zz/", "rtsp://h%2/", "rtsp://ho<st/", "**"}) {
    RtspUrl u;
    const char* reason = nullptr;
    EXPECT_FALSE(splitUrl(bad, u, UrlLimits{}, &reason)) << bad;
    EXPECT_NE(reason, nullptr) << bad;
  }
}

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
