// The exported event hooks of the Envoy 1.40 dynamic-module ABI for the
// `envoy.filters.udp_listener.dynamic_modules` filter.
//
// Every hook is noexcept and catches everything: a C++ exception must never
// unwind into Envoy. Failures on the config path return nullptr, which makes
// Envoy reject the listener ("Failed to initialize dynamic module UDP
// listener filter"); the reason is logged on the `dynamic_modules` logger.
#include <memory>
#include <string>
#include <string_view>

#include "envoy_abi.h"
#include "filter.h"
#include "filter_config.h"
#include "log.h"

#define MEDIAMESH_EXPORT extern "C" __attribute__((visibility("default")))

using mediamesh::rtp_filter::FilterSettings;
using mediamesh::rtp_filter::kFilterName;
using mediamesh::rtp_filter::log;
using mediamesh::rtp_filter::ParseResult;
using mediamesh::rtp_filter::RtpFilter;
using mediamesh::rtp_filter::RtpFilterConfig;

namespace {

std::string_view view(envoy_dynamic_module_type_envoy_buffer buffer) {
  if (buffer.ptr == nullptr) {
    return {};
  }
  return {buffer.ptr, buffer.length};
}

}  // namespace

MEDIAMESH_EXPORT const char* envoy_dynamic_module_on_program_init(void) noexcept {
  return MEDIAMESH_ENVOY_ABI_VERSION;
}

MEDIAMESH_EXPORT envoy_dynamic_module_type_udp_listener_filter_config_module_ptr
envoy_dynamic_module_on_udp_listener_filter_config_new(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr,
    envoy_dynamic_module_type_envoy_buffer name,
    envoy_dynamic_module_type_envoy_buffer config) noexcept {
  try {
    const std::string_view filter_name = view(name);
    if (filter_name != kFilterName) {
      log(envoy_dynamic_module_type_log_level_Error,
          "config rejected: filter_name must be \"rtp\", got \"" + std::string(filter_name) + "\"");
      return nullptr;
    }
    ParseResult parsed = mediamesh::rtp_filter::parseFilterConfig(view(config));
    if (!parsed.ok) {
      log(envoy_dynamic_module_type_log_level_Error, "config rejected: " + parsed.error);
      return nullptr;
    }
    const std::string route = parsed.settings.route;
    std::unique_ptr<RtpFilterConfig> filter_config = RtpFilterConfig::create(
        config_envoy_ptr, std::move(parsed.settings),
        envoy_dynamic_module_callback_get_concurrency());
    if (!filter_config) {
      return nullptr;  // create() logged the metric that failed.
    }
    log(envoy_dynamic_module_type_log_level_Info, "config accepted for route " + route);
    return filter_config.release();
  } catch (const std::exception& e) {
    log(envoy_dynamic_module_type_log_level_Error,
        std::string("config rejected: internal error: ") + e.what());
  } catch (...) {
    log(envoy_dynamic_module_type_log_level_Error, "config rejected: internal error");
  }
  return nullptr;
}

MEDIAMESH_EXPORT void envoy_dynamic_module_on_udp_listener_filter_config_destroy(
    envoy_dynamic_module_type_udp_listener_filter_config_module_ptr config_module_ptr) noexcept {
  delete static_cast<const RtpFilterConfig*>(config_module_ptr);
}

MEDIAMESH_EXPORT envoy_dynamic_module_type_udp_listener_filter_module_ptr
envoy_dynamic_module_on_udp_listener_filter_new(
    envoy_dynamic_module_type_udp_listener_filter_config_module_ptr config_module_ptr,
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr) noexcept {
  if (config_module_ptr == nullptr) {
    return nullptr;
  }
  try {
    const auto& config = *static_cast<const RtpFilterConfig*>(config_module_ptr);
    const uint32_t worker =
        envoy_dynamic_module_callback_udp_listener_filter_get_worker_index(filter_envoy_ptr);
    return new RtpFilter(config, worker);
  } catch (...) {
    // Without a filter object Envoy passes every datagram on unexamined.
    log(envoy_dynamic_module_type_log_level_Error, "could not create the per-worker filter");
    return nullptr;
  }
}

MEDIAMESH_EXPORT envoy_dynamic_module_type_on_udp_listener_filter_status
envoy_dynamic_module_on_udp_listener_filter_on_data(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_udp_listener_filter_module_ptr filter_module_ptr) noexcept {
  if (filter_module_ptr != nullptr) {
    // const_cast: the ABI hands our own pointer back as const void*.
    auto* filter = const_cast<RtpFilter*>(static_cast<const RtpFilter*>(filter_module_ptr));
    filter->onDatagram(filter_envoy_ptr);
  }
  // Observe only: the datagram always continues to udp_proxy untouched.
  return envoy_dynamic_module_type_on_udp_listener_filter_status_Continue;
}

MEDIAMESH_EXPORT void envoy_dynamic_module_on_udp_listener_filter_destroy(
    envoy_dynamic_module_type_udp_listener_filter_module_ptr filter_module_ptr) noexcept {
  delete static_cast<const RtpFilter*>(filter_module_ptr);
}
