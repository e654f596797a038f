// libFuzzer target for the RTSP library: arbitrary bytes become the two
// directions of a connection, each fed to its own RtspParser in random
// chunks, and checked against a parse of the same bytes in one piece. Every
// head that parses also goes through the Transport, URL and header helpers
// and through Message::rewrite(), whose output must parse back. Sanitizers
// (address, undefined) catch memory and arithmetic faults; FUZZ_CHECK traps
// on a broken invariant.
//
// Input layout:
//   byte 0   limits: bit 0 picks small limits (so every limit is reachable
//            with short inputs), bits 1..7 vary them
//   byte 1   seed for the chunk sizes
//   byte 2   where the rest is cut into the client and the server stream
//   rest     the two streams
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "rtsp/rtsp_headers.h"
#include "rtsp/rtsp_message.h"
#include "rtsp/rtsp_parser.h"
#include "rtsp/rtsp_text.h"
#include "rtsp/rtsp_transport.h"
#include "rtsp/rtsp_url.h"

namespace {

using namespace mediamesh::rtsp;

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                                   \
    }                                                                                     \
  } while (0)

bool contains(std::string_view outer, std::string_view inner) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

void checkTransport(std::string_view value) {
  std::vector<TransportSpec> specs;
  const char* reason = nullptr;
  if (!parseTransport(value, specs, &reason)) {
    FUZZ_CHECK(specs.empty() && reason != nullptr);
    return;
  }
  FUZZ_CHECK(!specs.empty() && specs.size() <= kMaxTransportSpecs);
  const std::string once = serializeTransport(specs);
  std::vector<TransportSpec> again;
  FUZZ_CHECK(parseTransport(once, again));
  FUZZ_CHECK(again == specs);
  FUZZ_CHECK(serializeTransport(again) == once);
  for (TransportSpec& spec : specs) {
    FUZZ_CHECK(spec.params.size() <= kMaxTransportParams);
    (void)spec.lowerTransport();
    (void)spec.ssrc();
    (void)spec.mode();
    (void)spec.destination();
    (void)spec.source();
    FUZZ_CHECK(!(spec.isUnicast() && spec.isMulticast()));
    // Known parameters were validated, so their accessors must succeed.
    if (spec.find("client_port") != nullptr) FUZZ_CHECK(spec.clientPort().has_value());
    if (spec.find("server_port") != nullptr) FUZZ_CHECK(spec.serverPort().has_value());
    if (spec.find("interleaved") != nullptr) FUZZ_CHECK(spec.interleaved().has_value());
    if (spec.find("ssrc") != nullptr) FUZZ_CHECK(spec.ssrc().has_value());
    // The filter's rewrite: new ports, then a round trip.
    const std::optional<PortRange> client = spec.clientPort();
    spec.setClientPort(PortRange::pair(40000, 40001));
    spec.setServerPort(client.value_or(PortRange::single(7)));
    FUZZ_CHECK(spec.clientPort() == PortRange::pair(40000, 40001));
  }
  // Setting a parameter may take a spec past the parse limits (a 33rd
  // parameter, a longer header); the round trip holds within them.
  bool within_limits = true;
  for (const TransportSpec& spec : specs) {
    within_limits = within_limits && spec.params.size() <= kMaxTransportParams;
  }
  const std::string rewritten = serializeTransport(specs);
  if (within_limits && rewritten.size() <= kMaxTransportLength) {
    FUZZ_CHECK(parseTransport(rewritten, again) && again == specs);
  }
}

void checkUrl(std::string_view url) {
  RtspUrl parts;
  if (!splitUrl(url, parts)) {
    FUZZ_CHECK(parts.host.empty() && parts.path.empty());
    return;
  }
  if (parts.is_asterisk) {
    FUZZ_CHECK(url == "*");
    return;
  }
  FUZZ_CHECK(!parts.host.empty() && parts.port != 0);
  FUZZ_CHECK(contains(url, parts.host) && contains(url, parts.userinfo) && contains(url, parts.query));
  FUZZ_CHECK(parts.path == "/" || contains(url, parts.path));
  FUZZ_CHECK(!parts.path.empty() && parts.path[0] == '/');
}

