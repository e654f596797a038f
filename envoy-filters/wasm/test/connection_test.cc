// One connection through the filter, driven as Envoy drives it (fake_host.h):
// routing on the first request however it is cut, refusals echoed with the
// client's CSeq, malformed bytes closing the connection, and the stats a
// session leaves behind.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connection.h"
#include "counting_allocator.h"
#include "connection_harness.h"
#include "rtsp_test_util.h"

namespace mediamesh {
namespace rtsp_filter {
namespace {

using testing::FakeHost;

const char* kConfig = R"({
  "route": "media.cameras",
  "hostnames": ["cameras.media", "127.0.0.1"],
  "matches": [
    {"path": {"type": "PathPrefix", "value": "/cam1"}, "rule": 0, "cluster": "rtsp~media~cameras~554~0"},
    {"path": {"type": "RegularExpression", "value": "/cam[2-9]"}, "rule": 1, "cluster": "rtsp~media~cameras~554~1"}
  ],
  "reject_cluster": "mediamesh-rtsp-reject",
  "reject_close_ms": 100,
  "first_request_timeout_ms": 2000,
  "limits": {"max_header_bytes": 2048}
})";


class ConnectionTest : public ::testing::Test, protected testing::ConnectionHarness {
 protected:
  void SetUp() override { start(kConfig); }

