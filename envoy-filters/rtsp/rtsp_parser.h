// Incremental parser for one direction of an RTSP connection: RTSP 1.0
// (RFC 2326) with RTSP 2.0 (RFC 7826) framing tolerated, requests and
// responses in either direction (servers send requests too: ANNOUNCE,
// GET_PARAMETER, SET_PARAMETER, PLAY_NOTIFY), Content-Length bodies,
// pipelining, and `$`-interleaved binary frames (RFC 2326 section 10.12)
// between messages. Use one parser per direction.
//
// Feed it the bytes as they arrive, split anywhere: the events and their
// order do not depend on how the stream was cut, except for how a body is
// divided among onBody calls. Events arrive through
// ParserCallbacks while feed() runs:
//   onRequestLine | onStatusLine, onHeader*, onHeadersComplete, onBody*,
//   onMessageComplete                                    for each message,
//   onInterleavedFrame                                   for each `$` frame,
//   onError                                              once, at the end.
//
// Interleaved frames are delivered whole, one event per frame, with the
// channel and the complete payload. A frame that arrives inside one feed()
// chunk is handed over in place (no copy); only a frame split across chunks is
// gathered in a buffer bounded by max_interleaved_frame. That keeps the per
// packet path free of allocation once the buffer has grown to the largest
// split frame seen, and lets the caller feed each payload straight to
// rtp::parsePacket().
//
// Bodies are not buffered: onBody hands over each piece as it arrives.
//
// Errors. Malformed input or a limit exceeded puts the parser in a terminal
// state: onError fires once, feed() returns false from then on and ignores its
// input. There is no recovery because RTSP has no resynchronisation point: after
// a framing error the next byte may be anywhere in a body or a binary frame.
// The caller closes the connection (optionally after answering 400/413/505).
//
// Memory. A parser owns three buffers, each grown on demand, never past its
// bound, and never shrunk (so a steady stream reuses them):
//   head     max_start_line + 2 + max_header_bytes   (start line and headers)
//   headers  max_headers * 20 bytes                  (header index)
//   frame    max_interleaved_frame                   (split `$` frames only)
// memoryBound() adds them to sizeof(RtspParser); allocatedBytes() reports the
// current capacities. With the defaults the bound is about 86 KiB, of which a
// typical camera session touches a few KiB.
//
// Not thread-safe; callbacks must not call feed() on the same parser, must not
// destroy it, and must not throw. Views passed to callbacks are valid only
// during the callback; the Message stays valid until the next message's first
// byte is parsed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rtsp/rtsp_message.h"

namespace mediamesh {
namespace rtsp {

struct ParserLimits {
  // Request or status line, line ending not counted.
  uint32_t max_start_line = 4096;
  // One header line, line ending not counted.
  uint32_t max_header_line = 4096;
  uint32_t max_headers = 64;
  // All header lines with their line endings, the closing blank line included.
  uint32_t max_header_bytes = 16384;
  // Content-Length above this is an error; bodies are streamed, not held.
  uint64_t max_content_length = 1u << 20;
  // Payload bytes of one `$` frame; the wire format caps it at 65535.
  uint32_t max_interleaved_frame = 65535;
};

// Limits above these are lowered to them, which keeps offsets within 32 bits.
inline constexpr uint32_t kMaxLineLimit = 1u << 20;
inline constexpr uint32_t kMaxHeaderBytesLimit = 1u << 24;
inline constexpr uint32_t kMaxHeadersLimit = 1u << 16;
inline constexpr uint32_t kMaxInterleavedFrameLimit = 65535;

enum class ParseError : uint8_t {
  None,
  // Limits.
  StartLineTooLong,
  HeaderLineTooLong,
  TooManyHeaders,
  HeadersTooLarge,
  ContentLengthTooLarge,
  InterleavedFrameTooLarge,
  // Malformed input.
  GarbageAtMessageStart,  // a message must start with a method, "RTSP/" or '$'
  BadRequestLine,
  BadStatusLine,
  UnsupportedVersion,  // well formed but not RTSP/1.0 or RTSP/2.0
  HeaderWithoutColon,
  BadHeaderName,
  ObsoleteLineFolding,  // a header line starting with space or tab
  ControlCharacter,
  BadLineEnding,  // a CR not followed by LF
  BadContentLength,
  ConflictingContentLength,
  BadInterleavedLength,  // a zero-length `$` frame
};

// Stable lower-case name, e.g. "headers_too_large", for stats and logs.
const char* parseErrorName(ParseError error) noexcept;

struct InterleavedFrame {
  uint8_t channel;
  const uint8_t* data;  // the payload, length bytes
  size_t length;        // 1..max_interleaved_frame
  uint64_t stream_offset;  // of the '$'
};

class ParserCallbacks {
 public:
  virtual ~ParserCallbacks() = default;
  virtual void onRequestLine(std::string_view /*method*/, std::string_view /*url*/, Version) {}
  virtual void onStatusLine(Version, uint16_t /*status_code*/, std::string_view /*reason*/) {}
  // Value without surrounding whitespace.
  virtual void onHeader(std::string_view /*name*/, std::string_view /*value*/) {}
  // The whole head is parsed; message.contentLength() body bytes follow.
  virtual void onHeadersComplete(const Message& /*message*/) {}
  // `offset` is where the piece starts within the body.
  virtual void onBody(std::string_view /*piece*/, uint64_t /*offset*/) {}
  virtual void onMessageComplete(const Message& /*message*/) {}
  virtual void onInterleavedFrame(const InterleavedFrame& /*frame*/) {}
  virtual void onError(ParseError, std::string_view /*reason*/) {}
};

class RtspParser {
 public:
  explicit RtspParser(ParserCallbacks& callbacks, const ParserLimits& limits = ParserLimits{});
  RtspParser(const RtspParser&) = delete;
  RtspParser& operator=(const RtspParser&) = delete;

