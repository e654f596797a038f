// UDP transport through the filter, driven as Envoy drives it: a SETUP held
// while the control plane's relay API answers, the Transport of the SETUP and
// of its reply rewritten around the relays, 503/461 answers riding on
// `OPTIONS *`, and the relays ended with TEARDOWN or the connection. Also
// the relay API's bodies and paths (relay_calls.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connection.h"
#include "connection_harness.h"
#include "relay_calls.h"

namespace mediamesh {
namespace rtsp_filter {
namespace {


const char* kConfig = R"({
  "route": "media.cameras",
  "matches": [
    {"path": {"type": "PathPrefix", "value": "/tcp-only"}, "rule": 1, "cluster": "c1", "transport": "TCP"},
    {"path": {"type": "PathPrefix", "value": "/"}, "rule": 0, "cluster": "c0"}
  ],
  "reject_cluster": "mediamesh-rtsp-reject",
  "relays": {"cluster": "mediamesh-extensions", "timeout_ms": 3000, "source": "local"}
})";

const std::string kDescribe = "DESCRIBE rtsp://cams/cam1 RTSP/1.0\r\nCSeq: 2\r\n\r\n";
const std::string kSetup =
    "SETUP rtsp://cams/cam1/stream=0 RTSP/1.0\r\nCSeq: 3\r\n"
    "Transport: RTP/AVP/UDP;unicast;client_port=5000-5001\r\nUser-Agent: test\r\n\r\n";
const std::string kGrant = R"({"toClient":{"rtp":40000,"rtcp":40001},"toServer":{"rtp":40002,"rtcp":40003},"timeoutMs":60000})";
const std::string kReply =
    "RTSP/1.0 200 OK\r\nCSeq: 3\r\n"
    "Transport: RTP/AVP/UDP;unicast;client_port=40000-40001;server_port=7000-7001;ssrc=1234ABCD;mode=\"PLAY\"\r\n"
    "Session: abc123;timeout=60\r\n\r\n";

class RelayTest : public ::testing::Test, protected testing::ConnectionHarness {
 protected:
  void SetUp() override { start(kConfig); }

  // DESCRIBE, then the SETUP, which the filter holds for its relays.
  void describeAndSetup() {
    ASSERT_EQ(driver_->client(kDescribe), Verdict::Continue);
    ASSERT_EQ(driver_->server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"), Verdict::Continue);
    ASSERT_EQ(driver_->client(kSetup), Verdict::Pause);
  }
};

TEST_F(RelayTest, HoldsTheSetupUntilTheRelaysAreGrantedThenRewritesBothWays) {
  describeAndSetup();
  EXPECT_EQ(toServer(), kDescribe) << "the SETUP waits";
  ASSERT_EQ(host_.calls.size(), 1u);
  EXPECT_EQ(host_.calls[0].cluster, "mediamesh-extensions");
  EXPECT_EQ(host_.calls[0].method, "POST");
  EXPECT_EQ(host_.calls[0].path, "/relays/v1/sessions");
  EXPECT_EQ(host_.calls[0].timeout_ms, 3000u);
  EXPECT_EQ(host_.calls[0].body,
            R"({"client":{"address":"10.0.0.7","rtcp":5001,"rtp":5000},"node":"cam-client.media","session":"42-3"})");

  host_.now_ns += 4'000'000;
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  EXPECT_EQ(host_.resumes, 1);
  EXPECT_EQ(toServer(), kDescribe +
                            "SETUP rtsp://cams/cam1/stream=0 RTSP/1.0\r\nCSeq: 3\r\n"
                            "Transport: RTP/AVP/UDP;unicast;client_port=40000-40001\r\nUser-Agent: test\r\n\r\n");
  EXPECT_EQ(value("relays.requested"), 1);
  EXPECT_EQ(value("relays.granted"), 1);
  EXPECT_EQ(value("relays.active"), 1);
  const auto* wait = host_.find("mediamesh.rtsp.media.cameras.relays.wait_us");
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->records, std::vector<uint64_t>{4000});