  // The refusal went to the reject cluster: play the echo back through the filter.
  void echo() { driver_->server(toServer()); }
};

const std::string kDescribe = "DESCRIBE rtsp://cameras.media:554/cam1 RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n";

TEST_F(ConnectionTest, RoutesTheFirstRequestByPath) {
  EXPECT_EQ(driver_->client(kDescribe), Verdict::Continue);
  EXPECT_EQ(connection_->state(), RtspConnection::State::Routed);
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.cluster"], "rtsp~media~cameras~554~0");
  EXPECT_EQ(toServer(), kDescribe);
  EXPECT_EQ(value("requests.DESCRIBE"), 1);
  EXPECT_EQ(value("bytes.client_to_server"), static_cast<int64_t>(kDescribe.size()));
  EXPECT_EQ(value("connections_total"), 1);
  EXPECT_EQ(value("connections_active"), 1);
  EXPECT_EQ(host_.close_calls, 0);
}

TEST_F(ConnectionTest, RegularExpressionRule) {
  EXPECT_EQ(driver_->client("OPTIONS rtsp://127.0.0.1/cam7 RTSP/1.0\r\nCSeq: 1\r\n\r\n"), Verdict::Continue);
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.cluster"], "rtsp~media~cameras~554~1");
}

TEST_F(ConnectionTest, HoldsPartialReadsAndFeedsEachByteOnce) {
  for (size_t i = 0; i + 1 < kDescribe.size(); ++i) {
    ASSERT_EQ(driver_->client(kDescribe.substr(i, 1)), Verdict::Pause) << "byte " << i;
  }
  EXPECT_TRUE(host_.filter_state.empty());
  EXPECT_EQ(driver_->client(kDescribe.substr(kDescribe.size() - 1)), Verdict::Continue);
  EXPECT_EQ(toServer(), kDescribe);
  EXPECT_EQ(value("requests.DESCRIBE"), 1);
  EXPECT_EQ(value("bytes.client_to_server"), static_cast<int64_t>(kDescribe.size()));
  EXPECT_EQ(value("parse_errors"), 0);
  // The session goes on: later bytes are new bytes.
  EXPECT_EQ(driver_->client("OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n"), Verdict::Continue);
  EXPECT_EQ(value("requests.OPTIONS"), 1);
  EXPECT_EQ(value("parse_errors"), 0);
}

TEST_F(ConnectionTest, PipelinedRequestsAllCountAndTheFirstRoutes) {
  const std::string two = "OPTIONS rtsp://cameras.media/cam2 RTSP/1.0\r\nCSeq: 1\r\n\r\n" + kDescribe;
  EXPECT_EQ(driver_->client(two), Verdict::Continue);
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.cluster"], "rtsp~media~cameras~554~1");
  EXPECT_EQ(value("requests.OPTIONS"), 1);
  EXPECT_EQ(value("requests.DESCRIBE"), 1);
}

TEST_F(ConnectionTest, NoRouteAnswers404WithTheCSeqThenCloses) {
  EXPECT_EQ(driver_->client("DESCRIBE rtsp://cameras.media/kitchen RTSP/1.0\r\nCSeq: 41\r\n\r\n"), Verdict::Continue);
  EXPECT_EQ(connection_->state(), RtspConnection::State::Refused);
  EXPECT_EQ(toServer(), "RTSP/1.0 404 Not Found\r\nCSeq: 41\r\n\r\n");
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.cluster"], "mediamesh-rtsp-reject");
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.per_connection_idle_timeout_ms"], "100");
  echo();
  EXPECT_EQ(toClient(), "RTSP/1.0 404 Not Found\r\nCSeq: 41\r\n\r\n");
  EXPECT_EQ(value("no_route"), 1);
  EXPECT_EQ(value("responses.4xx"), 0) << "the filter's own answer is not a server response";
  // Whatever the client sends next never reaches anything.
  driver_->client("PLAY rtsp://cameras.media/kitchen RTSP/1.0\r\nCSeq: 42\r\n\r\n");
  EXPECT_EQ(toServer(), "RTSP/1.0 404 Not Found\r\nCSeq: 41\r\n\r\n");
  EXPECT_EQ(host_.close_calls, 1);
}

TEST_F(ConnectionTest, UnknownHostIsNoRoute) {
  driver_->client("DESCRIBE rtsp://elsewhere/cam1 RTSP/1.0\r\nCSeq: 5\r\n\r\n");
  EXPECT_EQ(toServer(), "RTSP/1.0 404 Not Found\r\nCSeq: 5\r\n\r\n");
}

TEST_F(ConnectionTest, AnswersInTheClientsVersion) {
  driver_->client("DESCRIBE rtsp://cameras.media/none RTSP/2.0\r\nCSeq: 5\r\n\r\n");
  EXPECT_EQ(toServer(), "RTSP/2.0 404 Not Found\r\nCSeq: 5\r\n\r\n");
}

struct Malformed {
  const char* name;
  std::string bytes;
  const char* answer;
};

class MalformedFirstRequest : public ConnectionTest, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedFirstRequest, Answers400AndCounts) {
  EXPECT_EQ(driver_->client(GetParam().bytes), Verdict::Continue);
  EXPECT_EQ(connection_->state(), RtspConnection::State::Refused);
  EXPECT_EQ(toServer(), GetParam().answer);
  EXPECT_EQ(host_.filter_state["envoy.tcp_proxy.cluster"], "mediamesh-rtsp-reject");
  EXPECT_EQ(value("bad_requests"), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MalformedFirstRequest,
    ::testing::Values(
        Malformed{"garbage", "\x16\x03\x01\x02\x00garbage\r\n\r\n", "RTSP/1.0 400 Bad Request\r\n\r\n"},
        Malformed{"huge_header", "DESCRIBE rtsp://cameras.media/cam1 RTSP/1.0\r\nCSeq: 3\r\nX: " + std::string(3000, 'x') + "\r\n\r\n",
                  "RTSP/1.0 400 Bad Request\r\nCSeq: 3\r\n\r\n"},
        Malformed{"bad_content_length", "ANNOUNCE rtsp://cameras.media/cam1 RTSP/1.0\r\nCSeq: 4\r\nContent-Length: -5\r\n\r\n",
                  "RTSP/1.0 400 Bad Request\r\nCSeq: 4\r\n\r\n"},
        Malformed{"interleaved_first", std::string("$\x00\x00\x04" "abcd", 8), "RTSP/1.0 400 Bad Request\r\n\r\n"},
        Malformed{"response_first", "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", "RTSP/1.0 400 Bad Request\r\n\r\n"},
        Malformed{"bad_url", "DESCRIBE http://cameras.media/cam1 RTSP/1.0\r\nCSeq: 6\r\n\r\n",
                  "RTSP/1.0 400 Bad Request\r\nCSeq: 6\r\n\r\n"},
        Malformed{"version", "DESCRIBE rtsp://cameras.media/cam1 RTSP/3.0\r\nCSeq: 7\r\n\r\n",
                  "RTSP/1.0 505 RTSP Version Not Supported\r\n\r\n"},
        Malformed{"good_then_garbage", kDescribe + "\x01\x02garbage\r\n\r\n", "RTSP/1.0 400 Bad Request\r\nCSeq: 2\r\n\r\n"}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return std::string(info.param.name); });

TEST_F(ConnectionTest, MalformedBytesAfterRoutingCloseTheClient) {
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
  EXPECT_EQ(driver_->client(std::string("$\x00\x00\x00", 4)), Verdict::Pause) << "a zero-length interleaved frame";
  EXPECT_EQ(host_.close_calls, 1);
  EXPECT_EQ(connection_->state(), RtspConnection::State::Closed);
  EXPECT_EQ(value("parse_errors"), 1);
}

TEST_F(ConnectionTest, MalformedServerBytesCloseTheClient) {
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
  EXPECT_EQ(driver_->server("HTTP/1.1 200 OK\r\n\r\n"), Verdict::Pause);
  EXPECT_EQ(host_.close_calls, 1);
  EXPECT_EQ(value("parse_errors"), 1);
}

TEST_F(ConnectionTest, ClientGivingUpBeforeARequestIsClosed) {
  EXPECT_EQ(driver_->client("DESCRIBE rtsp://came", true), Verdict::Pause);
  EXPECT_EQ(host_.close_calls, 1);
  EXPECT_TRUE(host_.filter_state.empty());
}

TEST_F(ConnectionTest, FirstRequestTimeoutCloses) {
  driver_->client("DESCRIBE rtsp://came");
  connection_->onFirstRequestTimeout();
  EXPECT_EQ(host_.close_calls, 1);
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);  // too late: dropped
  EXPECT_EQ(toServer(), "");
}

