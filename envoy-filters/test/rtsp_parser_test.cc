#include "rtsp/rtsp_parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "rtsp_test_util.h"

namespace mediamesh {
namespace rtsp {
namespace {

using testing::clientStream;
using testing::EventLog;
using testing::frame;
using testing::parseChunks;
using testing::parseWhole;
using testing::rtcpReceiverReport;
using testing::rtpPacket;
using testing::serverStream;
using testing::sessionSdp;

std::vector<std::string> lines(std::initializer_list<std::string> l) { return std::vector<std::string>(l); }

// --- A whole session ------------------------------------------------------

TEST(RtspParser, ClientSessionEvents) {
  const std::string input = clientStream();
  const std::vector<std::string> events = parseWhole(input);
  const size_t describe_at = input.find("DESCRIBE");
  const size_t setup_at = input.find("SETUP");
  const size_t play_at = input.find("PLAY");
  const size_t frame_at = input.find('$');
  const size_t get_at = input.find("GET_PARAMETER");
  const size_t teardown_at = input.find("TEARDOWN");
  const std::vector<std::string> expected = lines({
      "request OPTIONS rtsp://cam.example:8554/lobby RTSP/1.0",
      "header CSeq: 1",
      "header User-Agent: Lavf59.27.100",
      "headers-complete length=0 at=0 head=" + std::to_string(describe_at),
      "complete",
      "request DESCRIBE rtsp://cam.example:8554/lobby RTSP/1.0",
      "header Accept: application/sdp",
      "header CSeq: 2",
      "header User-Agent: Lavf59.27.100",
      "headers-complete length=0 at=" + std::to_string(describe_at) + " head=" + std::to_string(setup_at - describe_at),
      "complete",
      "request SETUP rtsp://cam.example:8554/lobby/stream=0 RTSP/1.0",
      "header Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
      "header CSeq: 3",
      "header User-Agent: Lavf59.27.100",
      "headers-complete length=0 at=" + std::to_string(setup_at) + " head=" + std::to_string(play_at - setup_at),
      "complete",
      "request PLAY rtsp://cam.example:8554/lobby/ RTSP/1.0",
      "header Range: npt=0.000-",
      "header CSeq: 4",
      "header User-Agent: Lavf59.27.100",
      "header Session: 6tLZOxWdPMCvjnh3",
      "headers-complete length=0 at=" + std::to_string(play_at) + " head=" + std::to_string(frame_at - play_at),
      "complete",
      "frame channel=1 at=" + std::to_string(frame_at) + " " + rtcpReceiverReport(),
      "request GET_PARAMETER rtsp://cam.example:8554/lobby/ RTSP/1.0",
      "header CSeq: 5",
      "header Session: 6tLZOxWdPMCvjnh3",
      "header Content-Type: text/parameters",
      "header Content-Length: 12",
      "headers-complete length=12 at=" + std::to_string(get_at) + " head=" +
          std::to_string(teardown_at - get_at - 12),
      "body packets_sent",
      "complete",
      "request TEARDOWN rtsp://cam.example:8554/lobby/ RTSP/1.0",
      "header CSeq: 6",
      "header Session: 6tLZOxWdPMCvjnh3",
      "headers-complete length=0 at=" + std::to_string(teardown_at) + " head=" +
          std::to_string(input.size() - teardown_at),
      "complete",
  });
  EXPECT_EQ(events, expected);
}

TEST(RtspParser, ServerSessionEvents) {
  const std::string input = serverStream();
  const std::vector<std::string> events = parseWhole(input);
  std::vector<std::string> statuses;
  std::vector<std::string> frames;
  std::string body;
  for (const std::string& e : events) {
    if (e.rfind("status ", 0) == 0) {
      statuses.push_back(e);
    } else if (e.rfind("frame ", 0) == 0) {
      frames.push_back(e.substr(0, e.find(' ', 15)));
    } else if (e.rfind("body ", 0) == 0) {
      body += e.substr(5);
    }
    EXPECT_EQ(e.rfind("error", 0), std::string::npos) << e;
  }
  EXPECT_EQ(statuses, std::vector<std::string>(6, "status RTSP/1.0 200 OK"));
  EXPECT_EQ(body, sessionSdp());
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].substr(0, 15), "frame channel=0");
  EXPECT_EQ(frames[2].substr(0, 15), "frame channel=1");
  EXPECT_EQ(frames[3].substr(0, 15), "frame channel=0");
  EXPECT_EQ(std::count(events.begin(), events.end(), "complete"), 6);
}

// Every split point of each direction gives the same events as the whole
// stream: nothing depends on where TCP cut the bytes.
class SplitPoints : public ::testing::TestWithParam<bool> {};

TEST_P(SplitPoints, EverySingleSplitPointGivesTheSameEvents) {
  const std::string input = GetParam() ? clientStream() : serverStream();
  const std::vector<std::string> whole = parseWhole(input);
  const std::string_view all(input);
  for (size_t split = 0; split <= input.size(); ++split) {
    const std::vector<std::string> parts = parseChunks({all.substr(0, split), all.substr(split)});
    ASSERT_EQ(parts, whole) << "split at byte " << split;
  }
}

TEST_P(SplitPoints, ByteAtATimeGivesTheSameEvents) {
  const std::string input = GetParam() ? clientStream() : serverStream();
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) {
    bytes.push_back(std::string_view(input).substr(i, 1));
  }
  EXPECT_EQ(parseChunks(bytes), parseWhole(input));
}