  // Parses all of `data` and returns true, or stops at the first error and
  // returns false (and false for every later call).
  bool feed(const uint8_t* data, size_t length);
  bool feed(std::string_view data) {
    return feed(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }

  bool failed() const noexcept { return error_ != ParseError::None; }
  ParseError error() const noexcept { return error_; }
  // A short fixed sentence, e.g. "Content-Length is not a decimal number".
  std::string_view errorReason() const noexcept { return error_reason_; }
  // Stream offset of the offending byte for character and framing errors,
  // of the start of the offending line for line errors, of the length field
  // for frame errors.
  uint64_t errorOffset() const noexcept { return error_offset_; }

  // Bytes consumed so far: the stream offset of the next byte.
  uint64_t bytesConsumed() const noexcept { return offset_; }
  // True between messages and frames (blank lines included), when closing
  // the connection cuts nothing in half.
  bool atMessageBoundary() const noexcept { return state_ == State::MessageStart; }
  // True while a start line or headers are being gathered: a filter that may
  // rewrite the head holds these bytes until onHeadersComplete.
  bool inHead() const noexcept { return state_ == State::StartLine || state_ == State::HeaderLine; }
  // The current (or last) message's head; see the top of this file.
  const Message& message() const noexcept { return message_; }

  const ParserLimits& limits() const noexcept { return limits_; }
  size_t allocatedBytes() const noexcept;
  static size_t memoryBound(const ParserLimits& limits) noexcept;

 private:
  enum class State : uint8_t {
    MessageStart,
    BlankLineLf,  // a CR between messages, LF expected
    StartLine,
    HeaderLine,
    Body,
    FrameHeader,
    FramePayload,
    Failed,
  };

  static ParserLimits clampLimits(const ParserLimits& limits) noexcept;
  size_t headBound() const noexcept;

  size_t consumeLine(const uint8_t* data, size_t length);
  void finishStartLine(size_t line_end, size_t content_end);
  void finishHeaderLine(size_t line_end, size_t content_end);
  void finishHead();
  void parseRequestLine(std::string_view line);
  void parseStatusLine(std::string_view line);
  void noteContentLength(std::string_view value, uint64_t line_offset);
  void completeMessage();
  void fail(ParseError error, const char* reason);
  void fail(ParseError error, const char* reason, uint64_t offset);

  ParserCallbacks& callbacks_;
  const ParserLimits limits_;
  State state_ = State::MessageStart;
  uint64_t offset_ = 0;

  Message message_;
  size_t line_begin_ = 0;     // in message_.raw_, of the line being gathered
  size_t header_bytes_ = 0;   // completed header lines, endings included
  bool content_length_seen_ = false;
  uint64_t body_remaining_ = 0;
  uint64_t body_offset_ = 0;

  uint8_t frame_header_[4] = {};
  size_t frame_header_size_ = 0;
  size_t frame_length_ = 0;
  uint64_t frame_offset_ = 0;
  std::vector<uint8_t> frame_;

  ParseError error_ = ParseError::None;
  std::string_view error_reason_;
  uint64_t error_offset_ = 0;
  bool feeding_ = false;
};

}  // namespace rtsp
}  // namespace mediamesh
