#include "filter_config.h"

#include <string>

#include "gtest/gtest.h"

namespace mediamesh {
namespace rtp_filter {
namespace {

TEST(FilterConfigTest, FullConfig) {
  const ParseResult r = parseFilterConfig(
      R"({"route":"media.feed","stat_prefix":"mediamesh","clock_rates":{"111":48000,"0":16000},)"
      R"("max_sources":32,"source_timeout_ms":5000,"gauge_interval_ms":0})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ("media.feed", r.settings.route);
  EXPECT_EQ("mediamesh", r.settings.stat_prefix);
  EXPECT_EQ(48000u, r.settings.tracker.clock_rates.hz[111]);
  EXPECT_EQ(16000u, r.settings.tracker.clock_rates.hz[0]);
  EXPECT_EQ(rtp::ClockRateMap::defaults().hz[8], r.settings.tracker.clock_rates.hz[8]);
  EXPECT_EQ(32u, r.settings.tracker.max_sources);
  EXPECT_EQ(5'000'000'000ull, r.settings.tracker.source_timeout_ns);
  EXPECT_EQ(0u, r.settings.gauge_interval_ns);
}

TEST(FilterConfigTest, DefaultsWithRouteOnly) {
  const ParseResult r = parseFilterConfig(R"({"route":"cam-1_main"})");
  ASSERT_TRUE(r.ok) << r.error;
  const rtp::TrackerConfig defaults;
  EXPECT_EQ(defaults.max_sources, r.settings.tracker.max_sources);
  EXPECT_EQ(defaults.source_timeout_ns, r.settings.tracker.source_timeout_ns);
  EXPECT_TRUE(r.settings.stat_prefix.empty());
  EXPECT_EQ(50'000'000ull, r.settings.gauge_interval_ns);
}

struct BadCase {
  const char* name;
  std::string json;
  const char* error_part;
};

class FilterConfigRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(FilterConfigRejectTest, Rejects) {
  const ParseResult r = parseFilterConfig(GetParam().json);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string::npos, r.error.find(GetParam().error_part)) << r.error;
}

INSTANTIATE_TEST_SUITE_P(
    Table, FilterConfigRejectTest,
    ::testing::Values(
        BadCase{"empty", "", "not valid JSON"},
        BadCase{"syntax", R"({"route":)", "not valid JSON"},
        BadCase{"trailing_garbage", R"({"route":"a"} x)", "not valid JSON"},
        BadCase{"not_object", R"(["route"])", "must be a JSON object"},
        BadCase{"missing_route", R"({"max_sources":3})", "route is required"},
        BadCase{"route_number", R"({"route":5})", "route must be"},
        BadCase{"route_empty", R"({"route":""})", "route must be"},
        BadCase{"route_slash", R"({"route":"a/b"})", "route must be"},
        BadCase{"route_space", R"({"route":"a b"})", "route must be"},
        BadCase{"route_empty_segment", R"({"route":"a..b"})", "route must be"},
        BadCase{"route_leading_dot", R"({"route":".a"})", "route must be"},
        BadCase{"route_too_long", "{\"route\":\"" + std::string(129, 'a') + "\"}", "route must be"},
        BadCase{"unknown_key", R"({"route":"a","routes":"b"})", "unknown filter_config key"},
        BadCase{"stat_prefix_bad", R"({"route":"a","stat_prefix":"x y"})", "stat_prefix"},
        BadCase{"clock_rates_array", R"({"route":"a","clock_rates":[1]})", "clock_rates must"},
        BadCase{"clock_rates_pt_128", R"({"route":"a","clock_rates":{"128":90000}})", "payload type"},
        BadCase{"clock_rates_pt_sign", R"({"route":"a","clock_rates":{"-1":90000}})", "payload type"},
        BadCase{"clock_rates_pt_lead0", R"({"route":"a","clock_rates":{"011":90000}})", "payload type"},
        BadCase{"clock_rates_zero_hz", R"({"route":"a","clock_rates":{"111":0}})", "must be an integer"},
        BadCase{"clock_rates_float", R"({"route":"a","clock_rates":{"111":4.8e4}})", "must be an integer"},
        BadCase{"clock_rates_huge", R"({"route":"a","clock_rates":{"111":4294967296}})", "must be an integer"},
        BadCase{"max_sources_zero", R"({"route":"a","max_sources":0})", "max_sources"},
        BadCase{"max_sources_negative", R"({"route":"a","max_sources":-4})", "max_sources"},
        BadCase{"max_sources_big", R"({"route":"a","max_sources":4097})", "max_sources"},
        BadCase{"max_sources_string", R"({"route":"a","max_sources":"64"})", "max_sources"},
        BadCase{"timeout_zero", R"({"route":"a","source_timeout_ms":0})", "source_timeout_ms"},
        BadCase{"gauge_interval_big", R"({"route":"a","gauge_interval_ms":60001})", "gauge_interval_ms"},
        BadCase{"gauge_interval_negative", R"({"route":"a","gauge_interval_ms":-1})", "gauge_interval_ms"},
        BadCase{"bad_utf8", "{\"route\":\"a\xff\"}", "not valid JSON"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rtp_filter
}  // namespace mediamesh
