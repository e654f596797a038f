#include "rtsp/rtsp_parser.h"

#include <algorithm>
#include <cstring>

#include "rtsp/rtsp_text.h"

namespace mediamesh {
namespace rtsp {

namespace {

// Grows `v` to hold `needed` elements, doubling so that a head or frame
// growing byte by byte costs a logarithmic number of allocations, but never
// past `bound`, which the callers guarantee covers `needed`. reserve() on a
// vector allocates exactly what it is asked (unlike std::string's), which
// is what makes the documented bound exact.
template <typename T>
void growFor(std::vector<T>& v, size_t needed, size_t bound, size_t minimum) {
  if (needed <= v.capacity()) {
    return;
  }
  size_t target = std::max({needed, v.capacity() * 2, minimum});
  v.reserve(std::min(target, std::max(bound, needed)));
}

enum class VersionVerdict : uint8_t { Ok, Malformed, Unsupported };

// protocol "/" 1*DIGIT "." 1*DIGIT: the shape of both RTSP-Version and
// HTTP-Version, so "HTTP/1.1" is told apart from a broken line.
VersionVerdict parseVersion(std::string_view text, Version& out) noexcept {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return VersionVerdict::Malformed;
  }
  for (size_t i = 0; i < slash; ++i) {
    if (!isAlpha(static_cast<unsigned char>(text[i]))) {
      return VersionVerdict::Malformed;
    }
  }
  const std::string_view numbers = text.substr(slash + 1);
  const size_t dot = numbers.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == numbers.size()) {
    return VersionVerdict::Malformed;
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i != dot && !isDigit(static_cast<unsigned char>(numbers[i]))) {
      return VersionVerdict::Malformed;
    }
  }
  if (text == "RTSP/1.0") {
    out = Version::Rtsp10;
    return VersionVerdict::Ok;
  }
  if (text == "RTSP/2.0") {
    out = Version::Rtsp20;
    return VersionVerdict::Ok;
  }
  return VersionVerdict::Unsupported;
}

constexpr size_t kMinHeadCapacity = 256;
constexpr size_t kMinHeaderIndexCapacity = 8;
constexpr size_t kMinFrameCapacity = 1024;

}  // namespace

const char* parseErrorName(ParseError error) noexcept {
  switch (error) {
    case ParseError::None: return "none";
    case ParseError::StartLineTooLong: return "start_line_too_long";
    case ParseError::HeaderLineTooLong: return "header_line_too_long";
    case ParseError::TooManyHeaders: return "too_many_headers";
    case ParseError::HeadersTooLarge: return "headers_too_large";
    case ParseError::ContentLengthTooLarge: return "content_length_too_large";
    case ParseError::InterleavedFrameTooLarge: return "interleaved_frame_too_large";
    case ParseError::GarbageAtMessageStart: return "garbage_at_message_start";
    case ParseError::BadRequestLine: return "bad_request_line";
    case ParseError::BadStatusLine: return "bad_status_line";
    case ParseError::UnsupportedVersion: return "unsupported_version";
    case ParseError::HeaderWithoutColon: return "header_without_colon";
    case ParseError::BadHeaderName: return "bad_header_name";
    case ParseError::ObsoleteLineFolding: return "obsolete_line_folding";
    case ParseError::ControlCharacter: return "control_character";
    case ParseError::BadLineEnding: return "bad_line_ending";
    case ParseError::BadContentLength: return "bad_content_length";
    case ParseError::ConflictingContentLength: return "conflicting_content_length";
    case ParseError::BadInterleavedLength: return "bad_interleaved_length";
  }
  return "unknown";
}

ParserLimits RtspParser::clampLimits(const ParserLimits& limits) noexcept {
  ParserLimits out = limits;
  out.max_start_line = std::min(out.max_start_line, kMaxLineLimit);
  out.max_header_line = std::min(out.max_header_line, kMaxLineLimit);
  out.max_header_bytes = std::min(out.max_header_bytes, kMaxHeaderBytesLimit);
  out.max_headers = std::min(out.max_headers, kMaxHeadersLimit);
  out.max_interleaved_frame = std::min(out.max_interleaved_frame, kMaxInterleavedFrameLimit);
  return out;
}