TEST_F(ConnectionTest, SessionsSetupLatencyAndResponses) {
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n");
  driver_->client("SETUP rtsp://cameras.media/cam1/stream=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
  host_.now_ns += 2'500'000;  // 2.5 ms later
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc123;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
  EXPECT_EQ(value("sessions_total"), 1);
  EXPECT_EQ(value("sessions_active"), 1);
  const FakeHost::Metric* latency = host_.find(stat("setup_latency_us"));
  ASSERT_NE(latency, nullptr);
  ASSERT_EQ(latency->records.size(), 1u);
  EXPECT_EQ(latency->records[0], 2500u);
  // A second SETUP in the same session is not a second session.
  driver_->client("SETUP rtsp://cameras.media/cam1/stream=1 RTSP/1.0\r\nCSeq: 4\r\nSession: abc123\r\n\r\n");
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: abc123\r\n\r\n");
  EXPECT_EQ(value("sessions_total"), 1);
  driver_->client("PLAY rtsp://cameras.media/cam1 RTSP/1.0\r\nCSeq: 5\r\nSession: abc123\r\n\r\n");
  driver_->server("RTSP/1.0 454 Session Not Found\r\nCSeq: 5\r\n\r\n");
  driver_->client("TEARDOWN rtsp://cameras.media/cam1 RTSP/1.0\r\nCSeq: 6\r\nSession: abc123\r\n\r\n");
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 6\r\n\r\n");
  EXPECT_EQ(value("sessions_active"), 0);
  EXPECT_EQ(value("responses.2xx"), 4);
  EXPECT_EQ(value("responses.4xx"), 1);
  EXPECT_EQ(value("requests.SETUP"), 2);
  EXPECT_EQ(value("requests.TEARDOWN"), 1);
  // A server's own request (a keep-alive ping) is counted apart.
  driver_->server("GET_PARAMETER rtsp://cameras.media/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n");
  EXPECT_EQ(value("requests_from_server"), 1);
}

TEST_F(ConnectionTest, CloseTakesOpenSessionsAndTheConnectionOutOfTheGauges) {
  ASSERT_EQ(driver_->client("SETUP rtsp://cameras.media/cam1/stream=0 RTSP/1.0\r\nCSeq: 1\r\n\r\n"), Verdict::Continue);
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: s1\r\n\r\n");
  EXPECT_EQ(value("sessions_active"), 1);
  connection_->finish();
  connection_->finish();
  EXPECT_EQ(value("sessions_active"), 0);
  EXPECT_EQ(value("connections_active"), 0);
}

TEST_F(ConnectionTest, InterleavedRtpThroughTheTracker) {
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
  std::string media;
  for (uint16_t seq = 100; seq < 200; ++seq) {
    if (seq % 10 == 0) media += rtsp::testing::frame(1, rtsp::testing::rtcpReceiverReport());
    if (seq == 150) continue;  // lost
    media += rtsp::testing::frame(0, rtsp::testing::rtpPacket(seq, seq * 3000u, 200));
  }
  // Cut at an awkward size so frames straddle callbacks.
  for (size_t pos = 0; pos < media.size(); pos += 777) {
    ASSERT_EQ(driver_->server(std::string_view(media).substr(pos, 777)), Verdict::Continue);
  }
  EXPECT_EQ(toClient(), media);
  connection_->finish();
  EXPECT_EQ(value("rtp.packets"), 99);
  EXPECT_EQ(value("rtp.lost"), 1);
  EXPECT_EQ(value("rtp.out_of_order"), 0);
  EXPECT_EQ(value("rtp.rtcp_packets"), 10);
  EXPECT_EQ(value("parse_errors"), 0);
}

TEST_F(ConnectionTest, SteadyInterleavedMediaDoesNotAllocate) {
  ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
  std::string media;
  for (uint16_t seq = 0; seq < 400; ++seq) {
    media += rtsp::testing::frame(static_cast<uint8_t>(seq % 2 == 0 ? 0 : 1),
                                  rtsp::testing::rtpPacket(seq, seq * 3000u, 100 + seq % 1200));
  }
  auto play = [&]() {
    for (size_t pos = 0; pos < media.size(); pos += 1448) {
      // The fake host's own buffers are reserved up front so only the filter is counted.
      host_.held[1].reserve(1 << 16);
      host_.forwarded[1].clear();
      host_.forwarded[1].reserve(1 << 20);
      ASSERT_EQ(driver_->server(std::string_view(media).substr(pos, 1448)), Verdict::Continue);
    }
  };
  play();  // warm-up: tracker made, parser buffers grown
  host_.forwarded[1].reserve(1 << 20);
  mediamesh::testing::AllocationCounter::start();
  play();
  EXPECT_EQ(mediamesh::testing::AllocationCounter::stop(), 0u);
}

}  // namespace
}  // namespace rtsp_filter
}  // namespace mediamesh
