// Logging through Envoy's `dynamic_modules` logger, prefixed with the
// component name. Main-thread paths only (config, errors): nothing on the
// per-datagram path logs.
#pragma once

#include <string>
#include <string_view>

#include "envoy_abi.h"

namespace mediamesh {
namespace rtp_filter {

inline void log(envoy_dynamic_module_type_log_level level, std::string_view message) noexcept {
  if (!envoy_dynamic_module_callback_log_enabled(level)) {
    return;
  }
  try {
    std::string line = "mediamesh.rtp_filter: ";
    line.append(message.data(), message.size());
    envoy_dynamic_module_callback_log(level, {line.data(), line.size()});
  } catch (...) {
    // Out of memory while logging: drop the line.
  }
}

}  // namespace rtp_filter
}  // namespace mediamesh
