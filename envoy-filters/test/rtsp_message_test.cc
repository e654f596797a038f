// Header helpers (CSeq, Session, Content-Length) and re-serialising a head
// with some headers replaced.
#include "rtsp/rtsp_headers.h"
#include "rtsp/rtsp_message.h"
#include "rtsp/rtsp_parser.h"
#include "rtsp/rtsp_transport.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mediamesh {
namespace rtsp {
namespace {

// Parses one head (and ignores any body) into a Message copy.
Message parseHead(std::string_view bytes) {
  struct Keep : ParserCallbacks {
    Message message;
    bool seen = false;
    void onHeadersComplete(const Message& m) override {
      if (!seen) {
        message = m;
        seen = true;
      }
    }
  } keep;
  RtspParser parser(keep);
  EXPECT_TRUE(parser.feed(bytes)) << parser.errorReason();
  EXPECT_TRUE(keep.seen);
  return keep.message;
}

std::string replaceOnce(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

// --- CSeq, Session, Content-Length -------------------------------------------

TEST(RtspHeaders, CSeq) {
  uint32_t v = 0;
  EXPECT_TRUE(parseCSeq("1", v));
  EXPECT_EQ(v, 1u);
  EXPECT_TRUE(parseCSeq(" 302 ", v));
  EXPECT_EQ(v, 302u);
  EXPECT_TRUE(parseCSeq("4294967295", v));
  EXPECT_EQ(v, 4294967295u);
  EXPECT_FALSE(parseCSeq("4294967296", v));
  EXPECT_FALSE(parseCSeq("", v));
  EXPECT_FALSE(parseCSeq("-1", v));
  EXPECT_FALSE(parseCSeq("1a", v));
  EXPECT_FALSE(parseCSeq("1 2", v));
}

TEST(RtspHeaders, Session) {
  SessionHeader s;
  ASSERT_TRUE(parseSession("6tLZOxWdPMCvjnh3", s));
  EXPECT_EQ(s.id, "6tLZOxWdPMCvjnh3");
  EXPECT_FALSE(s.has_timeout);
  EXPECT_EQ(s.timeout_seconds, kDefaultSessionTimeoutSeconds);

  ASSERT_TRUE(parseSession("12345678;timeout=30", s));
  EXPECT_EQ(s.id, "12345678");
  EXPECT_TRUE(s.has_timeout);
  EXPECT_EQ(s.timeout_seconds, 30u);

  ASSERT_TRUE(parseSession(" abc-DEF_1.2+3$ ; Timeout = 90 ;x=y", s));
  EXPECT_EQ(s.id, "abc-DEF_1.2+3$");
  EXPECT_EQ(s.timeout_seconds, 90u);

  ASSERT_TRUE(parseSession("abc;foo;timeoutish=1", s));
  EXPECT_FALSE(s.has_timeout);

  EXPECT_FALSE(parseSession("", s));
  EXPECT_FALSE(parseSession(";timeout=5", s));
  EXPECT_FALSE(parseSession("a b", s));
  EXPECT_FALSE(parseSession("a,b", s));
  EXPECT_FALSE(parseSession("abc;timeout=", s));
  EXPECT_FALSE(parseSession("abc;timeout", s));
  EXPECT_FALSE(parseSession("abc;timeout=-1", s));
  EXPECT_FALSE(parseSession("abc;timeout=5;timeout=6", s));
  EXPECT_FALSE(parseSession("abc;timeout=99999999999", s));
  EXPECT_TRUE(parseSession(std::string(kMaxSessionIdLength, 'k'), s));
  EXPECT_FALSE(parseSession(std::string(kMaxSessionIdLength + 1, 'k'), s));
}

TEST(RtspHeaders, ContentLength) {
  uint64_t v = 0;
  EXPECT_TRUE(parseContentLength("0", v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parseContentLength("18446744073709551615", v));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(parseContentLength("18446744073709551616", v));
  EXPECT_TRUE(parseContentLength("000000000000000000000000042", v));
  EXPECT_EQ(v, 42u);
  EXPECT_FALSE(parseContentLength("-1", v));
  EXPECT_FALSE(parseContentLength("+1", v));
  EXPECT_FALSE(parseContentLength("0x10", v));
  EXPECT_FALSE(parseContentLength("", v));
}

// --- Rewriting ----------------------------------------------------------------

const std::string kSetup =
    "SETUP rtsp://cam.example/lobby/stream=0 RTSP/1.0\r\n"
    "CSeq: 3\r\n"
    "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n"
    "User-Agent: Lavf59.27.100\r\n"
    "\r\n";

TEST(RtspRewrite, ReplacesOnlyTheValue) {
  const Message setup = parseHead(kSetup);
  const HeaderEdit edit{"Transport", "RTP/AVP;unicast;client_port=40000-40001"};
  std::string out;
  ASSERT_TRUE(setup.rewrite(&edit, 1, out));
  EXPECT_EQ(out, replaceOnce(kSetup, "client_port=5000-5001", "client_port=40000-40001"));
}

TEST(RtspRewrite, WithNoEditsTheHeadIsUnchanged) {
  const std::string odd =
      "RTSP/1.0 200 OK\r\n"
      "cseq:3\r\n"
      "Transport:  \tRTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001  \r\n"
      "X-Empty:\r\n"
      "Session: abc;timeout=60\n"
      "\r\n";
  const Message reply = parseHead(odd);
  std::string out;
  ASSERT_TRUE(reply.rewrite(nullptr, 0, out));
  EXPECT_EQ(out, odd);
}

TEST(RtspRewrite, KeepsNameSpellingWhitespaceAndLineEnding) {
  const std::string odd =
      "RTSP/1.0 200 OK\r\n"
      "cseq:3\r\n"
      "TRANSPORT:  \tRTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001  \n"
      "Session: abc;timeout=60\r\n"
      "\r\n";
  const Message reply = parseHead(odd);
  const HeaderEdit edit{"transport", "RTP/AVP;unicast;client_port=5000-5001;server_port=41000-41001"};
  std::string out;
  ASSERT_TRUE(reply.rewrite(&edit, 1, out));
  EXPECT_EQ(out, replaceOnce(odd, "server_port=6000-6001", "server_port=41000-41001"));
}

TEST(RtspRewrite, EditsTheReplyOfASetupAsTheFilterWill) {
  const std::string reply_bytes =
      "RTSP/1.0 200 OK\r\n"
      "CSeq: 3\r\n"
      "Transport: RTP/AVP;unicast;client_port=40000-40001;server_port=6000-6001;ssrc=0A1B2C3D;mode=\"PLAY\"\r\n"
      "Server: GStreamer RTSP server\r\n"
      "Session: 6tLZOxWdPMCvjnh3;timeout=60\r\n"
      "Date: Sun, 30 Nov 2025 12:00:00 GMT\r\n"
      "\r\n";
  const Message reply = parseHead(reply_bytes);
  std::vector<TransportSpec> specs;
  ASSERT_TRUE(parseTransport(reply.find("Transport").value_or(""), specs));
  specs[0].setClientPort(PortRange::pair(5000, 5001));
  specs[0].setServerPort(PortRange::pair(41000, 41001));
  const std::string transport = serializeTransport(specs);
  const HeaderEdit edit{"Transport", transport};
  std::string out;
  ASSERT_TRUE(reply.rewrite(&edit, 1, out));
  EXPECT_EQ(out, replaceOnce(replaceOnce(reply_bytes, "client_port=40000-40001", "client_port=5000-5001"),
                             "server_port=6000-6001", "server_port=41000-41001"));
  // And it parses back to the same message but for that value.
  const Message again = parseHead(out);
  ASSERT_EQ(again.headerCount(), reply.headerCount());
  for (size_t i = 0; i < reply.headerCount(); ++i) {
    EXPECT_EQ(again.header(i).name, reply.header(i).name);
    if (again.header(i).name != "Transport") {
      EXPECT_EQ(again.header(i).value, reply.header(i).value);
    }
  }
  EXPECT_EQ(again.find("Transport").value_or(""), transport);
}

TEST(RtspRewrite, DuplicatesAreDroppedAfterTheFirst) {
  const std::string head =
      "SETUP rtsp://h/s RTSP/1.0\r\nTransport: a\r\nCSeq: 1\r\ntransport: b\r\nX: y\r\n\r\n";
  const HeaderEdit edit{"Transport", "c"};
  std::string out;
  ASSERT_TRUE(parseHead(head).rewrite(&edit, 1, out));
  EXPECT_EQ(out, "SETUP rtsp://h/s RTSP/1.0\r\nTransport: c\r\nCSeq: 1\r\nX: y\r\n\r\n");
}

TEST(RtspRewrite, AbsentHeaderIsAddedAfterTheLast) {
  std::string out;
  const HeaderEdit edit{"Session", "abc"};
  ASSERT_TRUE(parseHead("PLAY rtsp://h/s RTSP/1.0\r\nCSeq: 4\r\n\r\n").rewrite(&edit, 1, out));
  EXPECT_EQ(out, "PLAY rtsp://h/s RTSP/1.0\r\nCSeq: 4\r\nSession: abc\r\n\r\n");
  // A head without headers, and one with bare LF endings.
  ASSERT_TRUE(parseHead("OPTIONS * RTSP/1.0\r\n\r\n").rewrite(&edit, 1, out));
  EXPECT_EQ(out, "OPTIONS * RTSP/1.0\r\nSession: abc\r\n\r\n");
  ASSERT_TRUE(parseHead("OPTIONS * RTSP/1.0\nCSeq: 1\n\n").rewrite(&edit, 1, out));
  EXPECT_EQ(out, "OPTIONS * RTSP/1.0\nCSeq: 1\nSession: abc\n\n");
}

TEST(RtspRewrite, RemoveAndSeveralEdits) {
  const HeaderEdit edits[] = {
      {"User-Agent", "", HeaderEdit::Action::Remove},
      {"CSeq", "33"},
      {"X-Mesh", "1"},
      {"cseq", "99"},  // a second listing of a name: the first one acts
  };
  std::string out;
  ASSERT_TRUE(parseHead(kSetup).rewrite(edits, 4, out));
  EXPECT_EQ(out,
            "SETUP rtsp://cam.example/lobby/stream=0 RTSP/1.0\r\n"
            "CSeq: 33\r\n"
            "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n"
            "X-Mesh: 1\r\n"
            "\r\n");
}

TEST(RtspRewrite, EmptyValueIsReplacedAfterItsWhitespace) {
  std::string out;
  const HeaderEdit edit{"X-Empty", "now"};
  ASSERT_TRUE(parseHead("OPTIONS * RTSP/1.0\r\nX-Empty:  \r\n\r\n").rewrite(&edit, 1, out));
  EXPECT_EQ(out, "OPTIONS * RTSP/1.0\r\nX-Empty:  now\r\n\r\n");
}

TEST(RtspRewrite, RefusesValuesThatWouldInjectHeaders) {
  const Message setup = parseHead(kSetup);
  std::string out = "stale";
  for (const HeaderEdit& bad : {HeaderEdit{"Transport", "RTP/AVP\r\nX-Evil: 1"}, HeaderEdit{"Transport", "a\nb"},
                                HeaderEdit{"Transport", "a\rb"}, HeaderEdit{"Transport", std::string_view("a\0b", 3)},
                                HeaderEdit{"Transport", " padded"}, HeaderEdit{"Trans port", "x"},
                                HeaderEdit{"", "x"}, HeaderEdit{"X:Y", "x"}}) {
    EXPECT_FALSE(setup.rewrite(&bad, 1, out)) << bad.name << " = " << bad.value;
    EXPECT_TRUE(out.empty());
  }
  const HeaderEdit tab{"X-Tab", "a\tb"};
  EXPECT_TRUE(setup.rewrite(&tab, 1, out));
}

TEST(RtspRewrite, EmptyMessageCannotBeRewritten) {
  Message empty;
  std::string out;
  EXPECT_FALSE(empty.rewrite(nullptr, 0, out));
}

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
