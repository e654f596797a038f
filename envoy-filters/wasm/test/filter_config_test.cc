// The plugin configuration: what the control plane writes parses into the
// match table, and anything else is refused with the field and the reason.
#include <gtest/gtest.h>

#include <string>

#include "filter_config.h"

namespace mediamesh {
namespace rtsp_filter {
namespace {

const char* kGood = R"({
  "route": "media.cameras",
  "hostnames": ["Cameras.Example.com", "*.cams.example.com"],
  "matches": [
    {"path": {"type": "Exact", "value": "/cam1"}, "rule": 0, "cluster": "rtsp~media~cameras~554~0"},
    {"path": {"type": "PathPrefix", "value": "/lobby/"}, "rule": 1, "cluster": "rtsp~media~cameras~554~1", "transport": "TCP"},
    {"path": {"type": "RegularExpression", "value": "/cam[0-9]+"}, "rule": 2, "cluster": "rtsp~media~cameras~554~2", "transport": "UDP"},
    {"path": {"value": "/"}, "rule": 3, "cluster": "rtsp~media~cameras~554~3"}
  ],
  "reject_cluster": "mediamesh-rtsp-reject",
  "reject_close_ms": 100,
  "first_request_timeout_ms": 5000,
  "limits": {"max_header_bytes": 8192, "max_headers": 32}
})";

TEST(FilterConfig, ParsesTheControlPlanesShape) {
  std::string error;
  auto config = parseFilterConfig(kGood, error);
  ASSERT_NE(config, nullptr) << error;
  EXPECT_EQ(config->route, "media.cameras");
  ASSERT_EQ(config->hostnames.size(), 2u);
  EXPECT_EQ(config->hostnames[0], "cameras.example.com");
  ASSERT_EQ(config->matches.size(), 4u);
  EXPECT_EQ(config->matches[0].type, PathMatchType::Exact);
  EXPECT_EQ(config->matches[1].transport, Transport::Tcp);
  EXPECT_EQ(config->matches[2].transport, Transport::Udp);
  EXPECT_NE(config->matches[2].regex, nullptr);
  EXPECT_EQ(config->matches[3].type, PathMatchType::PathPrefix);
  EXPECT_EQ(config->reject_cluster, "mediamesh-rtsp-reject");
  EXPECT_EQ(config->reject_close_ms, 100u);
  EXPECT_EQ(config->first_request_timeout_ms, 5000u);
  EXPECT_EQ(config->limits.max_header_bytes, 8192u);
  EXPECT_EQ(config->limits.max_headers, 32u);
  EXPECT_EQ(config->limits.max_start_line, rtsp::ParserLimits{}.max_start_line);
}

TEST(FilterConfig, MatchesInOrderWithHostnames) {
  std::string error;
  auto config = parseFilterConfig(kGood, error);
  ASSERT_NE(config, nullptr) << error;
  auto rule = [&](std::string_view host, std::string_view path) -> int {
    const RouteMatch* m = config->match(host, path, false);
    return m == nullptr ? -1 : static_cast<int>(m->rule);
  };
  EXPECT_EQ(rule("cameras.example.com", "/cam1"), 0);
  EXPECT_EQ(rule("CAMERAS.example.COM", "/cam1"), 0);
  EXPECT_EQ(rule("a.cams.example.com", "/cam2"), 2);
  EXPECT_EQ(rule("a.b.cams.example.com", "/lobby"), 1);
  EXPECT_EQ(rule("a.b.cams.example.com", "/lobby/door/stream=0"), 1);
  EXPECT_EQ(rule("cameras.example.com", "/lobbyist"), 3);
  EXPECT_EQ(rule("cameras.example.com", "/cam1/stream=0"), 3);
  EXPECT_EQ(rule("cams.example.com", "/cam1"), -1) << "a wildcard needs one more label";
  EXPECT_EQ(rule("other.example.com", "/cam1"), -1);
  ASSERT_NE(config->match("", "", true), nullptr);
  EXPECT_EQ(config->match("", "", true)->rule, 3u) << "OPTIONS * goes to the catch-all";
}

TEST(FilterConfig, WithoutCatchAllAsteriskHasNoRoute) {
  std::string error;
  auto config = parseFilterConfig(
      R"({"route":"a.b","matches":[{"path":{"value":"/x"},"cluster":"c"}],"reject_cluster":"r"})", error);
  ASSERT_NE(config, nullptr) << error;
  EXPECT_EQ(config->match("", "", true), nullptr);
  EXPECT_NE(config->match("any.host", "/x/y", false), nullptr) << "no hostnames: any host";
}

TEST(FilterConfig, HostnameMatching) {
  EXPECT_TRUE(hostnameMatches("cam.example.com", "CAM.example.com"));
  EXPECT_TRUE(hostnameMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(hostnameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(hostnameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(hostnameMatches("*.example.com", "aexample.com"));
  EXPECT_FALSE(hostnameMatches("cam.example.com", "cam.example.com.evil"));
}

struct Refusal {
  const char* json;
  const char* field;
};

class FilterConfigRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(FilterConfigRefusal, NamesTheField) {
  std::string error;
  EXPECT_EQ(parseFilterConfig(GetParam().json, error), nullptr);
  EXPECT_NE(error.find(GetParam().field), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Table, FilterConfigRefusal,
    ::testing::Values(
        Refusal{"", "not valid JSON"}, Refusal{"[]", "JSON object"}, Refusal{"{\"matches\":[],\"reject_cluster\":\"r\"}", "route"},
        Refusal{R"({"route":"a..b","matches":[],"reject_cluster":"r"})", "route"},
        Refusal{R"({"route":"a b","matches":[],"reject_cluster":"r"})", "route"},
        Refusal{R"({"route":"a","matches":[],"reject_cluster":"r","extra":1})", "extra: unknown key"},
        Refusal{R"({"route":"a","matches":{},"reject_cluster":"r"})", "matches"},
        Refusal{R"({"route":"a","matches":[],"reject_cluster":""})", "reject_cluster"},
        Refusal{R"({"route":"a","matches":[]})", "reject_cluster"},
        Refusal{R"({"route":"a","hostnames":"x","matches":[],"reject_cluster":"r"})", "hostnames"},
        Refusal{R"({"route":"a","matches":[{"path":{"value":"x"},"cluster":"c"}],"reject_cluster":"r"})", "matches[0].path.value"},
        Refusal{R"({"route":"a","matches":[{"path":{"type":"Regex","value":"/x"},"cluster":"c"}],"reject_cluster":"r"})", "matches[0].path.type"},
        Refusal{R"({"route":"a","matches":[{"path":{"type":"RegularExpression","value":"(?i)x"},"cluster":"c"}],"reject_cluster":"r"})", "unsupported regular expression"},
        Refusal{R"({"route":"a","matches":[{"path":{"value":"/x"}}],"reject_cluster":"r"})", "matches[0].cluster"},
        Refusal{R"({"route":"a","matches":[{"path":{"value":"/x"},"cluster":"c d"}],"reject_cluster":"r"})", "matches[0].cluster"},
        Refusal{R"({"route":"a","matches":[{"path":{"value":"/x"},"cluster":"c","transport":"SCTP"}],"reject_cluster":"r"})", "matches[0].transport"},
        Refusal{R"({"route":"a","matches":[{"path":{"value":"/x"},"cluster":"c","weight":1}],"reject_cluster":"r"})", "matches[0].weight"},
        Refusal{R"({"route":"a","matches":[],"reject_cluster":"r","reject_close_ms":-1})", "reject_close_ms"},
        Refusal{R"({"route":"a","matches":[],"reject_cluster":"r","limits":{"max_headers":0}})", "limits.max_headers"},
        Refusal{R"({"route":"a","matches":[],"reject_cluster":"r","limits":{"max_lines":3}})", "limits.max_lines"}));

}  // namespace
}  // namespace rtsp_filter
}  // namespace mediamesh
