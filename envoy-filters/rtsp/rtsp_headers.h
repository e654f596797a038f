// Parsers for the header values the RTSP filter acts on: CSeq, Session and
// Content-Length (RFC 2326 sections 12.14, 12.37 and 12.17; RFC 7826 keeps
// their syntax). Each takes the value as Message::find() returns it, already
// stripped of surrounding whitespace, and tolerates that whitespace anyway so
// values from elsewhere work too.
//
// Nothing here allocates: results are numbers or views into the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mediamesh {
namespace rtsp {

// RFC 7826 caps CSeq at 9 digits; RFC 2326 sets no cap. Anything that fits in
// 32 bits is accepted, so a 1.0 peer counting past 999999999 still works.
bool parseCSeq(std::string_view value, uint32_t& out) noexcept;

// RFC 2326 section 12.37: the session lasts `timeout` seconds without a
// request when the server does not say otherwise.
inline constexpr uint32_t kDefaultSessionTimeoutSeconds = 60;
// RFC 7826 section 18.49 bounds the identifier; 1.0 peers stay far below it.
inline constexpr size_t kMaxSessionIdLength = 256;

struct SessionHeader {
  std::string_view id;  // view into the parsed value
  bool has_timeout = false;
  // kDefaultSessionTimeoutSeconds when the value carries no timeout.
  uint32_t timeout_seconds = kDefaultSessionTimeoutSeconds;
};

// "id" or "id;timeout=N", with any other ;parameters skipped. The id is 1 to
// kMaxSessionIdLength visible ASCII characters other than ';' and ',' (wider
// than RFC 2326's "safe" set, which some servers exceed: the filter only needs
// the id as a key). A timeout that is not a 32-bit decimal fails the parse.
bool parseSession(std::string_view value, SessionHeader& out) noexcept;

// Decimal digits only, no sign; fails on anything else, including values that
// do not fit in 64 bits. Range checks against a limit are the caller's.
bool parseContentLength(std::string_view value, uint64_t& out) noexcept;

}  // namespace rtsp
}  // namespace mediamesh