RtspParser::RtspParser(ParserCallbacks& callbacks, const ParserLimits& limits)
    : callbacks_(callbacks), limits_(clampLimits(limits)) {}

size_t RtspParser::headBound() const noexcept {
  return size_t{limits_.max_start_line} + 2 + limits_.max_header_bytes;
}

size_t RtspParser::allocatedBytes() const noexcept {
  return message_.raw_.capacity() + message_.headers_.capacity() * sizeof(Message::HeaderLine) +
         frame_.capacity();
}

size_t RtspParser::memoryBound(const ParserLimits& limits) noexcept {
  const ParserLimits l = clampLimits(limits);
  return sizeof(RtspParser) + size_t{l.max_start_line} + 2 + l.max_header_bytes +
         size_t{l.max_headers} * sizeof(Message::HeaderLine) + l.max_interleaved_frame;
}

void RtspParser::fail(ParseError error, const char* reason) { fail(error, reason, offset_); }

void RtspParser::fail(ParseError error, const char* reason, uint64_t offset) {
  error_ = error;
  error_reason_ = reason;
  error_offset_ = offset;
  state_ = State::Failed;
  callbacks_.onError(error, error_reason_);
}

bool RtspParser::feed(const uint8_t* data, size_t length) {
  if (failed() || feeding_) {
    return false;
  }
  feeding_ = true;
  size_t pos = 0;
  while (pos < length && state_ != State::Failed) {
    switch (state_) {
      case State::MessageStart: {
        const uint8_t c = data[pos];
        if (c == '$') {
          frame_header_[0] = c;
          frame_header_size_ = 1;
          frame_offset_ = offset_;
          ++pos;
          ++offset_;
          state_ = State::FrameHeader;
        } else if (c == '\n') {
          // Blank lines between messages are tolerated, as RFC 7230 asks of
          // HTTP servers; some RTSP clients end a body with an extra CRLF.
          ++pos;
          ++offset_;
        } else if (c == '\r') {
          ++pos;
          ++offset_;
          state_ = State::BlankLineLf;
        } else if (isTokenChar(c)) {
          message_.reset(offset_);
          line_begin_ = 0;
          header_bytes_ = 0;
          content_length_seen_ = false;
          state_ = State::StartLine;
        } else {
          fail(ParseError::GarbageAtMessageStart, "a message must start with a method, RTSP/ or $");
        }
        break;
      }
      case State::BlankLineLf:
        if (data[pos] == '\n') {
          ++pos;
          ++offset_;
          state_ = State::MessageStart;
        } else {
          fail(ParseError::BadLineEnding, "CR between messages not followed by LF");
        }
        break;
      case State::StartLine:
      case State::HeaderLine:
        pos += consumeLine(data + pos, length - pos);
        break;
      case State::Body: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, length - pos));
        const uint64_t piece_offset = body_offset_;
        body_offset_ += n;
        body_remaining_ -= n;
        offset_ += n;
        callbacks_.onBody(std::string_view(reinterpret_cast<const char*>(data + pos), n), piece_offset);
        pos += n;
        if (body_remaining_ == 0) {
          completeMessage();
        }
        break;
      }
      case State::FrameHeader: {
        while (frame_header_size_ < sizeof(frame_header_) && pos < length) {
          frame_header_[frame_header_size_++] = data[pos++];
          ++offset_;
        }
        if (frame_header_size_ < sizeof(frame_header_)) {
          break;
        }
        frame_length_ = (size_t{frame_header_[2]} << 8) | frame_header_[3];
        if (frame_length_ == 0) {
          fail(ParseError::BadInterleavedLength, "interleaved frame of length 0", frame_offset_ + 2);
        } else if (frame_length_ > limits_.max_interleaved_frame) {
          fail(ParseError::InterleavedFrameTooLarge, "interleaved frame longer than the limit", frame_offset_ + 2);
        } else {
          frame_.clear();
          state_ = State::FramePayload;
        }
        break;
      }
      case State::FramePayload: {
        const size_t available = length - pos;
        InterleavedFrame frame{frame_header_[1], nullptr, frame_length_, frame_offset_};
        if (frame_.empty() && available >= frame_length_) {
          // The common case: the whole payload is in this chunk, so hand it
          // over where it lies.
          frame.data = data + pos;
          pos += frame_length_;
          offset_ += frame_length_;
          state_ = State::MessageStart;
          callbacks_.onInterleavedFrame(frame);
          break;
        }
        growFor(frame_, frame_length_, limits_.max_interleaved_frame, kMinFrameCapacity);
        const size_t n = std::min(frame_length_ - frame_.size(), available);
        frame_.insert(frame_.end(), data + pos, data + pos + n);
        pos += n;
        offset_ += n;
        if (frame_.size() == frame_length_) {
          frame.data = frame_.data();
          state_ = State::MessageStart;
          callbacks_.onInterleavedFrame(frame);
        }
        break;
      }
      case State::Failed:
        break;
    }
  }
  feeding_ = false;
  return !failed();
}

