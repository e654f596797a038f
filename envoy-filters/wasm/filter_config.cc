#include "filter_config.h"

#include <nlohmann/json.hpp>

namespace mediamesh {
namespace rtsp_filter {

namespace {

using Json = nlohmann::json;

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Stat name segments and cluster names are the control plane's own, but are
// checked anyway: they end up in stat names and filter state.
bool isStatSafe(std::string_view s) noexcept {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos;
}

bool isClusterName(std::string_view s) noexcept {
  if (s.empty() || s.size() > 512) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

class Reader {
 public:
  explicit Reader(std::string& error) : error_(error) {}

  bool fail(const std::string& field, const char* why) {
    error_ = field + ": " + why;
    return false;
  }

  // Every key of `object` must be in `known`.
  bool onlyKeys(const Json& object, const std::string& where, std::initializer_list<const char*> known) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool found = false;
      for (const char* k : known) found = found || it.key() == k;
      if (!found) return fail(where.empty() ? it.key() : where + "." + it.key(), "unknown key");
    }
    return true;
  }

  bool string(const Json& object, const char* key, const std::string& where, std::string& out, bool required) {
    auto it = object.find(key);
    if (it == object.end()) return required ? fail(where + key, "is required") : true;
    if (!it->is_string()) return fail(where + key, "must be a string");
    out = it->get<std::string>();
    return true;
  }

  bool uint(const Json& object, const char* key, const std::string& where, uint64_t max, uint64_t& out) {
    auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_number_unsigned()) return fail(where + key, "must be a non-negative integer");
    const uint64_t v = it->get<uint64_t>();
    if (v == 0 || v > max) return fail(where + key, "is out of range");
    out = v;
    return true;
  }

 private:
  std::string& error_;
};

bool parseLimits(Reader& r, const Json& json, rtsp::ParserLimits& limits) {
  if (!json.is_object()) return r.fail("limits", "must be an object");
  if (!r.onlyKeys(json, "limits", {"max_start_line", "max_header_line", "max_headers", "max_header_bytes",
                                   "max_content_length", "max_interleaved_frame"})) {
    return false;
  }
  uint64_t v = 0;
  auto field = [&](const char* key, uint64_t max, auto& into) {
    v = 0;
    if (!r.uint(json, key, "limits.", max, v)) return false;
    if (v != 0) into = static_cast<std::remove_reference_t<decltype(into)>>(v);
    return true;
  };
  return field("max_start_line", rtsp::kMaxLineLimit, limits.max_start_line) &&
         field("max_header_line", rtsp::kMaxLineLimit, limits.max_header_line) &&
         field("max_headers", rtsp::kMaxHeadersLimit, limits.max_headers) &&
         field("max_header_bytes", rtsp::kMaxHeaderBytesLimit, limits.max_header_bytes) &&
         field("max_content_length", uint64_t{1} << 40, limits.max_content_length) &&
         field("max_interleaved_frame", rtsp::kMaxInterleavedFrameLimit, limits.max_interleaved_frame);
}

bool parseMatch(Reader& r, const Json& json, size_t i, RouteMatch& out) {
  const std::string where = "matches[" + std::to_string(i) + "].";
  if (!json.is_object()) return r.fail(where.substr(0, where.size() - 1), "must be an object");
  if (!r.onlyKeys(json, where.substr(0, where.size() - 1), {"path", "rule", "cluster", "transport"})) return false;
  auto path = json.find("path");
  if (path == json.end() || !path->is_object()) return r.fail(where + "path", "must be an object");
  if (!r.onlyKeys(*path, where + "path", {"type", "value"})) return false;
  std::string type = "PathPrefix";
  if (!r.string(*path, "type", where + "path.", type, false)) return false;
  if (!r.string(*path, "value", where + "path.", out.value, true)) return false;
  if (type == "Exact") {
    out.type = PathMatchType::Exact;
  } else if (type == "PathPrefix") {
    out.type = PathMatchType::PathPrefix;
  } else if (type == "RegularExpression") {
    out.type = PathMatchType::RegularExpression;
  } else {
    return r.fail(where + "path.type", "must be Exact, PathPrefix or RegularExpression");
  }
  if (out.type == PathMatchType::RegularExpression) {
    std::string why;
    out.regex = PathRegex::compile(out.value, why);
    if (!out.regex) return r.fail(where + "path.value", ("unsupported regular expression: " + why).c_str());
  } else if (out.value.empty() || out.value.front() != '/') {
    return r.fail(where + "path.value", "must start with /");
  }
  auto rule = json.find("rule");
  if (rule != json.end()) {
    if (!rule->is_number_unsigned() || rule->get<uint64_t>() > 1000000) return r.fail(where + "rule", "must be a rule index");
    out.rule = static_cast<uint32_t>(rule->get<uint64_t>());
  }
  if (!r.string(json, "cluster", where, out.cluster, true)) return false;
  if (!isClusterName(out.cluster)) return r.fail(where + "cluster", "must be a cluster name");
  std::string transport = "Auto";
  if (!r.string(json, "transport", where, transport, false)) return false;
  if (transport == "Auto") out.transport = Transport::Auto;
  else if (transport == "TCP") out.transport = Transport::Tcp;
  else if (transport == "UDP") out.transport = Transport::Udp;
  else return r.fail(where + "transport", "must be Auto, TCP or UDP");
  return true;
}

bool parseRelays(Reader& r, const Json& json, RelayConfig& out) {
  if (!json.is_object()) return r.fail("relays", "must be an object");
  if (!r.onlyKeys(json, "relays", {"cluster", "timeout_ms", "source"})) return false;
  if (!r.string(json, "cluster", "relays.", out.cluster, true)) return false;
  if (!isClusterName(out.cluster)) return r.fail("relays.cluster", "must be a cluster name");
  uint64_t timeout = 0;
  if (!r.uint(json, "timeout_ms", "relays.", 60000, timeout)) return false;
  if (timeout != 0) out.timeout_ms = static_cast<uint32_t>(timeout);
  std::string source = "local";
  if (!r.string(json, "source", "relays.", source, false)) return false;
  if (source == "local") out.source = RelayConfig::Source::Local;
  else if (source == "client") out.source = RelayConfig::Source::Client;
  else return r.fail("relays.source", "must be local or client");
  return true;
}

}  // namespace