  // The reply: the client sees its own ports, the proxy's toServer ports, and the proxy as source.
  EXPECT_EQ(driver_->server(kReply), Verdict::Continue);
  EXPECT_EQ(toClient(),
            "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"
            "RTSP/1.0 200 OK\r\nCSeq: 3\r\n"
            "Transport: RTP/AVP/UDP;unicast;client_port=5000-5001;server_port=40002-40003;ssrc=1234ABCD;"
            "mode=\"PLAY\";source=10.0.0.1\r\n"
            "Session: abc123;timeout=60\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1].method, "PUT");
  EXPECT_EQ(host_.calls[1].path, "/relays/v1/sessions/cam-client.media/42-3/server");
  EXPECT_EQ(host_.calls[1].body, R"({"address":"10.1.0.9","rtcp":7001,"rtp":7000})");

  // PLAY soon after does not refresh; one a third of the timeout later does.
  driver_->client("PLAY rtsp://cams/cam1 RTSP/1.0\r\nCSeq: 4\r\nSession: abc123\r\n\r\n");
  EXPECT_EQ(host_.calls.size(), 2u);
  host_.now_ns += 21'000'000'000ull;
  driver_->client("GET_PARAMETER rtsp://cams/cam1 RTSP/1.0\r\nCSeq: 5\r\nSession: abc123\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 3u);
  EXPECT_EQ(host_.calls[2].path, "/relays/v1/sessions/cam-client.media/42-3/refresh");

  // TEARDOWN's 2xx ends them.
  driver_->client("TEARDOWN rtsp://cams/cam1 RTSP/1.0\r\nCSeq: 6\r\nSession: abc123\r\n\r\n");
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 6\r\nSession: abc123\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 4u);
  EXPECT_EQ(host_.calls[3].method, "DELETE");
  EXPECT_EQ(host_.calls[3].path, "/relays/v1/sessions/cam-client.media/42-3");
  EXPECT_EQ(value("relays.active"), 0);
  connection_->finish();
  EXPECT_EQ(host_.calls.size(), 4u) << "nothing left to end";
}

TEST_F(RelayTest, TheServersSourceCannotAimTheRelayElsewhere) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  driver_->server(
      "RTSP/1.0 200 OK\r\nCSeq: 3\r\n"
      "Transport: RTP/AVP;unicast;client_port=40000-40001;server_port=7000-7001;source=203.0.113.9\r\n"
      "Session: s1\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1].body, R"({"address":"10.1.0.9","rtcp":7001,"rtp":7000})") << "the upstream host, not the reply's source";
  EXPECT_NE(toClient().find("source=10.0.0.1"), std::string::npos) << toClient();
  EXPECT_EQ(toClient().find("203.0.113.9"), std::string::npos);
}

TEST_F(RelayTest, ClosingTheConnectionEndsItsRelays) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  driver_->server(kReply);
  connection_->finish();
  ASSERT_EQ(host_.calls.size(), 3u);
  EXPECT_EQ(host_.calls[2].method, "DELETE");
  EXPECT_EQ(value("relays.active"), 0);
}

TEST_F(RelayTest, RefusedRelaysBecomeA503ForTheClientsSetup) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 503, R"({"error":"every relay port pair is in use"})");
  EXPECT_EQ(host_.resumes, 1);
  EXPECT_EQ(toServer(), kDescribe + "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n");
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 3\r\nPublic: OPTIONS, DESCRIBE, SETUP\r\n\r\n");
  EXPECT_EQ(toClient(), "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\nRTSP/1.0 503 Service Unavailable\r\nCSeq: 3\r\n\r\n");
  EXPECT_EQ(value("relays.failed"), 1);
  EXPECT_EQ(value("relays.active"), 0);
  EXPECT_EQ(host_.calls.size(), 1u) << "nothing was opened, nothing to delete";
}

TEST_F(RelayTest, NoAnswerInTimeIsA503AndADeleteInCaseTheyOpenedLate) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 0, {});
  EXPECT_EQ(toServer(), kDescribe + "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1].method, "DELETE");
}

TEST_F(RelayTest, AnUnreadableGrantIsA503) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 200, R"({"toClient":{"rtp":0,"rtcp":1}})");
  EXPECT_EQ(toServer(), kDescribe + "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n");
  EXPECT_EQ(value("relays.failed"), 1);
}

TEST_F(RelayTest, AHostThatCannotCallAnswers503WithoutHolding) {
  host_.refuse_calls = true;
  driver_->client(kDescribe);
  EXPECT_EQ(driver_->client(kSetup), Verdict::Continue);
  EXPECT_EQ(toServer(), kDescribe + "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n");
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n");
  EXPECT_EQ(toClient(), "RTSP/1.0 503 Service Unavailable\r\nCSeq: 3\r\n\r\n");
}