// Gathers bytes of the current start or header line into the head buffer,
// checking characters as they come so binary garbage fails at its first byte
// rather than after a line's worth of it.
size_t RtspParser::consumeLine(const uint8_t* data, size_t length) {
  const bool start_line = state_ == State::StartLine;
  std::vector<char>& raw = message_.raw_;
  const size_t so_far = raw.size() - line_begin_;
  // Room for the longest legal line plus CRLF; a longer line fails below or
  // when its end is seen, so the buffer never holds more than that.
  const size_t line_room = size_t{start_line ? limits_.max_start_line : limits_.max_header_line} + 2;
  size_t allowance = line_room > so_far ? line_room - so_far : 0;
  bool total_binds = false;
  if (!start_line) {
    const size_t total_left = limits_.max_header_bytes - header_bytes_ - so_far;
    if (total_left < allowance) {
      allowance = total_left;
      total_binds = true;
    }
  }
  const size_t window = std::min(length, allowance);
  const void* lf = window == 0 ? nullptr : std::memchr(data, '\n', window);
  const size_t take = lf != nullptr ? static_cast<size_t>(static_cast<const uint8_t*>(lf) - data) + 1 : window;

  const size_t old_size = raw.size();
  growFor(raw, old_size + take, headBound(), kMinHeadCapacity);
  raw.insert(raw.end(), reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + take);
  for (size_t i = old_size; i < raw.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    const bool after_cr = i > line_begin_ && raw[i - 1] == '\r';
    if (after_cr && c != '\n') {
      offset_ += i - old_size;
      fail(ParseError::BadLineEnding, "CR not followed by LF");
      return i - old_size;
    }
    if (c != '\r' && c != '\n' && isForbiddenControl(c)) {
      offset_ += i - old_size;
      fail(ParseError::ControlCharacter, start_line ? "control character in the start line"
                                                    : "control character in a header line");
      return i - old_size;
    }
  }
  offset_ += take;

  if (lf != nullptr) {
    const size_t line_end = raw.size();
    size_t content_end = line_end - 1;
    if (content_end > line_begin_ && raw[content_end - 1] == '\r') {
      --content_end;
    }
    if (start_line) {
      finishStartLine(line_end, content_end);
    } else {
      finishHeaderLine(line_end, content_end);
    }
  } else if (window < length) {
    // More bytes wait, and not even a line ending would fit.
    if (start_line) {
      fail(ParseError::StartLineTooLong, "start line longer than the limit");
    } else if (total_binds) {
      fail(ParseError::HeadersTooLarge, "headers larger than the limit");
    } else {
      fail(ParseError::HeaderLineTooLong, "header line longer than the limit");
    }
  }
  return take;
}

void RtspParser::finishStartLine(size_t line_end, size_t content_end) {
  const std::vector<char>& raw = message_.raw_;
  const std::string_view line(raw.data() + line_begin_, content_end - line_begin_);
  if (line.size() > limits_.max_start_line) {
    fail(ParseError::StartLineTooLong, "start line longer than the limit");
    return;
  }
  message_.start_line_ = Message::Span{static_cast<uint32_t>(line_begin_), static_cast<uint32_t>(line.size())};
  message_.start_line_end_ = static_cast<uint32_t>(line_end);
  // "RTSP/" cannot begin a method ('/' is not a token character), so the
  // prefix alone tells a status line from a request line.
  if (line.substr(0, 5) == "RTSP/") {
    parseStatusLine(line);
  } else {
    parseRequestLine(line);
  }
  if (failed()) {
    return;
  }
  state_ = State::HeaderLine;
  line_begin_ = line_end;
  header_bytes_ = 0;
  if (message_.isRequest()) {
    callbacks_.onRequestLine(message_.method(), message_.url(), message_.version());
  } else {
    callbacks_.onStatusLine(message_.version(), message_.statusCode(), message_.reason());
  }
}