TEST_P(SplitPoints, RandomChunkingGivesTheSameEvents) {
  const std::string input = GetParam() ? clientStream() : serverStream();
  const std::vector<std::string> whole = parseWhole(input);
  uint32_t state = 12345;
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string_view> chunks;
    size_t pos = 0;
    while (pos < input.size()) {
      state = state * 1664525u + 1013904223u;
      const size_t n = std::min<size_t>(input.size() - pos, 1 + (state >> 16) % 97);
      chunks.push_back(std::string_view(input).substr(pos, n));
      pos += n;
    }
    ASSERT_EQ(parseChunks(chunks), whole) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Directions, SplitPoints, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Client" : "Server";
                         });

// --- Framing ----------------------------------------------------------------

TEST(RtspParser, PipelinedRequestsInOneChunk) {
  const std::string input =
      "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
      "SET_PARAMETER rtsp://h/a RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nx: 1\n"
      "GET_PARAMETER rtsp://h/a RTSP/1.0\r\nCSeq: 3\r\n\r\n";
  const std::vector<std::string> events = parseWhole(input);
  const std::vector<std::string> expected = lines({
      "request OPTIONS * RTSP/1.0",
      "header CSeq: 1",
      "headers-complete length=0 at=0 head=31",
      "complete",
      "request SET_PARAMETER rtsp://h/a RTSP/1.0",
      "header CSeq: 2",
      "header Content-Length: 5",
      "headers-complete length=5 at=31 head=65",
      "body x: 1\n",
      "complete",
      "request GET_PARAMETER rtsp://h/a RTSP/1.0",
      "header CSeq: 3",
      "headers-complete length=0 at=101 head=46",
      "complete",
  });
  EXPECT_EQ(events, expected);
}

TEST(RtspParser, HeadIsTheExactBytesAtItsStreamOffset) {
  const std::string input = clientStream();
  struct HeadCheck : EventLog {
    const std::string* input = nullptr;
    size_t checked = 0;
    void onHeadersComplete(const Message& m) override {
      EXPECT_EQ(m.head(), std::string_view(*input).substr(m.streamOffset(), m.head().size()));
      EXPECT_EQ(m.head().substr(m.head().size() - 4), "\r\n\r\n");
      ++checked;
    }
  } check;
  check.input = &input;
  RtspParser parser(check);
  for (size_t i = 0; i < input.size(); i += 7) {
    ASSERT_TRUE(parser.feed(std::string_view(input).substr(i, 7)));
  }
  EXPECT_EQ(check.checked, 6u);
  EXPECT_EQ(parser.bytesConsumed(), input.size());
  EXPECT_TRUE(parser.atMessageBoundary());
}

