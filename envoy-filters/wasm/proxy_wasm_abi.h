// Our declaration of the part of the proxy-wasm ABI v0.2.1 the RTSP filter
// uses: the host functions it imports (module "env") and the value types of
// their arguments, written from the specification
// (github.com/proxy-wasm/spec, abi-versions/v0.2.1) and checked against
// Envoy 1.40. The callbacks the module exports are defined in plugin.cc.
//
// Only built for wasm32: every pointer and size_t is 32 bits there, which is
// what the ABI's i32 parameters are.
#pragma once

#include <cstddef>
#include <cstdint>

#if !defined(__wasm32__)
#error "proxy_wasm_abi.h is for the wasm32 build of the filter"
#endif

#define MEDIAMESH_PROXY_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

namespace mediamesh {
namespace proxy_wasm {

enum class Status : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  InternalFailure = 10,
  Unimplemented = 12,
};

enum class Action : uint32_t { Continue = 0, Pause = 1 };

enum class BufferType : uint32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcCallMessage = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
};

enum class StreamType : uint32_t { HttpRequest = 0, HttpResponse = 1, Downstream = 2, Upstream = 3 };

enum class MetricType : uint32_t { Counter = 0, Gauge = 1, Histogram = 2 };

enum class LogLevel : uint32_t { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 };

enum class PeerType : uint32_t { Unknown = 0, Local = 1, Remote = 2 };

enum class MapType : uint32_t { HttpCallResponseHeaders = 6 };

}  // namespace proxy_wasm
}  // namespace mediamesh

extern "C" {

MEDIAMESH_PROXY_IMPORT(proxy_log)
mediamesh::proxy_wasm::Status proxy_log(mediamesh::proxy_wasm::LogLevel level, const char* message, size_t size);

MEDIAMESH_PROXY_IMPORT(proxy_get_buffer_bytes)
mediamesh::proxy_wasm::Status proxy_get_buffer_bytes(mediamesh::proxy_wasm::BufferType buffer, size_t start,
                                                     size_t max_size, uint8_t** data, size_t* size);

MEDIAMESH_PROXY_IMPORT(proxy_set_buffer_bytes)
mediamesh::proxy_wasm::Status proxy_set_buffer_bytes(mediamesh::proxy_wasm::BufferType buffer, size_t start,
                                                     size_t size, const uint8_t* data, size_t data_size);

MEDIAMESH_PROXY_IMPORT(proxy_close_stream)
mediamesh::proxy_wasm::Status proxy_close_stream(mediamesh::proxy_wasm::StreamType stream);

MEDIAMESH_PROXY_IMPORT(proxy_set_effective_context)
mediamesh::proxy_wasm::Status proxy_set_effective_context(uint32_t context_id);

MEDIAMESH_PROXY_IMPORT(proxy_set_tick_period_milliseconds)
mediamesh::proxy_wasm::Status proxy_set_tick_period_milliseconds(uint32_t period);

MEDIAMESH_PROXY_IMPORT(proxy_define_metric)
mediamesh::proxy_wasm::Status proxy_define_metric(mediamesh::proxy_wasm::MetricType type, const char* name,
                                                  size_t name_size, uint32_t* metric_id);

MEDIAMESH_PROXY_IMPORT(proxy_increment_metric)
mediamesh::proxy_wasm::Status proxy_increment_metric(uint32_t metric_id, int64_t delta);

MEDIAMESH_PROXY_IMPORT(proxy_record_metric)
mediamesh::proxy_wasm::Status proxy_record_metric(uint32_t metric_id, uint64_t value);

MEDIAMESH_PROXY_IMPORT(proxy_call_foreign_function)
mediamesh::proxy_wasm::Status proxy_call_foreign_function(const char* name, size_t name_size, const uint8_t* arguments,
                                                          size_t arguments_size, uint8_t** results,
                                                          size_t* results_size);

MEDIAMESH_PROXY_IMPORT(proxy_continue_stream)
mediamesh::proxy_wasm::Status proxy_continue_stream(mediamesh::proxy_wasm::StreamType stream);

// `path` is the attribute's segments, each followed by a NUL ("node\0id\0").
MEDIAMESH_PROXY_IMPORT(proxy_get_property)
mediamesh::proxy_wasm::Status proxy_get_property(const char* path, size_t path_size, uint8_t** value,
                                                 size_t* value_size);

// Headers are serialized as: count (u32), then per header its name and
// value sizes (u32 each), then each name and value followed by a NUL.
MEDIAMESH_PROXY_IMPORT(proxy_http_call)
mediamesh::proxy_wasm::Status proxy_http_call(const char* upstream, size_t upstream_size, const uint8_t* headers,
                                              size_t headers_size, const uint8_t* body, size_t body_size,
                                              const uint8_t* trailers, size_t trailers_size, uint32_t timeout_ms,
                                              uint32_t* token);

MEDIAMESH_PROXY_IMPORT(proxy_get_header_map_value)
mediamesh::proxy_wasm::Status proxy_get_header_map_value(mediamesh::proxy_wasm::MapType map, const char* key,
                                                         size_t key_size, uint8_t** value, size_t* value_size);

}  // extern "C"