// Exactly one space between the parts, as both RFCs write it: accepting runs
// of spaces or tabs would let this parser and the server split a line
// differently.
void RtspParser::parseRequestLine(std::string_view line) {
  const uint64_t at = message_.stream_offset_;
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    fail(ParseError::BadRequestLine, "request line is not METHOD URL VERSION", at);
    return;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view url = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!isTokenChar(static_cast<unsigned char>(c))) {
      fail(ParseError::BadRequestLine, "method is not a token", at);
      return;
    }
  }
  if (url.empty()) {
    fail(ParseError::BadRequestLine, "request line has no URL", at);
    return;
  }
  for (char c : url) {
    if (!isVisibleAscii(static_cast<unsigned char>(c))) {
      fail(ParseError::BadRequestLine, "URL holds a character that is not visible ASCII", at);
      return;
    }
  }
  Version parsed = Version::Rtsp10;
  switch (parseVersion(version, parsed)) {
    case VersionVerdict::Ok:
      break;
    case VersionVerdict::Malformed:
      fail(ParseError::BadRequestLine, "request line has no protocol version", at);
      return;
    case VersionVerdict::Unsupported:
      fail(ParseError::UnsupportedVersion, "version is not RTSP/1.0 or RTSP/2.0", at);
      return;
  }
  const uint32_t base = static_cast<uint32_t>(line_begin_);
  message_.type_ = MessageType::Request;
  message_.version_ = parsed;
  message_.method_ = Message::Span{base, static_cast<uint32_t>(sp1)};
  message_.url_ = Message::Span{static_cast<uint32_t>(base + sp1 + 1), static_cast<uint32_t>(url.size())};
}

void RtspParser::parseStatusLine(std::string_view line) {
  const uint64_t at = message_.stream_offset_;
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    fail(ParseError::BadStatusLine, "status line has no status code", at);
    return;
  }
  Version parsed = Version::Rtsp10;
  switch (parseVersion(line.substr(0, sp), parsed)) {
    case VersionVerdict::Ok:
      break;
    case VersionVerdict::Malformed:
      fail(ParseError::BadStatusLine, "status line has a malformed version", at);
      return;
    case VersionVerdict::Unsupported:
      fail(ParseError::UnsupportedVersion, "version is not RTSP/1.0 or RTSP/2.0", at);
      return;
  }
  const std::string_view code = line.substr(sp + 1, 3);
  uint64_t status = 0;
  const bool code_ends = line.size() == sp + 4 || (line.size() > sp + 4 && line[sp + 4] == ' ');
  if (code.size() != 3 || !code_ends || !parseDecimal(code, 999, status) || status < 100) {
    fail(ParseError::BadStatusLine, "status code is not three digits from 100 to 999", at);
    return;
  }
  const uint32_t base = static_cast<uint32_t>(line_begin_);
  message_.type_ = MessageType::Response;
  message_.version_ = parsed;
  message_.status_code_ = static_cast<uint16_t>(status);
  // The reason phrase may be empty, and "RTSP/1.0 200" without the space
  // before it is taken as such: several embedded servers send that.
  if (line.size() > sp + 5) {
    message_.reason_ =
        Message::Span{static_cast<uint32_t>(base + sp + 5), static_cast<uint32_t>(line.size() - sp - 5)};
  } else {
    message_.reason_ = Message::Span{static_cast<uint32_t>(base + line.size()), 0};
  }
}

