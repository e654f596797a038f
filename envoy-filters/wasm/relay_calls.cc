#include "relay_calls.h"

#include <nlohmann/json.hpp>

namespace mediamesh {
namespace rtsp_filter {

namespace {

using Json = nlohmann::json;

Json endpoint(std::string_view ip, PortPair ports) {
  return Json{{"address", std::string(ip)}, {"rtp", ports.rtp}, {"rtcp", ports.rtcp}};
}

bool readPorts(const Json& json, const char* key, PortPair& out) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_object()) return false;
  auto port = [&](const char* name, uint16_t& into) {
    auto p = it->find(name);
    if (p == it->end() || !p->is_number_unsigned()) return false;
    const uint64_t v = p->get<uint64_t>();
    if (v == 0 || v > 65535) return false;
    into = static_cast<uint16_t>(v);
    return true;
  };
  return port("rtp", out.rtp) && port("rtcp", out.rtcp);
}

bool unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

void appendSegment(std::string& out, std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : segment) {
    if (unreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
}

}  // namespace

std::string openRelayBody(std::string_view node, std::string_view session, std::string_view client_ip,
                          PortPair client) {
  return Json{{"node", std::string(node)}, {"session", std::string(session)}, {"client", endpoint(client_ip, client)}}
      .dump();
}

std::string serverRelayBody(std::string_view server_ip, PortPair server) { return endpoint(server_ip, server).dump(); }

std::string relaySessionPath(std::string_view node, std::string_view session, std::string_view suffix) {
  std::string path(kRelaySessionsPath);
  path.push_back('/');
  appendSegment(path, node);
  path.push_back('/');
  appendSegment(path, session);
  path.append(suffix);
  return path;
}

bool parseRelayGrant(std::string_view body, RelayGrant& out) {
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return false;
  if (!readPorts(json, "toClient", out.to_client) || !readPorts(json, "toServer", out.to_server)) return false;
  auto timeout = json.find("timeoutMs");
  out.timeout_ms = 0;
  if (timeout != json.end() && timeout->is_number_unsigned() && timeout->get<uint64_t>() <= 86'400'000) {
    out.timeout_ms = static_cast<uint32_t>(timeout->get<uint64_t>());
  }
  return true;
}

std::string_view hostOfAddress(std::string_view address) noexcept {
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    return close == std::string_view::npos ? std::string_view() : address.substr(1, close - 1);
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || address.find(':') != colon) return {};
  return address.substr(0, colon);
}

}  // namespace rtsp_filter
}  // namespace mediamesh
