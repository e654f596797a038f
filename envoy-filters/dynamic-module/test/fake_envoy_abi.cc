#include "fake_envoy_abi.h"

#include <cstring>

using mediamesh::rtp_filter::testing::FakeEnvoy;
using mediamesh::rtp_filter::testing::FakeWorker;

namespace mediamesh {
namespace rtp_filter {
namespace testing {

FakeEnvoy& FakeEnvoy::get() {
  static FakeEnvoy instance;
  return instance;
}

void FakeEnvoy::reset() { *this = FakeEnvoy{}; }

namespace {
int64_t lookup(const std::vector<std::string>& names, const std::vector<uint64_t>& values,
               const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) {
      return static_cast<int64_t>(values[i]);
    }
  }
  return -1;
}
}  // namespace

int64_t FakeEnvoy::counter(const std::string& name) const {
  return lookup(counter_names, counters, name);
}
int64_t FakeEnvoy::gauge(const std::string& name) const {
  return lookup(gauge_names, gauges, name);
}

}  // namespace testing
}  // namespace rtp_filter
}  // namespace mediamesh

namespace {
FakeWorker& worker(void* filter_envoy_ptr) { return *static_cast<FakeWorker*>(filter_envoy_ptr); }

envoy_dynamic_module_type_metrics_result define(std::vector<std::string>& names,
                                                std::vector<uint64_t>& values,
                                                envoy_dynamic_module_type_module_buffer name,
                                                size_t* id) {
  names.emplace_back(name.ptr, name.length);
  values.push_back(0);
  *id = names.size() - 1;
  return envoy_dynamic_module_type_metrics_result_Success;
}

template <class F>
envoy_dynamic_module_type_metrics_result update(std::vector<uint64_t>& values, size_t id, F f) {
  if (id >= values.size()) {
    return envoy_dynamic_module_type_metrics_result_MetricNotFound;
  }
  f(values[id]);
  return envoy_dynamic_module_type_metrics_result_Success;
}
}  // namespace

extern "C" {

void envoy_dynamic_module_callback_log(envoy_dynamic_module_type_log_level,
                                       envoy_dynamic_module_type_module_buffer message) {
  FakeEnvoy::get().logs.emplace_back(message.ptr, message.length);
}

bool envoy_dynamic_module_callback_log_enabled(envoy_dynamic_module_type_log_level) { return true; }

uint32_t envoy_dynamic_module_callback_get_concurrency(void) {
  return FakeEnvoy::get().concurrency;
}

size_t envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_size(void* f) {
  size_t n = 0;
  for (const auto& c : worker(f).chunks) {
    n += c.size();
  }
  return n;
}

size_t envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks_size(void* f) {
  return worker(f).chunks.size();
}

bool envoy_dynamic_module_callback_udp_listener_filter_get_datagram_data_chunks(
    void* f, envoy_dynamic_module_type_envoy_buffer* out) {
  const auto& chunks = worker(f).chunks;
  for (size_t i = 0; i < chunks.size(); ++i) {
    out[i] = {chunks[i].data(), chunks[i].size()};
  }
  return true;
}

uint32_t envoy_dynamic_module_callback_udp_listener_filter_get_worker_index(void* f) {
  return worker(f).worker_index;
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_define_counter(
    void*, envoy_dynamic_module_type_module_buffer name, size_t* id) {
  auto& e = FakeEnvoy::get();
  return define(e.counter_names, e.counters, name, id);
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_define_gauge(
    void*, envoy_dynamic_module_type_module_buffer name, size_t* id) {
  auto& e = FakeEnvoy::get();
  return define(e.gauge_names, e.gauges, name, id);
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_increment_counter(void*, size_t id,
                                                                    uint64_t v) {
  return update(FakeEnvoy::get().counters, id, [v](uint64_t& x) { x += v; });
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_set_gauge(void*, size_t id, uint64_t v) {
  return update(FakeEnvoy::get().gauges, id, [v](uint64_t& x) { x = v; });
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_increment_gauge(void*, size_t id, uint64_t v) {
  return update(FakeEnvoy::get().gauges, id, [v](uint64_t& x) { x += v; });
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_decrement_gauge(void*, size_t id, uint64_t v) {
  return update(FakeEnvoy::get().gauges, id, [v](uint64_t& x) { x -= v; });
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_set_gauge(void*, size_t id, uint64_t v) {
  return update(FakeEnvoy::get().gauges, id, [v](uint64_t& x) { x = v; });
}

envoy_dynamic_module_type_metrics_result
envoy_dynamic_module_callback_udp_listener_filter_config_decrement_gauge(void*, size_t id,
                                                                         uint64_t v) {
  return update(FakeEnvoy::get().gauges, id, [v](uint64_t& x) { x -= v; });
}

}  // extern "C"
