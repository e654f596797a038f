// The hand-encoded SetEnvoyFilterStateArguments, byte for byte as protobuf
// encodes envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments.
#include <gtest/gtest.h>

#include <string>

#include "filter_state_args.h"

namespace mediamesh {
namespace rtsp_filter {
namespace {

TEST(FilterStateArgs, EncodesPathValueAndSpan) {
  const std::string bytes =
      encodeSetFilterStateArguments("envoy.tcp_proxy.cluster", "c1", FilterStateLifeSpan::DownstreamConnection);
  const std::string expected = std::string("\x0a\x17", 2) + "envoy.tcp_proxy.cluster" + std::string("\x12\x02", 2) +
                               "c1" + std::string("\x18\x02", 2);
  EXPECT_EQ(bytes, expected);
}

TEST(FilterStateArgs, LeavesTheDefaultSpanOut) {
  EXPECT_EQ(encodeSetFilterStateArguments("k", "", FilterStateLifeSpan::FilterChain),
            std::string("\x0a\x01k\x12\x00", 5));
}

TEST(FilterStateArgs, UsesMultiByteLengths) {
  const std::string value(300, 'v');
  const std::string bytes = encodeSetFilterStateArguments("k", value, FilterStateLifeSpan::FilterChain);
  ASSERT_GE(bytes.size(), 6u);
  EXPECT_EQ(bytes.substr(3, 3), std::string("\x12\xac\x02", 3));  // 300 = 0b10_0101100
  EXPECT_EQ(bytes.size(), 3 + 3 + value.size());
}

}  // namespace
}  // namespace rtsp_filter
}  // namespace mediamesh
