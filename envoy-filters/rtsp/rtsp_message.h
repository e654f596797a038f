// The head of one RTSP message (start line, header lines, blank line) as
// RtspParser saw it: the exact bytes received plus where each part lies in
// them. Lookups are views into those bytes, so they live as long as the
// Message and stay byte-exact; rewrite() builds a new head from them with some
// headers replaced and every other byte kept.
//
// A Message is a plain value: copy it to keep a request (e.g. a SETUP waiting
// for relay ports) past the parser's next message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rtsp/rtsp_headers.h"

namespace mediamesh {
namespace rtsp {

enum class MessageType : uint8_t { Request, Response };

// The framing of both versions is the same; the version is kept so the filter
// can answer in the peer's own version.
enum class Version : uint8_t { Rtsp10, Rtsp20 };

// "RTSP/1.0" or "RTSP/2.0".
std::string_view versionText(Version version) noexcept;

struct HeaderField {
  std::string_view name;   // as received
  std::string_view value;  // without surrounding whitespace
};

// One change for Message::rewrite().
struct HeaderEdit {
  enum class Action : uint8_t {
    // The first header of that name gets `value` in place of its old one
    // (name spelling, whitespace and line ending kept); any later headers of
    // the same name are dropped. Absent, it is added after the last header.
    Set,
    // Every header of that name is dropped.
    Remove,
  };
  std::string_view name;
  std::string_view value;
  Action action = Action::Set;
};

class Message {
 public:
  MessageType type() const noexcept { return type_; }
  bool isRequest() const noexcept { return type_ == MessageType::Request; }
  Version version() const noexcept { return version_; }

  // Requests only; empty for responses.
  std::string_view method() const noexcept { return slice(method_); }
  std::string_view url() const noexcept { return slice(url_); }
  // Responses only; 0 and empty for requests.
  uint16_t statusCode() const noexcept { return status_code_; }
  std::string_view reason() const noexcept { return slice(reason_); }

  // The start line without its line ending.
  std::string_view startLine() const noexcept { return slice(start_line_); }
  // Every byte of the head as received, blank line included: the bytes from
  // streamOffset() to streamOffset() + head().size() of the parsed stream.
  std::string_view head() const noexcept { return std::string_view(raw_.data(), raw_.size()); }
  // Offset of the start line's first byte in the parser's input stream, so a
  // filter can find this message in the bytes it holds.
  uint64_t streamOffset() const noexcept { return stream_offset_; }
  // 0 when the message has no Content-Length.
  uint64_t contentLength() const noexcept { return content_length_; }

  size_t headerCount() const noexcept { return headers_.size(); }
  // i < headerCount(), in the order received.
  HeaderField header(size_t i) const noexcept;
  // Case-insensitive; the first header of that name.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  size_t count(std::string_view name) const noexcept;

  // Convenience wrappers over rtsp_headers.h on the first header of that name;
  // false when it is absent or malformed.
  bool cseq(uint32_t& out) const noexcept;
  bool session(SessionHeader& out) const noexcept;

  // Writes into `out` (replacing its contents) this head with `edits`
  // applied; everything not edited is copied byte for byte, so the result is
  // the same length as head() plus the size differences of the edited values.
  // The body is not part of the head: it follows unchanged, so editing
  // Content-Length is the caller's affair. Fails, leaving `out` empty, if an
  // edit's name is not a token or its value holds a control character (other
  // than tab) or surrounding whitespace: a CR or LF there would smuggle a
  // header past the receiver.
  bool rewrite(const HeaderEdit* edits, size_t edit_count, std::string& out) const;

 private:
  friend class RtspParser;

  // Offsets into raw_: the head is bounded by the parser's limits, well
  // under 4 GiB, so 32 bits halve the per-header cost.
  struct Span {
    uint32_t begin = 0;
    uint32_t length = 0;
  };
  // The line starts at name.begin: a header line cannot start with
  // whitespace (that would be obsolete line folding, which is refused).
  struct HeaderLine {
    uint32_t line_end;  // one past the line ending
    Span name;
    Span value;
  };

  std::string_view slice(Span s) const noexcept { return std::string_view(raw_.data() + s.begin, s.length); }
  void reset(uint64_t stream_offset) noexcept;

  std::vector<char> raw_;
  std::vector<HeaderLine> headers_;
  MessageType type_ = MessageType::Request;
  Version version_ = Version::Rtsp10;
  uint16_t status_code_ = 0;
  Span method_;
  Span url_;
  Span reason_;
  Span start_line_;
  uint32_t start_line_end_ = 0;  // one past the start line's line ending
  uint64_t stream_offset_ = 0;
  uint64_t content_length_ = 0;
};

}  // namespace rtsp
}  // namespace mediamesh
