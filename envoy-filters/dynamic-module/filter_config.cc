#include "filter_config.h"

#include <nlohmann/json.hpp>

namespace mediamesh {
namespace rtp_filter {

namespace {

using nlohmann::json;

ParseResult fail(std::string message) {
  ParseResult result;
  result.error = std::move(message);
  return result;
}

// Reads an unsigned integer in [min, max]; JSON floats and negatives are
// rejected rather than truncated.
bool readBoundedUnsigned(const json& value, uint64_t min, uint64_t max, uint64_t& out) {
  if (!value.is_number_unsigned()) {
    return false;
  }
  const uint64_t v = value.get<uint64_t>();
  if (v < min || v > max) {
    return false;
  }
  out = v;
  return true;
}

// "0".."127" written as plain decimal digits, no sign, no leading zeros.
bool parsePayloadType(std::string_view key, uint8_t& out) {
  if (key.empty() || key.size() > 3 || (key.size() > 1 && key[0] == '0')) {
    return false;
  }
  unsigned v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 127) {
    return false;
  }
  out = static_cast<uint8_t>(v);
  return true;
}

}  // namespace

bool isValidStatSegment(std::string_view name) {
  if (name.empty() || name.size() > kMaxRouteLength) {
    return false;
  }
  if (name.front() == '.' || name.back() == '.') {
    return false;
  }
  char previous = '\0';
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok || (c == '.' && previous == '.')) {
      return false;
    }
    previous = c;
  }
  return true;
}

ParseResult parseFilterConfig(std::string_view text) {
  // allow_exceptions=false: a syntax error yields a "discarded" value.
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return fail("filter_config is not valid JSON");
  }
  if (!doc.is_object()) {
    return fail("filter_config must be a JSON object");
  }

  ParseResult result;
  FilterSettings& settings = result.settings;
  bool have_route = false;

  for (const auto& item : doc.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (key == "route") {
      if (!value.is_string() || !isValidStatSegment(value.get_ref<const std::string&>())) {
        return fail("route must be 1..128 characters of [A-Za-z0-9_.-] with no empty segment");
      }
      settings.route = value.get<std::string>();
      have_route = true;
    } else if (key == "stat_prefix") {
      if (!value.is_string() || !isValidStatSegment(value.get_ref<const std::string&>())) {
        return fail("stat_prefix must be 1..128 characters of [A-Za-z0-9_.-]");
      }
      settings.stat_prefix = value.get<std::string>();
    } else if (key == "clock_rates") {
      if (!value.is_object()) {
        return fail("clock_rates must be an object of payload type to Hz");
      }
      for (const auto& rate : value.items()) {
        uint8_t pt = 0;
        if (!parsePayloadType(rate.key(), pt)) {
          return fail("clock_rates key '" + rate.key() + "' is not a payload type 0..127");
        }
        uint64_t hz = 0;
        if (!readBoundedUnsigned(rate.value(), 1, UINT32_MAX, hz)) {
          return fail("clock_rates[" + rate.key() + "] must be an integer 1..4294967295");
        }
        settings.tracker.clock_rates.set(pt, static_cast<uint32_t>(hz));
      }
    } else if (key == "max_sources") {
      uint64_t n = 0;
      if (!readBoundedUnsigned(value, 1, kMaxSourcesLimit, n)) {
        return fail("max_sources must be an integer 1..4096");
      }
      settings.tracker.max_sources = static_cast<size_t>(n);
    } else if (key == "source_timeout_ms") {
      uint64_t ms = 0;
      if (!readBoundedUnsigned(value, 1, kMaxSourceTimeoutMs, ms)) {
        return fail("source_timeout_ms must be an integer 1..86400000");
      }
      settings.tracker.source_timeout_ns = ms * 1'000'000ull;
    } else if (key == "gauge_interval_ms") {
      uint64_t ms = 0;
      if (!readBoundedUnsigned(value, 0, kMaxGaugeIntervalMs, ms)) {
        return fail("gauge_interval_ms must be an integer 0..60000");
      }
      settings.gauge_interval_ns = ms * 1'000'000ull;
    } else {
      return fail("unknown filter_config key '" + key + "'");
    }
  }

  if (!have_route) {
    return fail("route is required");
  }
  result.ok = true;
  return result;
}

}  // namespace rtp_filter
}  // namespace mediamesh