TEST(RtspParser, WholeFramesAreHandedOverInPlaceAndSplitOnesGathered) {
  const std::string payload = rtpPacket(7, 1, 500);
  const std::string input = frame(0, payload) + frame(1, payload);
  struct Frames : ParserCallbacks {
    std::vector<const uint8_t*> where;
    std::vector<std::string> payloads;
    void onInterleavedFrame(const InterleavedFrame& f) override {
      where.push_back(f.data);
      payloads.emplace_back(reinterpret_cast<const char*>(f.data), f.length);
    }
  } frames;
  RtspParser parser(frames);
  // The first frame lies whole in the first chunk; the second is cut.
  const size_t cut = input.size() - 100;
  ASSERT_TRUE(parser.feed(std::string_view(input).substr(0, cut)));
  ASSERT_TRUE(parser.feed(std::string_view(input).substr(cut)));
  ASSERT_EQ(frames.payloads.size(), 2u);
  EXPECT_EQ(frames.payloads[0], payload);
  EXPECT_EQ(frames.payloads[1], payload);
  EXPECT_EQ(frames.where[0], reinterpret_cast<const uint8_t*>(input.data()) + 4);
  EXPECT_NE(frames.where[1], reinterpret_cast<const uint8_t*>(input.data()) + payload.size() + 8);
  EXPECT_LE(parser.allocatedBytes(), RtspParser::memoryBound(parser.limits()));
}

TEST(RtspParser, MessageBoundaryOnlyBetweenMessagesAndFrames) {
  EventLog log;
  RtspParser parser(log);
  EXPECT_TRUE(parser.atMessageBoundary());
  ASSERT_TRUE(parser.feed("RTSP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nab"));
  EXPECT_FALSE(parser.atMessageBoundary());
  ASSERT_TRUE(parser.feed("cd"));
  EXPECT_TRUE(parser.atMessageBoundary());
  ASSERT_TRUE(parser.feed(std::string("$\x00\x00\x04" "ab", 6)));
  EXPECT_FALSE(parser.atMessageBoundary());
  ASSERT_TRUE(parser.feed("cd\r\n"));
  EXPECT_TRUE(parser.atMessageBoundary());
  ASSERT_TRUE(parser.feed("OPTIONS"));
  EXPECT_FALSE(parser.atMessageBoundary());
}

TEST(RtspParser, FrameHeaderSplitAcrossChunks) {
  const std::string input = frame(3, "abc") + "OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n";
  EXPECT_EQ(parseChunks({std::string_view(input).substr(0, 1), std::string_view(input).substr(1, 2),
                         std::string_view(input).substr(3)}),
            parseWhole(input));
  EXPECT_EQ(parseWhole(input)[0], "frame channel=3 at=0 abc");
}

TEST(RtspParser, MaximumFrameLength) {
  const std::string payload(65535, 'p');
  const std::vector<std::string> events = parseWhole(frame(200, payload));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "frame channel=200 at=0 " + payload);
}

TEST(RtspParser, Rtsp20RequestAndResponse) {
  EXPECT_EQ(parseWhole("PLAY rtsp://h/s RTSP/2.0\r\nCSeq: 4\r\nSession: abc\r\n\r\n"),
            lines({"request PLAY rtsp://h/s RTSP/2.0", "header CSeq: 4", "header Session: abc",
                   "headers-complete length=0 at=0 head=51", "complete"}));
  EXPECT_EQ(parseWhole("RTSP/2.0 200 OK\r\nCSeq: 4\r\nContent-Length: 2\r\n\r\nhi"),
            lines({"status RTSP/2.0 200 OK", "header CSeq: 4", "header Content-Length: 2",
                   "headers-complete length=2 at=0 head=47", "body hi", "complete"}));
  // A server may send a 2.0 request such as PLAY_NOTIFY to the client.
  EXPECT_EQ(parseWhole("PLAY_NOTIFY rtsp://h/s RTSP/2.0\r\nCSeq: 1\r\n\r\n")[0],
            "request PLAY_NOTIFY rtsp://h/s RTSP/2.0");
}

