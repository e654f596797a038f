// The argument of Envoy's `set_envoy_filter_state` foreign function: a
// serialized envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments
// (Envoy 1.40: path = 1, value = 2, span = 3), encoded by hand so the filter
// needs no protobuf runtime.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mediamesh {
namespace rtsp_filter {

// envoy.source.extensions.common.wasm.LifeSpan
enum class FilterStateLifeSpan : uint8_t { FilterChain = 0, DownstreamRequest = 1, DownstreamConnection = 2 };

inline void appendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Field `number` with wire type 2 (length-delimited).
inline void appendBytesField(std::string& out, uint32_t number, std::string_view bytes) {
  appendVarint(out, (uint64_t{number} << 3) | 2);
  appendVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

inline std::string encodeSetFilterStateArguments(std::string_view path, std::string_view value,
                                                 FilterStateLifeSpan span) {
  std::string out;
  out.reserve(path.size() + value.size() + 8);
  appendBytesField(out, 1, path);
  appendBytesField(out, 2, value);
  if (span != FilterStateLifeSpan::FilterChain) {
    appendVarint(out, (uint64_t{3} << 3) | 0);
    appendVarint(out, static_cast<uint64_t>(span));
  }
  return out;
}

}  // namespace rtsp_filter
}  // namespace mediamesh
