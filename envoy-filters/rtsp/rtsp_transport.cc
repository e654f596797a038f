#include "rtsp/rtsp_transport.h"

#include "rtsp/rtsp_text.h"

namespace mediamesh {
namespace rtsp {

namespace {

// Calls piece(text) for each part of `s` between `separator`s that are not
// inside a double-quoted string (mode="PLAY,RECORD" holds a comma; RFC 7826
// quoted addresses hold ';'). A backslash inside quotes escapes the next
// character. Returns false if a quote is left open or piece() refuses.
template <typename Piece>
bool splitOutsideQuotes(std::string_view s, char separator, Piece piece) {
  bool quoted = false;
  size_t begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == separator) {
      if (!piece(s.substr(begin, i - begin))) {
        return false;
      }
      begin = i + 1;
    }
  }
  if (quoted) {
    return false;
  }
  return piece(s.substr(begin));
}

bool isToken(std::string_view s) noexcept {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!isTokenChar(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// transport-protocol "/" profile [ "/" lower-transport ], each part a token.
bool validProtocol(std::string_view id) noexcept {
  size_t parts = 0;
  while (true) {
    const size_t slash = id.find('/');
    if (!isToken(id.substr(0, slash))) {
      return false;
    }
    ++parts;
    if (slash == std::string_view::npos) {
      break;
    }
    id = id.substr(slash + 1);
  }
  return parts == 2 || parts == 3;
}

// 1*8HEXDIG *("/" 1*8HEXDIG); RFC 2326 asks for exactly 8 digits but servers
// drop leading zeros.
bool parseSsrcList(std::string_view value, uint32_t* first) noexcept {
  bool is_first = true;
  while (true) {
    const size_t slash = value.find('/');
    const std::string_view item = value.substr(0, slash);
    if (item.empty() || item.size() > 8) {
      return false;
    }
    uint32_t number = 0;
    for (char ch : item) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (!isHexDigit(c)) {
        return false;
      }
      const uint32_t digit = isDigit(c) ? c - '0' : (toLowerAscii(static_cast<char>(c)) - 'a' + 10);
      number = (number << 4) | digit;
    }
    if (is_first && first != nullptr) {
      *first = number;
    }
    is_first = false;
    if (slash == std::string_view::npos) {
      return true;
    }
    value = value.substr(slash + 1);
  }
}

enum class Known : uint8_t {
  None, Unicast, Multicast, ClientPort, ServerPort, Port, Interleaved, Ssrc, Mode, Destination, Source,
};

Known knownParam(std::string_view name) noexcept {
  static constexpr struct {
    std::string_view name;
    Known known;
  } kKnown[] = {
      {"unicast", Known::Unicast},       {"multicast", Known::Multicast},
      {"client_port", Known::ClientPort}, {"server_port", Known::ServerPort},
      {"port", Known::Port},             {"interleaved", Known::Interleaved},
      {"ssrc", Known::Ssrc},             {"mode", Known::Mode},
      {"destination", Known::Destination}, {"source", Known::Source},
  };
  for (const auto& k : kKnown) {
    if (equalsIgnoreCase(name, k.name)) {
      return k.known;
    }
  }
  return Known::None;
}

// Checks a parameter the filter may act on; unknown ones only need to be
// well formed, which splitting and the name check already ensured.
bool validKnownParam(Known known, const TransportParam& p, const char** reason) noexcept {
  PortRange range;
  bool ok = true;
  switch (known) {
    case Known::None:
    case Known::Destination:
    case Known::Source:
      break;
    case Known::Unicast:
    case Known::Multicast:
      ok = !p.has_value;
      *reason = ok ? *reason : "unicast and multicast take no value";
      break;
    case Known::ClientPort:
    case Known::ServerPort:
    case Known::Port:
      ok = p.has_value && parsePortRange(p.value, 65535, range);
      *reason = ok ? *reason : "port parameter is not port or port-port";
      break;
    case Known::Interleaved:
      ok = p.has_value && parsePortRange(p.value, 255, range);
      *reason = ok ? *reason : "interleaved is not channel or channel-channel (0..255)";
      break;
    case Known::Ssrc:
      ok = p.has_value && parseSsrcList(p.value, nullptr);
      *reason = ok ? *reason : "ssrc is not hexadecimal";
      break;
    case Known::Mode:
      ok = p.has_value && !p.value.empty();
      *reason = ok ? *reason : "mode has no value";
      break;
  }
  return ok;
}

bool parseSpec(std::string_view text, TransportSpec& spec, const char** reason) {
  bool first = true;
  // Bit per Known value seen, to refuse a repeated parameter: the server and
  // this filter could each read a different one of the two.
  uint32_t seen = 0;
  return splitOutsideQuotes(text, ';', [&](std::string_view piece) {
    piece = trimWhitespace(piece);
    if (first) {
      first = false;
      if (!validProtocol(piece)) {
        *reason = "transport id is not protocol/profile[/lower-transport]";
        return false;
      }
      spec.protocol.assign(piece);
      return true;
    }
    if (piece.empty()) {
      // "RTP/AVP;unicast;" has been seen from clients; nothing to keep.
      return true;
    }
    if (spec.params.size() == kMaxTransportParams) {
      *reason = "too many transport parameters";
      return false;
    }
    TransportParam param;
    const size_t equals = piece.find('=');
    const std::string_view name = trimWhitespace(piece.substr(0, equals));
    if (!isToken(name)) {
      *reason = "transport parameter name is not a token";
      return false;
    }
    param.name.assign(name);
    if (equals != std::string_view::npos) {
      param.has_value = true;
      param.value.assign(trimWhitespace(piece.substr(equals + 1)));
    }
    const Known known = knownParam(name);
    if (!validKnownParam(known, param, reason)) {
      return false;
    }
    if (known != Known::None) {
      const uint32_t bit = 1u << static_cast<uint32_t>(known);
      // unicast and multicast exclude each other as well as repeats.
      const uint32_t clash = (known == Known::Unicast || known == Known::Multicast)
                                 ? (1u << static_cast<uint32_t>(Known::Unicast)) |
                                       (1u << static_cast<uint32_t>(Known::Multicast))
                                 : bit;
      if ((seen & clash) != 0) {
        *reason = "transport parameter repeated or contradicted";
        return false;
      }
      seen |= bit;
    }
    spec.params.push_back(std::move(param));
    return true;
  });
}

std::optional<PortRange> rangeParam(const TransportSpec& spec, std::string_view name, uint32_t max) noexcept {
  const TransportParam* p = spec.find(name);
  PortRange range;
  if (p == nullptr || !p->has_value || !parsePortRange(p->value, max, range)) {
    return std::nullopt;
  }
  return range;
}

std::optional<std::string_view> textParam(const TransportSpec& spec, std::string_view name) noexcept {
  const TransportParam* p = spec.find(name);
  if (p == nullptr) {
    return std::nullopt;
  }
  return std::string_view(p->value);
}

}  // namespace

bool parsePortRange(std::string_view text, uint32_t max, PortRange& out) noexcept {
  const size_t dash = text.find('-');
  uint64_t first = 0;
  if (!parseDecimal(text.substr(0, dash), max, first)) {
    return false;
  }
  if (dash == std::string_view::npos) {
    out = PortRange::single(static_cast<uint16_t>(first));
    return true;
  }
  uint64_t last = 0;
  if (!parseDecimal(text.substr(dash + 1), max, last) || last < first) {
    return false;
  }
  out = PortRange::pair(static_cast<uint16_t>(first), static_cast<uint16_t>(last));
  return true;
}

void appendPortRange(const PortRange& range, std::string& out) {
  out.append(std::to_string(range.first));
  if (range.is_range) {
    out.push_back('-');
    out.append(std::to_string(range.last));
  }
}

LowerTransport TransportSpec::lowerTransport() const noexcept {
  const std::string_view id(protocol);
  const size_t first = id.find('/');
  const size_t second = first == std::string_view::npos ? first : id.find('/', first + 1);
  if (second == std::string_view::npos) {
    return LowerTransport::Udp;
  }
  const std::string_view lower = id.substr(second + 1);
  if (equalsIgnoreCase(lower, "UDP")) {
    return LowerTransport::Udp;
  }
  if (equalsIgnoreCase(lower, "TCP")) {
    return LowerTransport::Tcp;
  }
  return LowerTransport::Other;
}

bool TransportSpec::isUnicast() const noexcept { return find("unicast") != nullptr; }
bool TransportSpec::isMulticast() const noexcept { return find("multicast") != nullptr; }

std::optional<PortRange> TransportSpec::clientPort() const noexcept { return rangeParam(*this, "client_port", 65535); }
std::optional<PortRange> TransportSpec::serverPort() const noexcept { return rangeParam(*this, "server_port", 65535); }
std::optional<PortRange> TransportSpec::interleaved() const noexcept { return rangeParam(*this, "interleaved", 255); }
std::optional<PortRange> TransportSpec::port() const noexcept { return rangeParam(*this, "port", 65535); }

std::optional<uint32_t> TransportSpec::ssrc() const noexcept {
  const TransportParam* p = find("ssrc");
  uint32_t value = 0;
  if (p == nullptr || !p->has_value || !parseSsrcList(p->value, &value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> TransportSpec::mode() const noexcept {
  std::optional<std::string_view> value = textParam(*this, "mode");
  if (value && value->size() >= 2 && value->front() == '"' && value->back() == '"') {
    value = value->substr(1, value->size() - 2);
  }
  return value;
}

std::optional<std::string_view> TransportSpec::destination() const noexcept { return textParam(*this, "destination"); }
std::optional<std::string_view> TransportSpec::source() const noexcept { return textParam(*this, "source"); }

void TransportSpec::setClientPort(const PortRange& range) {
  std::string text;
  appendPortRange(range, text);
  set("client_port", text);
}

void TransportSpec::setServerPort(const PortRange& range) {
  std::string text;
  appendPortRange(range, text);
  set("server_port", text);
}

void TransportSpec::setInterleaved(const PortRange& range) {
  std::string text;
  appendPortRange(range, text);
  set("interleaved", text);
}

const TransportParam* TransportSpec::find(std::string_view name) const noexcept {
  for (const TransportParam& p : params) {
    if (equalsIgnoreCase(p.name, name)) {
      return &p;
    }
  }
  return nullptr;
}

void TransportSpec::set(std::string_view name, std::string_view value) {
  for (TransportParam& p : params) {
    if (equalsIgnoreCase(p.name, name)) {
      p.value.assign(value);
      p.has_value = true;
      return;
    }
  }
  TransportParam added;
  added.name.assign(name);
  added.value.assign(value);
  added.has_value = true;
  params.push_back(std::move(added));
}

size_t TransportSpec::remove(std::string_view name) {
  size_t removed = 0;
  for (size_t i = 0; i < params.size();) {
    if (equalsIgnoreCase(params[i].name, name)) {
      params.erase(params.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    } else {
      ++i;
    }
  }
  return removed;
}

bool parseTransport(std::string_view value, std::vector<TransportSpec>& out, const char** reason) {
  out.clear();
  const char* why = "";
  bool ok = true;
  if (value.size() > kMaxTransportLength) {
    why = "Transport header longer than the limit";
    ok = false;
  }
  for (size_t i = 0; ok && i < value.size(); ++i) {
    if (isForbiddenControl(static_cast<unsigned char>(value[i]))) {
      why = "control character in the Transport header";
      ok = false;
    }
  }
  if (ok) {
    why = "unterminated quoted string";
    ok = splitOutsideQuotes(value, ',', [&](std::string_view piece) {
      piece = trimWhitespace(piece);
      if (piece.empty()) {
        // An empty list element is allowed by the #rule of RFC 2326 section
        // 2.1; it stands for nothing.
        return true;
      }
      if (out.size() == kMaxTransportSpecs) {
        why = "too many transport specs";
        return false;
      }
      out.emplace_back();
      return parseSpec(piece, out.back(), &why);
    });
  }
  if (ok && out.empty()) {
    why = "Transport header has no transport spec";
    ok = false;
  }
  if (!ok) {
    out.clear();
    if (reason != nullptr) {
      *reason = why;
    }
  }
  return ok;
}

void serializeTransportSpec(const TransportSpec& spec, std::string& out) {
  out.append(spec.protocol);
  for (const TransportParam& p : spec.params) {
    out.push_back(';');
    out.append(p.name);
    if (p.has_value) {
      out.push_back('=');
      out.append(p.value);
    }
  }
}

std::string serializeTransport(const std::vector<TransportSpec>& specs) {
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    serializeTransportSpec(specs[i], out);
  }
  return out;
}

}  // namespace rtsp
}  // namespace mediamesh