TEST(RtspParser, BlankLinesBetweenMessagesAreSkipped) {
  const std::vector<std::string> events = parseWhole("\r\n\n\r\nOPTIONS * RTSP/1.0\r\n\r\n\r\n" + frame(0, "x"));
  EXPECT_EQ(events, lines({"request OPTIONS * RTSP/1.0", "headers-complete length=0 at=5 head=22", "complete",
                           "frame channel=0 at=29 x"}));
}

TEST(RtspParser, BareLfLineEndings) {
  EXPECT_EQ(parseWhole("RTSP/1.0 200 OK\nCSeq: 2\nContent-Length: 3\n\nabc"),
            lines({"status RTSP/1.0 200 OK", "header CSeq: 2", "header Content-Length: 3",
                   "headers-complete length=3 at=0 head=43", "body abc", "complete"}));
}

TEST(RtspParser, StatusLineReasonForms) {
  EXPECT_EQ(parseWhole("RTSP/1.0 200\r\n\r\n")[0], "status RTSP/1.0 200 ");
  EXPECT_EQ(parseWhole("RTSP/1.0 454 \r\n\r\n")[0], "status RTSP/1.0 454 ");
  EXPECT_EQ(parseWhole("RTSP/1.0 461 Unsupported transport\r\n\r\n")[0],
            "status RTSP/1.0 461 Unsupported transport");
  EXPECT_EQ(parseWhole("RTSP/1.0 200 \xc3\x9c ok\r\n\r\n")[0], "status RTSP/1.0 200 \xc3\x9c ok");
}

TEST(RtspParser, HeaderValueWhitespaceIsTrimmedAndEmptyValuesKept) {
  EXPECT_EQ(parseWhole("OPTIONS * RTSP/1.0\r\nCSeq:\t 5 \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n"),
            lines({"request OPTIONS * RTSP/1.0", "header CSeq: 5", "header X-Empty: ", "header X-Blank: ",
                   "headers-complete length=0 at=0 head=57", "complete"}));
}

TEST(RtspParser, AgreeingDuplicateContentLengthIsAccepted) {
  const std::vector<std::string> events =
      parseWhole("RTSP/1.0 200 OK\r\nContent-Length: 2\r\ncontent-length: 02\r\n\r\nok");
  EXPECT_EQ(events[3], "headers-complete length=2 at=0 head=58");
  EXPECT_EQ(events[4], "body ok");
}

TEST(RtspParser, MessageLookupsAfterHeaders) {
  struct Check : ParserCallbacks {
    int seen = 0;
    void onHeadersComplete(const Message& m) override {
      if (!m.isRequest()) {
        return;
      }
      ++seen;
      EXPECT_EQ(m.method(), "SETUP");
      EXPECT_EQ(m.url(), "rtsp://h/s/track1");
      EXPECT_EQ(m.version(), Version::Rtsp10);
      EXPECT_EQ(m.startLine(), "SETUP rtsp://h/s/track1 RTSP/1.0");
      EXPECT_EQ(m.headerCount(), 4u);
      EXPECT_EQ(m.find("transport").value_or(""), "RTP/AVP;unicast;client_port=5000-5001");
      EXPECT_EQ(m.find("TRANSPORT").value_or(""), "RTP/AVP;unicast;client_port=5000-5001");
      EXPECT_FALSE(m.find("Range").has_value());
      EXPECT_EQ(m.count("x-dup"), 2u);
      EXPECT_EQ(m.find("X-Dup").value_or(""), "one");
      uint32_t cseq = 0;
      EXPECT_TRUE(m.cseq(cseq));
      EXPECT_EQ(cseq, 3u);
      SessionHeader session;
      EXPECT_FALSE(m.session(session));
      EXPECT_EQ(m.header(0).name, "CSeq");
      EXPECT_EQ(m.header(1).name, "Transport");
      EXPECT_EQ(m.header(9).name, "");
    }
  } check;
  RtspParser parser(check);
  ASSERT_TRUE(parser.feed(
      "SETUP rtsp://h/s/track1 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n"
      "X-Dup: one\r\nx-dup: two\r\n\r\n"));
  EXPECT_EQ(check.seen, 1);
  // The message stays readable after the feed, until the next one starts.
  EXPECT_EQ(parser.message().method(), "SETUP");
  Message copy = parser.message();
  ASSERT_TRUE(parser.feed("RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678;timeout=30\r\n\r\n"));
  EXPECT_EQ(copy.method(), "SETUP");
  EXPECT_EQ(copy.find("CSeq").value_or(""), "3");
  const Message& reply = parser.message();
  EXPECT_FALSE(reply.isRequest());
  EXPECT_EQ(reply.statusCode(), 200);
  EXPECT_EQ(reply.reason(), "OK");
  SessionHeader session;
  ASSERT_TRUE(reply.session(session));
  EXPECT_EQ(session.id, "12345678");
  EXPECT_EQ(session.timeout_seconds, 30u);
}