// Re-serialises the head with Transport set and CSeq removed, and checks the
// result parses to the same headers but for those two.
void checkRewrite(const Message& message) {
  std::string same;
  FUZZ_CHECK(message.rewrite(nullptr, 0, same));
  FUZZ_CHECK(same == message.head());

  const HeaderEdit edits[] = {
      {"Transport", "RTP/AVP;unicast;client_port=40000-40001"},
      {"CSeq", "", HeaderEdit::Action::Remove},
  };
  std::string out;
  FUZZ_CHECK(message.rewrite(edits, 2, out));

  struct Reparse : ParserCallbacks {
    bool complete = false;
    Message message;
    void onHeadersComplete(const Message& m) override {
      if (!complete) {
        message = m;
        complete = true;
      }
    }
  } reparse;
  ParserLimits roomy;
  roomy.max_start_line = kMaxLineLimit;
  roomy.max_header_line = kMaxLineLimit;
  roomy.max_header_bytes = kMaxHeaderBytesLimit;
  roomy.max_headers = kMaxHeadersLimit;
  roomy.max_content_length = UINT64_MAX;
  RtspParser parser(reparse, roomy);
  FUZZ_CHECK(parser.feed(out));
  FUZZ_CHECK(reparse.complete);
  const Message& again = reparse.message;
  FUZZ_CHECK(again.startLine() == message.startLine());
  FUZZ_CHECK(again.count("CSeq") == 0);
  FUZZ_CHECK(again.count("Transport") == 1);
  FUZZ_CHECK(again.find("Transport") == std::optional<std::string_view>(edits[0].value));
  size_t j = 0;
  for (size_t i = 0; i < message.headerCount(); ++i) {
    const HeaderField h = message.header(i);
    if (equalsIgnoreCase(h.name, "CSeq") || equalsIgnoreCase(h.name, "Transport")) {
      continue;
    }
    while (j < again.headerCount() && equalsIgnoreCase(again.header(j).name, "Transport")) {
      ++j;
    }
    FUZZ_CHECK(j < again.headerCount());
    FUZZ_CHECK(again.header(j).name == h.name && again.header(j).value == h.value);
    ++j;
  }
}

// Writes every event into a log; the log of a chunked parse must equal the
// log of the whole. Body pieces are joined, as their cut points legitimately
// differ.
class Recorder : public ParserCallbacks {
 public:
  Recorder(std::string_view stream, bool deep) : stream_(stream), deep_(deep) {}
  std::string log;

  void onRequestLine(std::string_view method, std::string_view url, Version version) override {
    FUZZ_CHECK(!method.empty() && !url.empty());
    log += "Q" + std::string(method) + " " + std::string(url) + std::string(versionText(version)) + "\n";
    if (deep_) {
      checkUrl(url);
    }
  }
  void onStatusLine(Version version, uint16_t status, std::string_view reason) override {
    FUZZ_CHECK(status >= 100 && status <= 999);
    log += "S" + std::string(versionText(version)) + std::to_string(status) + std::string(reason) + "\n";
  }
  void onHeader(std::string_view name, std::string_view value) override {
    FUZZ_CHECK(!name.empty());
    log += "H" + std::string(name) + ":" + std::string(value) + "\n";
  }
  void onHeadersComplete(const Message& m) override {
    log += "C" + std::to_string(m.contentLength()) + "@" + std::to_string(m.streamOffset()) + "\n";
    FUZZ_CHECK(m.streamOffset() + m.head().size() <= stream_.size());
    FUZZ_CHECK(m.head() == stream_.substr(m.streamOffset(), m.head().size()));
    FUZZ_CHECK(m.head().size() >= 2 && m.head().substr(m.head().size() - 1) == "\n");
    body_seen_ = 0;
    if (!deep_) {
      return;
    }
    uint32_t cseq;
    (void)m.cseq(cseq);
    SessionHeader session;
    if (m.session(session)) {
      FUZZ_CHECK(!session.id.empty() && session.id.size() <= kMaxSessionIdLength);
    }
    if (const std::optional<std::string_view> transport = m.find("Transport")) {
      checkTransport(*transport);
    }
    checkRewrite(m);
  }
  void onBody(std::string_view piece, uint64_t offset) override {
    FUZZ_CHECK(offset == body_seen_ && !piece.empty());
    if (body_seen_ == 0) {
      log += "B";
    }
    body_seen_ += piece.size();
    log += piece;
  }
  void onMessageComplete(const Message& m) override {
    FUZZ_CHECK(body_seen_ == m.contentLength());
    log += body_seen_ > 0 ? "\nE\n" : "E\n";
  }
  void onInterleavedFrame(const InterleavedFrame& f) override {
    FUZZ_CHECK(f.length > 0 && f.stream_offset + 4 + f.length <= stream_.size());
    FUZZ_CHECK(std::string_view(reinterpret_cast<const char*>(f.data), f.length) ==
               stream_.substr(f.stream_offset + 4, f.length));
    log += "F" + std::to_string(f.channel) + "@" + std::to_string(f.stream_offset) + "\n";
  }
  void onError(ParseError error, std::string_view reason) override {
    FUZZ_CHECK(error != ParseError::None && !reason.empty());
    log += std::string("X") + parseErrorName(error) + "\n";
  }