bool hostnameMatches(std::string_view pattern, std::string_view host) noexcept {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() && equalsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return equalsIgnoreCase(pattern, host);
}

bool RouteMatch::matchesPath(std::string_view path) const noexcept {
  switch (type) {
    case PathMatchType::Exact:
      return path == value;
    case PathMatchType::PathPrefix: {
      // Element-wise, as Gateway API says: "/cam" matches "/cam" and "/cam/x", not "/camera".
      std::string_view prefix = value;
      while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
      if (prefix == "/") return true;
      return path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/');
    }
    case PathMatchType::RegularExpression:
      return regex != nullptr && regex->matches(path);
  }
  return false;
}

bool FilterConfig::hostAllowed(std::string_view host) const noexcept {
  if (hostnames.empty()) return true;
  for (const std::string& pattern : hostnames) {
    if (hostnameMatches(pattern, host)) return true;
  }
  return false;
}

const RouteMatch* FilterConfig::match(std::string_view host, std::string_view path, bool asterisk) const noexcept {
  if (asterisk) {
    for (const RouteMatch& m : matches) {
      if (m.type == PathMatchType::PathPrefix && m.matchesPath("/") && m.value.find_first_not_of('/') == std::string::npos) {
        return &m;
      }
    }
    return nullptr;
  }
  if (!hostAllowed(host)) return nullptr;
  for (const RouteMatch& m : matches) {
    if (m.matchesPath(path)) return &m;
  }
  return nullptr;
}

std::unique_ptr<FilterConfig> parseFilterConfig(std::string_view text, std::string& error) {
  error.clear();
  Reader r(error);
  const Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    error = "configuration is not valid JSON";
    return nullptr;
  }
  if (!json.is_object()) {
    error = "configuration must be a JSON object";
    return nullptr;
  }
  if (!r.onlyKeys(json, "", {"route", "hostnames", "matches", "reject_cluster", "reject_close_ms",
                            "first_request_timeout_ms", "limits", "relays"})) {
    return nullptr;
  }
  auto config = std::make_unique<FilterConfig>();
  if (!r.string(json, "route", "", config->route, true)) return nullptr;
  if (!isStatSafe(config->route)) {
    r.fail("route", "must be 1..253 of [A-Za-z0-9_.-] without empty dot segments");
    return nullptr;
  }
  auto hostnames = json.find("hostnames");
  if (hostnames != json.end()) {
    if (!hostnames->is_array()) {
      r.fail("hostnames", "must be an array of strings");
      return nullptr;
    }
    for (const Json& h : *hostnames) {
      if (!h.is_string() || h.get<std::string>().empty()) {
        r.fail("hostnames", "must be an array of non-empty strings");
        return nullptr;
      }
      std::string name = h.get<std::string>();
      for (char& c : name) c = lower(c);
      config->hostnames.push_back(std::move(name));
    }
  }
  auto matches = json.find("matches");
  if (matches == json.end() || !matches->is_array()) {
    r.fail("matches", "must be an array");
    return nullptr;
  }
  size_t i = 0;
  for (const Json& m : *matches) {
    RouteMatch match;
    if (!parseMatch(r, m, i++, match)) return nullptr;
    config->matches.push_back(std::move(match));
  }
  if (!r.string(json, "reject_cluster", "", config->reject_cluster, true)) return nullptr;
  if (!isClusterName(config->reject_cluster)) {
    r.fail("reject_cluster", "must be a cluster name");
    return nullptr;
  }
  uint64_t close_ms = 0;
  if (!r.uint(json, "reject_close_ms", "", 60000, close_ms)) return nullptr;
  if (close_ms != 0) config->reject_close_ms = static_cast<uint32_t>(close_ms);
  uint64_t first_request_ms = 0;
  if (!r.uint(json, "first_request_timeout_ms", "", 3600000, first_request_ms)) return nullptr;
  if (first_request_ms != 0) config->first_request_timeout_ms = static_cast<uint32_t>(first_request_ms);
  auto limits = json.find("limits");
  if (limits != json.end() && !parseLimits(r, *limits, config->limits)) return nullptr;
  auto relays = json.find("relays");
  if (relays != json.end()) {
    config->relays = std::make_unique<RelayConfig>();
    if (!parseRelays(r, *relays, *config->relays)) return nullptr;
  }
  return config;
}

}  // namespace rtsp_filter
}  // namespace mediamesh