TEST_F(RelayTest, ARuleForTcpRefusesUdpWith461AndDropsUdpAlternatives) {
  driver_->client("SETUP rtsp://cams/tcp-only/s0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=6000-6001\r\n\r\n");
  EXPECT_EQ(toServer(), "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
  EXPECT_TRUE(host_.calls.empty());
  driver_->server("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nabcd");
  EXPECT_EQ(toClient(), "RTSP/1.0 461 Unsupported Transport\r\nCSeq: 1\r\n\r\n") << "the stand-in's body goes too";
  EXPECT_EQ(value("transport_refused"), 1);
  driver_->client(
      "SETUP rtsp://cams/tcp-only/s0 RTSP/1.0\r\nCSeq: 2\r\n"
      "Transport: RTP/AVP;unicast;client_port=6000-6001,RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
  EXPECT_EQ(toServer(), "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
                        "SETUP rtsp://cams/tcp-only/s0 RTSP/1.0\r\nCSeq: 2\r\n"
                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
}

TEST_F(RelayTest, InterleavedTransportIsNotRelayed) {
  driver_->client("SETUP rtsp://cams/cam1 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");
  EXPECT_TRUE(host_.calls.empty());
  EXPECT_EQ(value("relays.requested"), 0);
}

TEST_F(RelayTest, ASetupSplitAcrossSegmentsIsHeldWhole) {
  driver_->client(kDescribe);
  EXPECT_EQ(driver_->client(kSetup.substr(0, 30)), Verdict::Pause);
  EXPECT_EQ(driver_->client(kSetup.substr(30, 50)), Verdict::Pause);
  EXPECT_EQ(toServer(), kDescribe);
  EXPECT_EQ(driver_->client(kSetup.substr(80)), Verdict::Pause);
  ASSERT_EQ(host_.calls.size(), 1u);
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  EXPECT_NE(toServer().find("client_port=40000-40001"), std::string::npos);
  EXPECT_EQ(toServer().find("5000"), std::string::npos);
}

TEST_F(RelayTest, BytesArrivingWhileHeldAreParsedOnceAndKeepTheirPlace) {
  describeAndSetup();
  const std::string next = "OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n";
  EXPECT_EQ(driver_->client(next), Verdict::Pause);
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  EXPECT_EQ(toServer().substr(toServer().size() - next.size()), next);
  EXPECT_EQ(value("requests.OPTIONS"), 1);
  EXPECT_EQ(value("requests.SETUP"), 1);
  driver_->client("OPTIONS * RTSP/1.0\r\nCSeq: 10\r\n\r\n");
  EXPECT_EQ(value("requests.OPTIONS"), 2);
  EXPECT_EQ(value("parse_errors"), 0);
}

TEST_F(RelayTest, AnAnswerAfterTheConnectionClosedChangesNothing) {
  describeAndSetup();
  connection_->finish();
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1].method, "DELETE");
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  EXPECT_EQ(host_.resumes, 0);
}

TEST_F(RelayTest, AFailedSetupReplyEndsItsRelays) {
  describeAndSetup();
  connection_->onHttpAnswer(host_.calls[0].token, 200, kGrant);
  driver_->server("RTSP/1.0 454 Session Not Found\r\nCSeq: 3\r\n\r\n");
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1].method, "DELETE");
  EXPECT_EQ(value("relays.active"), 0);
}

TEST_F(RelayTest, WithoutRelaysConfiguredUdpPassesUntouched) {
  host_.metrics.clear();
  start(R"({"route": "media.cameras", "matches": [{"path": {"value": "/"}, "cluster": "c0"}],
            "reject_cluster": "r"})");
  EXPECT_EQ(driver_->client(kSetup), Verdict::Continue);
  EXPECT_EQ(toServer(), kSetup);
  EXPECT_TRUE(host_.calls.empty());
}

TEST(RelayCalls, PathsEscapeTheirSegments) {
  EXPECT_EQ(relaySessionPath("pod-1.media", "7-3", "/refresh"), "/relays/v1/sessions/pod-1.media/7-3/refresh");
  EXPECT_EQ(relaySessionPath("a/b c", "x"), "/relays/v1/sessions/a%2Fb%20c/x");
}

TEST(RelayCalls, GrantsAreCheckedBeforeUse) {
  RelayGrant grant;
  EXPECT_TRUE(parseRelayGrant(kGrant, grant));
  EXPECT_EQ(grant.to_client.rtp, 40000);
  EXPECT_EQ(grant.to_server.rtcp, 40003);
  EXPECT_EQ(grant.timeout_ms, 60000u);
  EXPECT_FALSE(parseRelayGrant("not json", grant));
  EXPECT_FALSE(parseRelayGrant(R"({"toClient":{"rtp":70000,"rtcp":1},"toServer":{"rtp":1,"rtcp":2}})", grant));
  EXPECT_FALSE(parseRelayGrant(R"({"toClient":{"rtp":1,"rtcp":2}})", grant));
}

TEST(RelayCalls, HostOfAddress) {
  EXPECT_EQ(hostOfAddress("10.0.0.1:554"), "10.0.0.1");
  EXPECT_EQ(hostOfAddress("[fd00::1]:554"), "fd00::1");
  EXPECT_EQ(hostOfAddress("nonsense"), "");
  EXPECT_EQ(hostOfAddress("fd00::1"), "");
}

}  // namespace
}  // namespace rtsp_filter
}  // namespace mediamesh