// --- Errors -----------------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::string input;
  ParseError error;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class Malformed : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(Malformed, FailsWithTheSpecificError) {
  const ErrorCase& c = GetParam();
  EventLog log;
  RtspParser parser(log);
  EXPECT_FALSE(parser.feed(c.input));
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.error(), c.error) << parseErrorName(parser.error()) << ": " << parser.errorReason();
  EXPECT_FALSE(parser.errorReason().empty());
  EXPECT_EQ(log.errors, 1u);
  ASSERT_FALSE(log.events.empty());
  EXPECT_EQ(log.events.back(), std::string("error ") + parseErrorName(c.error));
  // Terminal: later input is refused and raises nothing.
  const size_t events = log.events.size();
  EXPECT_FALSE(parser.feed("OPTIONS * RTSP/1.0\r\n\r\n"));
  EXPECT_EQ(log.events.size(), events);
  // The same verdict byte by byte.
  EventLog bytewise_log;
  RtspParser bytewise(bytewise_log);
  for (char ch : c.input) {
    bytewise.feed(std::string_view(&ch, 1));
  }
  EXPECT_EQ(bytewise.error(), c.error);
  EXPECT_EQ(bytewise.errorOffset(), parser.errorOffset());
  EXPECT_EQ(bytewise_log.events, log.events);
}