 private:
  std::string_view stream_;
  bool deep_;
  uint64_t body_seen_ = 0;
};

// A cheap generator for chunk sizes, mostly small with some large ones.
class Chunker {
 public:
  explicit Chunker(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    switch (state_ & 3) {
      case 0: return 1;
      case 1: return 1 + (state_ >> 8) % 8;
      case 2: return 1 + (state_ >> 8) % 200;
      default: return 1 + (state_ >> 8) % 5000;
    }
  }

 private:
  uint32_t state_;
};

ParserLimits limitsFrom(uint8_t b) {
  ParserLimits limits;
  if ((b & 1) == 0) {
    return limits;
  }
  limits.max_start_line = 16 + ((b >> 1) & 3) * 24;
  limits.max_header_line = 8 + ((b >> 3) & 3) * 20;
  limits.max_headers = 1 + ((b >> 5) & 3) * 3;
  limits.max_header_bytes = 32 + ((b >> 1) & 7) * 40;
  limits.max_content_length = (b >> 4) & 0x0f;
  limits.max_interleaved_frame = 1 + ((b >> 2) & 0x1f) * 9;
  return limits;
}

void checkDirection(std::string_view stream, const ParserLimits& limits, Chunker& chunker) {
  Recorder whole_log(stream, /*deep=*/true);
  RtspParser whole(whole_log, limits);
  const bool whole_ok = whole.feed(stream);
  FUZZ_CHECK(whole_ok == !whole.failed());
  FUZZ_CHECK(sizeof(RtspParser) + whole.allocatedBytes() <= RtspParser::memoryBound(limits));

  Recorder chunked_log(stream, /*deep=*/false);
  RtspParser chunked(chunked_log, limits);
  size_t pos = 0;
  while (pos < stream.size()) {
    const size_t n = std::min(chunker.next(), stream.size() - pos);
    const bool ok = chunked.feed(stream.substr(pos, n));
    FUZZ_CHECK(ok == !chunked.failed());
    FUZZ_CHECK(sizeof(RtspParser) + chunked.allocatedBytes() <= RtspParser::memoryBound(limits));
    pos += n;
    if (!ok) {
      break;
    }
  }
  FUZZ_CHECK(chunked_log.log == whole_log.log);
  FUZZ_CHECK(chunked.error() == whole.error());
  FUZZ_CHECK(chunked.bytesConsumed() == whole.bytesConsumed());
  if (whole.failed()) {
    FUZZ_CHECK(whole.errorOffset() == chunked.errorOffset());
    FUZZ_CHECK(whole.errorOffset() <= whole.bytesConsumed() && whole.bytesConsumed() <= stream.size());
    FUZZ_CHECK(!whole.feed("OPTIONS * RTSP/1.0\r\n\r\n"));
  } else {
    FUZZ_CHECK(whole.bytesConsumed() == stream.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) {
    return 0;
  }
  const ParserLimits limits = limitsFrom(data[0]);
  Chunker chunker(data[1]);
  const std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  const size_t cut = rest.size() * data[2] / 255;
  // Exact-size copies, so a read past either stream is an ASan report.
  const std::string client(rest.substr(0, cut));
  const std::string server(rest.substr(cut));
  checkDirection(client, limits, chunker);
  checkDirection(server, limits, chunker);
  // The Transport and URL helpers on raw bytes too, not only on what the
  // parser let through as a header value or request URL.
  checkTransport(client);
  checkUrl(server);
  return 0;
}