void RtspParser::finishHeaderLine(size_t line_end, size_t content_end) {
  const std::vector<char>& raw = message_.raw_;
  const uint64_t line_offset = message_.stream_offset_ + line_begin_;
  const std::string_view line(raw.data() + line_begin_, content_end - line_begin_);
  if (line.empty()) {
    header_bytes_ += line_end - line_begin_;
    line_begin_ = line_end;
    finishHead();
    return;
  }
  if (line.size() > limits_.max_header_line) {
    fail(ParseError::HeaderLineTooLong, "header line longer than the limit", line_offset);
    return;
  }
  if (line[0] == ' ' || line[0] == '\t') {
    // RFC 7230 section 3.2.4 lets a recipient refuse folding; joining lines
    // here while the server splits them would hide a header from one of us.
    fail(ParseError::ObsoleteLineFolding, "header line starts with whitespace (obsolete folding)", line_offset);
    return;
  }
  if (message_.headers_.size() >= limits_.max_headers) {
    fail(ParseError::TooManyHeaders, "more headers than the limit", line_offset);
    return;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    fail(ParseError::HeaderWithoutColon, "header line without a colon", line_offset);
    return;
  }
  const std::string_view name = line.substr(0, colon);
  for (char c : name) {
    if (!isTokenChar(static_cast<unsigned char>(c))) {
      // Space before the colon included: RFC 7230 section 3.2.4 forbids it
      // for the same reason as folding.
      fail(ParseError::BadHeaderName, "header name is not a token", line_offset);
      return;
    }
  }
  if (name.empty()) {
    fail(ParseError::BadHeaderName, "header name is empty", line_offset);
    return;
  }
  size_t value_begin = colon + 1;
  while (value_begin < line.size() && (line[value_begin] == ' ' || line[value_begin] == '\t')) {
    ++value_begin;
  }
  size_t value_end = line.size();
  while (value_end > value_begin && (line[value_end - 1] == ' ' || line[value_end - 1] == '\t')) {
    --value_end;
  }
  const std::string_view value = line.substr(value_begin, value_end - value_begin);
  if (equalsIgnoreCase(name, "Content-Length")) {
    noteContentLength(value, line_offset);
    if (failed()) {
      return;
    }
  }
  const uint32_t base = static_cast<uint32_t>(line_begin_);
  Message::HeaderLine entry{static_cast<uint32_t>(line_end), Message::Span{base, static_cast<uint32_t>(colon)},
                            Message::Span{static_cast<uint32_t>(base + value_begin),
                                          static_cast<uint32_t>(value.size())}};
  growFor(message_.headers_, message_.headers_.size() + 1, limits_.max_headers, kMinHeaderIndexCapacity);
  message_.headers_.push_back(entry);
  header_bytes_ += line_end - line_begin_;
  line_begin_ = line_end;
  callbacks_.onHeader(name, value);
}

void RtspParser::noteContentLength(std::string_view value, uint64_t line_offset) {
  uint64_t length = 0;
  if (!parseContentLength(value, length)) {
    bool digits = !value.empty();
    for (char c : value) {
      digits = digits && isDigit(static_cast<unsigned char>(c));
    }
    if (digits) {
      fail(ParseError::ContentLengthTooLarge, "Content-Length does not fit in 64 bits", line_offset);
    } else if (!value.empty() && value[0] == '-') {
      fail(ParseError::BadContentLength, "Content-Length is negative", line_offset);
    } else {
      fail(ParseError::BadContentLength, "Content-Length is not a decimal number", line_offset);
    }
    return;
  }
  if (content_length_seen_ && length != message_.content_length_) {
    fail(ParseError::ConflictingContentLength, "two Content-Length headers disagree", line_offset);
    return;
  }
  if (length > limits_.max_content_length) {
    fail(ParseError::ContentLengthTooLarge, "Content-Length larger than the limit", line_offset);
    return;
  }
  content_length_seen_ = true;
  message_.content_length_ = length;
}

void RtspParser::finishHead() {
  // RFC 7826 section 18.17: no Content-Length means no body, on requests and
  // responses alike. RFC 2326 also let a response run to connection close,
  // but no RTSP server relies on it and it would make the parser swallow
  // every later byte as body.
  if (message_.content_length_ > 0) {
    state_ = State::Body;
    body_remaining_ = message_.content_length_;
    body_offset_ = 0;
    callbacks_.onHeadersComplete(message_);
    return;
  }
  state_ = State::MessageStart;
  callbacks_.onHeadersComplete(message_);
  callbacks_.onMessageComplete(message_);
}

void RtspParser::completeMessage() {
  state_ = State::MessageStart;
  callbacks_.onMessageComplete(message_);
}

}  // namespace rtsp
}  // namespace mediamesh