const std::string kOk = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, Malformed,
    ::testing::Values(
        ErrorCase{"NulAtStart", std::string("\0OPTIONS * RTSP/1.0\r\n", 21), ParseError::GarbageAtMessageStart},
        ErrorCase{"RawRtpWithoutDollar", rtpPacket(1, 2, 10), ParseError::GarbageAtMessageStart},
        ErrorCase{"SpaceAtStart", " OPTIONS * RTSP/1.0\r\n\r\n", ParseError::GarbageAtMessageStart},
        ErrorCase{"GarbageAfterMessage", kOk + "\x16\x03\x01", ParseError::GarbageAtMessageStart},
        ErrorCase{"TlsClientHello", "\x16\x03\x01\x02\x00\x01", ParseError::GarbageAtMessageStart},
        ErrorCase{"GarbageAfterBody", "RTSP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx@junk",
                  ParseError::GarbageAtMessageStart},
        ErrorCase{"OnlyMethod", "OPTIONS\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"NoVersion", "OPTIONS *\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"DoubleSpace", "OPTIONS  * RTSP/1.0\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"TabSeparator", "OPTIONS\t* RTSP/1.0\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"TrailingWords", "OPTIONS * RTSP/1.0 extra\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"MethodNotToken", "OPT(IONS * RTSP/1.0\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"HighByteInUrl", "DESCRIBE rtsp://h/\xff RTSP/1.0\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"VersionNotNumbers", "OPTIONS * RTSP/one\r\n\r\n", ParseError::BadRequestLine},
        ErrorCase{"HttpRequest", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ParseError::UnsupportedVersion},
        ErrorCase{"Rtsp11", "OPTIONS * RTSP/1.1\r\n\r\n", ParseError::UnsupportedVersion},
        ErrorCase{"LowerCaseRtsp", "OPTIONS * rtsp/1.0\r\n\r\n", ParseError::UnsupportedVersion},
        ErrorCase{"StatusRtsp30", "RTSP/3.0 200 OK\r\n\r\n", ParseError::UnsupportedVersion},
        ErrorCase{"StatusNoCode", "RTSP/1.0\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"StatusTwoDigits", "RTSP/1.0 20 OK\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"StatusFourDigits", "RTSP/1.0 2000 OK\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"StatusBelow100", "RTSP/1.0 099 Odd\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"StatusLetters", "RTSP/1.0 2x0 OK\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"StatusBadVersion", "RTSP/x 200 OK\r\n\r\n", ParseError::BadStatusLine},
        ErrorCase{"HeaderWithoutColon", "OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", ParseError::HeaderWithoutColon},
        ErrorCase{"SpaceBeforeColon", "OPTIONS * RTSP/1.0\r\nCSeq : 1\r\n\r\n", ParseError::BadHeaderName},
        ErrorCase{"EmptyHeaderName", "OPTIONS * RTSP/1.0\r\n: 1\r\n\r\n", ParseError::BadHeaderName},
        ErrorCase{"HighByteInName", "OPTIONS * RTSP/1.0\r\nC\xe9q: 1\r\n\r\n", ParseError::BadHeaderName},
        ErrorCase{"FoldedHeader", "OPTIONS * RTSP/1.0\r\nX-A: 1\r\n 2\r\n\r\n", ParseError::ObsoleteLineFolding},
        ErrorCase{"NulInHeader", std::string("OPTIONS * RTSP/1.0\r\nCSeq: 1\0\r\n\r\n", 31),
                  ParseError::ControlCharacter},
        ErrorCase{"EscInStartLine", "OPTIONS \x1b RTSP/1.0\r\n\r\n", ParseError::ControlCharacter},
        ErrorCase{"DelInHeader", "OPTIONS * RTSP/1.0\r\nX: \x7f\r\n\r\n", ParseError::ControlCharacter},
        ErrorCase{"LoneCrInHeader", "OPTIONS * RTSP/1.0\r\nCSeq: 1\rX-A: 2\r\n\r\n", ParseError::BadLineEnding},
        ErrorCase{"LoneCrInStartLine", "OPTIONS * RTSP/1.0\r\r\n", ParseError::BadLineEnding},
        ErrorCase{"LoneCrBetweenMessages", kOk + "\rOPTIONS", ParseError::BadLineEnding},
        ErrorCase{"ContentLengthLetters", "RTSP/1.0 200 OK\r\nContent-Length: abc\r\n\r\n",
                  ParseError::BadContentLength},
        ErrorCase{"ContentLengthNegative", "RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n",
                  ParseError::BadContentLength},
        ErrorCase{"ContentLengthPlus", "RTSP/1.0 200 OK\r\nContent-Length: +5\r\n\r\n",
                  ParseError::BadContentLength},
        ErrorCase{"ContentLengthEmpty", "RTSP/1.0 200 OK\r\nContent-Length:\r\n\r\n", ParseError::BadContentLength},
        ErrorCase{"ContentLengthTwoNumbers", "RTSP/1.0 200 OK\r\nContent-Length: 1 2\r\n\r\n",
                  ParseError::BadContentLength},
        ErrorCase{"ContentLengthList", "RTSP/1.0 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
                  ParseError::BadContentLength},
        ErrorCase{"ContentLengthOverflow", "RTSP/1.0 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                  ParseError::ContentLengthTooLarge},
        ErrorCase{"ContentLengthConflict", "RTSP/1.0 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  ParseError::ConflictingContentLength},
        ErrorCase{"ZeroLengthFrame", std::string("$\x00\x00\x00", 4), ParseError::BadInterleavedLength},
        ErrorCase{"ZeroLengthFrameAfterFrame", frame(0, "abc") + std::string("$\x01\x00\x00", 4),
                  ParseError::BadInterleavedLength}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(RtspParserErrors, ErrorOffsetPointsAtTheOffendingByte) {
  EventLog log;
  RtspParser parser(log);
  ASSERT_FALSE(parser.feed(kOk + "OPTIONS * RTSP/1.0\r\nCSeq: 1\x01\r\n"));
  EXPECT_EQ(parser.errorOffset(), kOk.size() + 27);
  EXPECT_EQ(parser.bytesConsumed(), kOk.size() + 27);

  RtspParser garbage(log);
  ASSERT_FALSE(garbage.feed(kOk + "\x80"));
  EXPECT_EQ(garbage.errorOffset(), kOk.size());
}

TEST(RtspParserErrors, ErrorNamesAreDistinct) {
  std::vector<std::string> names;
  for (int e = 0; e <= static_cast<int>(ParseError::BadInterleavedLength); ++e) {
    names.push_back(parseErrorName(static_cast<ParseError>(e)));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(std::count(names.begin(), names.end(), "unknown"), 0);
}

// --- Limits -----------------------------------------------------------------

ParserLimits smallLimits() {
  ParserLimits limits;
  limits.max_start_line = 40;
  limits.max_header_line = 30;
  limits.max_headers = 4;
  limits.max_header_bytes = 100;
  limits.max_content_length = 10;
  limits.max_interleaved_frame = 16;
  return limits;
}

ParseError errorOf(const std::string& input, const ParserLimits& limits) {
  EventLog log;
  RtspParser parser(log, limits);
  parser.feed(input);
  EXPECT_LE(parser.allocatedBytes(), RtspParser::memoryBound(limits));
  return parser.error();
}

std::string requestWithUrlLength(size_t line_length) {
  // "DESCRIBE " + url + " RTSP/1.0" is line_length long.
  const size_t url = line_length - 18;
  return "DESCRIBE rtsp://h/" + std::string(url - 9, 'a') + " RTSP/1.0\r\n\r\n";
}

TEST(RtspParserLimits, StartLine) {
  const ParserLimits limits = smallLimits();
  EXPECT_EQ(requestWithUrlLength(40).size(), 44u);
  EXPECT_EQ(errorOf(requestWithUrlLength(40), limits), ParseError::None);
  EXPECT_EQ(errorOf(requestWithUrlLength(41), limits), ParseError::StartLineTooLong);
  // Without a line ending in sight the parser gives up once a legal line
  // could no longer end, not after reading everything.
  EventLog log;
  RtspParser parser(log, limits);
  EXPECT_FALSE(parser.feed(std::string(10000, 'A')));
  EXPECT_EQ(parser.error(), ParseError::StartLineTooLong);
  EXPECT_EQ(parser.bytesConsumed(), 42u);
}

TEST(RtspParserLimits, HeaderLine) {
  const ParserLimits limits = smallLimits();
  const std::string start = "OPTIONS * RTSP/1.0\r\n";
  EXPECT_EQ(errorOf(start + "X-A: " + std::string(25, 'v') + "\r\n\r\n", limits), ParseError::None);
  EXPECT_EQ(errorOf(start + "X-A: " + std::string(26, 'v') + "\r\n\r\n", limits), ParseError::HeaderLineTooLong);
  EXPECT_EQ(errorOf(start + "X-A: " + std::string(26, 'v') + "\n\n", limits), ParseError::HeaderLineTooLong);
  EXPECT_EQ(errorOf(start + "X-A: " + std::string(5000, 'v'), limits), ParseError::HeaderLineTooLong);
}

TEST(RtspParserLimits, HeaderCount) {
  const ParserLimits limits = smallLimits();
  const std::string start = "OPTIONS * RTSP/1.0\r\n";
  EXPECT_EQ(errorOf(start + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits), ParseError::None);
  EXPECT_EQ(errorOf(start + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", limits), ParseError::TooManyHeaders);
}

TEST(RtspParserLimits, TotalHeaderBytes) {
  ParserLimits limits = smallLimits();
  limits.max_headers = 100;
  const std::string start = "OPTIONS * RTSP/1.0\r\n";
  // Four 24-byte lines and the blank line: 98 bytes, then 100, then 102.
  const std::string line = "X-Header: 0123456789ab\r\n";
  ASSERT_EQ(line.size(), 24u);
  EXPECT_EQ(errorOf(start + line + line + line + line + "\r\n", limits), ParseError::None);
  EXPECT_EQ(errorOf(start + line + line + line + "X-Header: 0123456789abcd\r\n" + "\r\n", limits), ParseError::None);
  EXPECT_EQ(errorOf(start + line + line + line + "X-Header: 0123456789abcde\r\n" + "\r\n", limits),
            ParseError::HeadersTooLarge);
  EXPECT_EQ(errorOf(start + line + line + line + line + line, limits), ParseError::HeadersTooLarge);
}

TEST(RtspParserLimits, ContentLength) {
  const ParserLimits limits = smallLimits();
  EXPECT_EQ(errorOf("RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limits), ParseError::None);
  EXPECT_EQ(errorOf("RTSP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a", limits),
            ParseError::ContentLengthTooLarge);
}

TEST(RtspParserLimits, InterleavedFrame) {
  const ParserLimits limits = smallLimits();
  EXPECT_EQ(errorOf(frame(0, std::string(16, 'x')), limits), ParseError::None);
  EXPECT_EQ(errorOf(frame(0, std::string(17, 'x')), limits), ParseError::InterleavedFrameTooLarge);
  EXPECT_EQ(errorOf(std::string("$\x00\xff\xff", 4), limits), ParseError::InterleavedFrameTooLarge);
}

TEST(RtspParserLimits, OversizedLimitsAreClamped) {
  ParserLimits huge;
  huge.max_start_line = UINT32_MAX;
  huge.max_header_line = UINT32_MAX;
  huge.max_header_bytes = UINT32_MAX;
  huge.max_headers = UINT32_MAX;
  huge.max_interleaved_frame = UINT32_MAX;
  EventLog log;
  RtspParser parser(log, huge);
  EXPECT_EQ(parser.limits().max_start_line, kMaxLineLimit);
  EXPECT_EQ(parser.limits().max_header_bytes, kMaxHeaderBytesLimit);
  EXPECT_EQ(parser.limits().max_headers, kMaxHeadersLimit);
  EXPECT_EQ(parser.limits().max_interleaved_frame, kMaxInterleavedFrameLimit);
}

TEST(RtspParserLimits, HostileInputStaysWithinTheMemoryBound) {
  const ParserLimits limits;  // the defaults
  const size_t bound = RtspParser::memoryBound(limits);
  EXPECT_LT(bound, 90u * 1024u);
  const std::vector<std::string> attacks = {
      std::string(1 << 20, 'A'),
      "OPTIONS * RTSP/1.0\r\n" + std::string(1 << 20, 'B'),
      [] {
        std::string s = "OPTIONS * RTSP/1.0\r\n";
        for (int i = 0; i < 100000; ++i) s += "X: y\r\n";
        return s;
      }(),
      [] {
        std::string s = "OPTIONS * RTSP/1.0\r\n";
        for (int i = 0; i < 2000; ++i) s += "X-Long-Header-Name: " + std::string(3000, 'v') + "\r\n";
        return s;
      }(),
      std::string("$\x00\xff\xff", 4) + std::string(65534, 'f'),
  };
  for (const std::string& attack : attacks) {
    EventLog log;
    RtspParser parser(log, limits);
    for (size_t i = 0; i < attack.size(); i += 1000) {
      parser.feed(std::string_view(attack).substr(i, 1000));
      ASSERT_LE(sizeof(RtspParser) + parser.allocatedBytes(), bound);
    }
  }
}

}  // namespace
}  // namespace rtsp
}  // namespace mediamesh
