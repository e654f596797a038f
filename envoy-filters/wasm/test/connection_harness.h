// One RtspConnection wired to a FakeHost and driven as Envoy drives it, for
// test fixtures: parse a filter configuration, define its route's stats,
// then read what went each way and the route's stats by short name.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connection.h"
#include "fake_host.h"
#include "filter_config.h"

namespace mediamesh {
namespace rtsp_filter {
namespace testing {

class ConnectionHarness {
 protected:
  // A fresh connection under this configuration (JSON, as the control plane writes it).
  void start(const char* json) {
    std::string error;
    config_ = parseFilterConfig(json, error);
    ASSERT_NE(config_, nullptr) << error;
    ASSERT_TRUE(stats_.define(host_, config_->route));
    connection_ = std::make_unique<RtspConnection>(*config_, stats_, host_);
    driver_ = std::make_unique<Driver>(host_, *connection_);
  }

  // The full name of a stat of the route, e.g. "requests.DESCRIBE".
  std::string stat(std::string_view name) const { return "mediamesh.rtsp." + config_->route + "." + std::string(name); }
  int64_t value(std::string_view name) const { return host_.stat(stat(name)); }
  const std::string& toServer() const { return host_.forwarded[0]; }
  const std::string& toClient() const { return host_.forwarded[1]; }

  FakeHost host_;
  std::unique_ptr<FilterConfig> config_;
  RouteStats stats_;
  std::unique_ptr<RtspConnection> connection_;
  std::unique_ptr<Driver> driver_;
};

}  // namespace testing
}  // namespace rtsp_filter
}  // namespace mediamesh
