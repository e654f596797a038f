// The proxy-wasm glue: the callbacks Envoy calls (exported under their ABI
// names) and the Host the filter logic runs against. Envoy runs one VM per
// worker thread; in each, one root context per plugin configuration (one per
// RtspRoute listener) and one stream context per connection. No exception
// crosses the ABI: the module is built with -fno-exceptions, and every
// callback checks its context before using it.
#include <time.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>

#include "connection.h"
#include "filter_config.h"
#include "filter_state_args.h"
#include "host.h"
#include "proxy_wasm_abi.h"
#include "stats.h"

namespace pw = mediamesh::proxy_wasm;
using mediamesh::rtsp_filter::BytesView;
using mediamesh::rtsp_filter::Direction;
using mediamesh::rtsp_filter::FilterConfig;
using mediamesh::rtsp_filter::Host;
using mediamesh::rtsp_filter::LogLevel;
using mediamesh::rtsp_filter::MetricKind;
using mediamesh::rtsp_filter::RouteStats;
using mediamesh::rtsp_filter::RtspConnection;
using mediamesh::rtsp_filter::Verdict;

namespace {

// Host copies of connection bytes land here instead of a fresh malloc: while
// readData() waits on proxy_get_buffer_bytes, the allocation it triggers gets
// this buffer (RtspConnection reads at most kReadChunk bytes at a time).
uint8_t* g_copy_buffer = nullptr;
bool g_copy_armed = false;
constexpr size_t kCopyCapacity = RtspConnection::kReadChunk;

constexpr uint32_t kTickMs = 1000;

pw::BufferType bufferOf(Direction direction) {
  return direction == Direction::ClientToServer ? pw::BufferType::DownstreamData : pw::BufferType::UpstreamData;
}

class WasmHost final : public Host {
 public:
  uint64_t monotonicNanos() override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  }

  void log(LogLevel level, std::string_view message) override {
    proxy_log(static_cast<pw::LogLevel>(level), message.data(), message.size());
  }

  bool readData(Direction direction, size_t start, size_t length, BytesView& out) override {
    releaseCopy();
    if (g_copy_buffer == nullptr) {
      g_copy_buffer = static_cast<uint8_t*>(malloc(kCopyCapacity));
      if (g_copy_buffer == nullptr) return false;
    }
    uint8_t* data = nullptr;
    size_t size = 0;
    g_copy_armed = true;
    const pw::Status status = proxy_get_buffer_bytes(bufferOf(direction), start, length, &data, &size);
    g_copy_armed = false;
    if (data != nullptr && data != g_copy_buffer) owned_copy_ = data;
    if (status != pw::Status::Ok || data == nullptr) {
      releaseCopy();
      return false;
    }
    out = BytesView{data, size};
    return true;
  }

  // Envoy replaces a network buffer's bytes only from its start (or appends
  // at its end), so an edit further in rewrites the prefix along with it.
  bool replaceData(Direction direction, size_t start, size_t length, std::string_view bytes) override {
    std::string replacement;
    if (start > 0) {
      uint8_t* data = nullptr;
      size_t size = 0;
      const pw::Status status = proxy_get_buffer_bytes(bufferOf(direction), 0, start, &data, &size);
      if (data != nullptr) replacement.assign(reinterpret_cast<const char*>(data), size);
      if (data != nullptr && data != g_copy_buffer) free(data);
      if (status != pw::Status::Ok || size != start) return false;
    }
    replacement.append(bytes.data(), bytes.size());
    return proxy_set_buffer_bytes(bufferOf(direction), 0, start + length,
                                  reinterpret_cast<const uint8_t*>(replacement.data()),
                                  replacement.size()) == pw::Status::Ok;
  }

  void resumeClient() override { proxy_continue_stream(pw::StreamType::Downstream); }

  bool httpCall(std::string_view cluster, std::string_view method, std::string_view path, std::string_view body,
                uint32_t timeout_ms, uint32_t& token) override;

  // Envoy's attribute is xds.node; older releases called it node.
  std::string nodeId() override {
    std::string id = property({"xds", "node", "id"});
    return id.empty() ? property({"node", "id"}) : id;
  }
  std::string clientAddress() override { return property({"source", "address"}); }
  std::string localAddress() override { return property({"destination", "address"}); }
  std::string serverAddress() override { return property({"upstream", "address"}); }
  uint64_t connectionId() override {
    const std::string raw = property({"connection", "id"});
    if (raw.size() != sizeof(uint64_t)) return 0;
    uint64_t id = 0;
    for (size_t i = sizeof(uint64_t); i-- > 0;) id = (id << 8) | static_cast<uint8_t>(raw[i]);  // little-endian
    return id;
  }

  bool setFilterState(std::string_view key, std::string_view value) override {
    static constexpr std::string_view kFunction = "set_envoy_filter_state";
    const std::string arguments = mediamesh::rtsp_filter::encodeSetFilterStateArguments(
        key, value, mediamesh::rtsp_filter::FilterStateLifeSpan::DownstreamConnection);
    uint8_t* results = nullptr;
    size_t results_size = 0;
    const pw::Status status =
        proxy_call_foreign_function(kFunction.data(), kFunction.size(), reinterpret_cast<const uint8_t*>(arguments.data()),
                                    arguments.size(), &results, &results_size);
    if (results != nullptr) free(results);
    return status == pw::Status::Ok;
  }

  void closeClient() override { proxy_close_stream(pw::StreamType::Downstream); }

  bool defineMetric(MetricKind kind, std::string_view name, uint32_t& id) override {
    const pw::MetricType type = kind == MetricKind::Counter ? pw::MetricType::Counter
                                : kind == MetricKind::Gauge ? pw::MetricType::Gauge
                                                            : pw::MetricType::Histogram;
    return proxy_define_metric(type, name.data(), name.size(), &id) == pw::Status::Ok;
  }

  void incrementMetric(uint32_t id, int64_t delta) override { proxy_increment_metric(id, delta); }
  void recordMetric(uint32_t id, uint64_t value) override { proxy_record_metric(id, value); }

 private:
  static std::string property(std::initializer_list<std::string_view> segments) {
    std::string path;
    for (std::string_view segment : segments) {
      path.append(segment.data(), segment.size());
      path.push_back('\0');
    }
    uint8_t* data = nullptr;
    size_t size = 0;
    std::string value;
    if (proxy_get_property(path.data(), path.size(), &data, &size) == pw::Status::Ok && data != nullptr) {
      value.assign(reinterpret_cast<const char*>(data), size);
    }
    if (data != nullptr) free(data);
    return value;
  }

  void releaseCopy() {
    if (owned_copy_ != nullptr) free(owned_copy_);
    owned_copy_ = nullptr;
  }

  uint8_t* owned_copy_ = nullptr;  // a copy larger than the copy buffer
};

// A plugin's configuration and metric ids, shared with its connections: Envoy
// may delete a root context while connections of it still drain.
struct RootState {
  std::unique_ptr<FilterConfig> config;
  RouteStats stats;
};

struct RootContext {
  std::shared_ptr<RootState> state;  // null until configured
};

struct StreamContext {
  uint32_t root_id = 0;
  std::shared_ptr<RootState> root;  // declared before the connection, which refers to it
  std::unique_ptr<RtspConnection> connection;
};

// HTTP calls in flight: Envoy answers them on the root context, so the token
// says which connection asked. Bounded: a call past the bound is refused
// (the SETUP gets 503), and every call is answered, at the latest by its
// timeout, which removes it.
constexpr size_t kMaxCallsInFlight = 4096;
std::unordered_map<uint32_t, uint32_t>& callers() {
  static std::unordered_map<uint32_t, uint32_t> instance;
  return instance;
}
uint32_t g_current_stream = 0;  // the stream context whose callback is running

bool WasmHost::httpCall(std::string_view cluster, std::string_view method, std::string_view path,
                        std::string_view body, uint32_t timeout_ms, uint32_t& token) {
  if (callers().size() >= kMaxCallsInFlight) return false;
  const std::pair<std::string_view, std::string_view> headers[] = {
      {":method", method}, {":path", path}, {":authority", "mediamesh-control-plane"},
      {"content-type", "application/json"}};
  std::string serialized;
  auto u32 = [&](size_t v) {
    for (int i = 0; i < 4; ++i) serialized.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  u32(std::size(headers));
  for (const auto& [name, value] : headers) {
    u32(name.size());
    u32(value.size());
  }
  for (const auto& [name, value] : headers) {
    serialized.append(name.data(), name.size());
    serialized.push_back('\0');
    serialized.append(value.data(), value.size());
    serialized.push_back('\0');
  }
  const pw::Status status = proxy_http_call(
      cluster.data(), cluster.size(), reinterpret_cast<const uint8_t*>(serialized.data()), serialized.size(),
      reinterpret_cast<const uint8_t*>(body.data()), body.size(), nullptr, 0, timeout_ms, &token);
  if (status != pw::Status::Ok) return false;
  callers()[token] = g_current_stream;
  return true;
}

// Function-local statics: built on first use, after the VM's own start-up.
WasmHost& host() {
  static WasmHost instance;
  return instance;
}
std::unordered_map<uint32_t, RootContext>& roots() {
  static std::unordered_map<uint32_t, RootContext> instance;
  return instance;
}
std::unordered_map<uint32_t, StreamContext>& streams() {
  static std::unordered_map<uint32_t, StreamContext> instance;
  return instance;
}

RtspConnection* connectionOf(uint32_t context_id) {
  auto it = streams().find(context_id);
  return it == streams().end() ? nullptr : it->second.connection.get();
}

pw::Action actionOf(Verdict verdict) { return verdict == Verdict::Pause ? pw::Action::Pause : pw::Action::Continue; }

void logText(pw::LogLevel level, const std::string& text) { proxy_log(level, text.data(), text.size()); }

}  // namespace

extern "C" {

void __wasm_call_ctors();

__attribute__((export_name("_initialize"))) void mediamesh_initialize() { __wasm_call_ctors(); }

// Marks the ABI version; never called.
__attribute__((export_name("proxy_abi_version_0_2_1"))) void mediamesh_abi_version_0_2_1() {}

__attribute__((export_name("proxy_on_memory_allocate"))) void* mediamesh_on_memory_allocate(size_t size) {
  if (g_copy_armed && size <= kCopyCapacity && g_copy_buffer != nullptr) {
    g_copy_armed = false;
    return g_copy_buffer;
  }
  return malloc(size);
}

__attribute__((export_name("proxy_on_vm_start"))) uint32_t mediamesh_on_vm_start(uint32_t, size_t) { return 1; }

__attribute__((export_name("proxy_on_context_create"))) void mediamesh_on_context_create(uint32_t context_id,
                                                                                       uint32_t parent_id) {
  if (parent_id == 0) {
    roots()[context_id];
    return;
  }
  StreamContext stream;
  stream.root_id = parent_id;
  auto root = roots().find(parent_id);
  if (root != roots().end() && root->second.state) {
    stream.root = root->second.state;
    stream.connection = std::make_unique<RtspConnection>(*stream.root->config, stream.root->stats, host());
  }
  streams()[context_id] = std::move(stream);
}

__attribute__((export_name("proxy_on_configure"))) uint32_t mediamesh_on_configure(uint32_t root_id, size_t size) {
  uint8_t* data = nullptr;
  size_t length = 0;
  if (size == 0 ||
      proxy_get_buffer_bytes(pw::BufferType::PluginConfiguration, 0, size, &data, &length) != pw::Status::Ok ||
      data == nullptr) {
    logText(pw::LogLevel::Error, "mediamesh.rtsp_filter: no plugin configuration");
    return 0;
  }
  std::string error;
  std::unique_ptr<FilterConfig> config =
      mediamesh::rtsp_filter::parseFilterConfig(std::string_view(reinterpret_cast<const char*>(data), length), error);
  free(data);
  if (!config) {
    logText(pw::LogLevel::Error, "mediamesh.rtsp_filter: configuration rejected: " + error);
    return 0;
  }
  auto state = std::make_shared<RootState>();
  if (!state->stats.define(host(), config->route)) {
    logText(pw::LogLevel::Error, "mediamesh.rtsp_filter: Envoy refused a metric of route " + config->route);
    return 0;
  }
  state->config = std::move(config);
  roots()[root_id].state = std::move(state);
  proxy_set_tick_period_milliseconds(kTickMs);
  return 1;
}

// Closes connections whose first request is overdue.
__attribute__((export_name("proxy_on_tick"))) void mediamesh_on_tick(uint32_t root_id) {
  auto root = roots().find(root_id);
  if (root == roots().end() || !root->second.state) return;
  const uint64_t now = host().monotonicNanos();
  const uint64_t limit = uint64_t{root->second.state->config->first_request_timeout_ms} * 1'000'000;
  for (auto& [id, stream] : streams()) {
    RtspConnection* c = stream.connection.get();
    if (stream.root_id != root_id || c == nullptr || c->state() != RtspConnection::State::AwaitingRequest) continue;
    if (now - c->createdNanos() < limit) continue;
    if (proxy_set_effective_context(id) != pw::Status::Ok) continue;
    c->onFirstRequestTimeout();
  }
  proxy_set_effective_context(root_id);
}

// Pausing here keeps tcp_proxy's own onNewConnection, where it picks its
// route, from running until the first request has been read: the filter
// chain resumes at tcp_proxy only when onDownstreamData first returns
// Continue, by then with envoy.tcp_proxy.cluster set.
__attribute__((export_name("proxy_on_new_connection"))) uint32_t mediamesh_on_new_connection(uint32_t context_id) {
  if (connectionOf(context_id) == nullptr) {
    // A plugin without a usable configuration: refuse rather than pass bytes unseen.
    proxy_close_stream(pw::StreamType::Downstream);
  }
  return static_cast<uint32_t>(pw::Action::Pause);
}

__attribute__((export_name("proxy_on_downstream_data"))) uint32_t mediamesh_on_downstream_data(uint32_t context_id,
                                                                                             size_t size,
                                                                                             uint32_t end_of_stream) {
  RtspConnection* c = connectionOf(context_id);
  if (c == nullptr) return static_cast<uint32_t>(pw::Action::Pause);
  g_current_stream = context_id;
  return static_cast<uint32_t>(actionOf(c->onClientData(size, end_of_stream != 0)));
}

__attribute__((export_name("proxy_on_upstream_data"))) uint32_t mediamesh_on_upstream_data(uint32_t context_id,
                                                                                         size_t size,
                                                                                         uint32_t end_of_stream) {
  RtspConnection* c = connectionOf(context_id);
  if (c == nullptr) return static_cast<uint32_t>(pw::Action::Continue);
  g_current_stream = context_id;
  return static_cast<uint32_t>(actionOf(c->onServerData(size, end_of_stream != 0)));
}

__attribute__((export_name("proxy_on_done"))) uint32_t mediamesh_on_done(uint32_t context_id) {
  if (RtspConnection* c = connectionOf(context_id)) {
    g_current_stream = 0;  // answers to its last calls have no one to go to
    c->finish();
  }
  return 1;
}

// Every call is made on the root context (Envoy's rule), so its answer
// arrives there; it goes on to the connection that asked, if still open.
__attribute__((export_name("proxy_on_http_call_response"))) void mediamesh_on_http_call_response(
    uint32_t root_id, uint32_t token, uint32_t headers, size_t body_size, uint32_t /*trailers*/) {
  auto caller = callers().find(token);
  if (caller == callers().end()) return;
  const uint32_t stream_id = caller->second;
  callers().erase(caller);
  uint32_t status = 0;
  std::string body;
  if (headers != 0) {
    static constexpr std::string_view kStatus = ":status";
    uint8_t* value = nullptr;
    size_t size = 0;
    if (proxy_get_header_map_value(pw::MapType::HttpCallResponseHeaders, kStatus.data(), kStatus.size(), &value,
                                   &size) == pw::Status::Ok && value != nullptr) {
      for (size_t i = 0; i < size && i < 3; ++i) status = status * 10 + static_cast<uint32_t>(value[i] - '0');
      if (size != 3 || status < 100 || status > 599) status = 0;
    }
    if (value != nullptr) free(value);
    // The relay API's answers are small; anything longer is not one of them.
    if (body_size > 0 && body_size <= 4096) {
      uint8_t* data = nullptr;
      size_t length = 0;
      if (proxy_get_buffer_bytes(pw::BufferType::HttpCallResponseBody, 0, body_size, &data, &length) ==
              pw::Status::Ok && data != nullptr) {
        body.assign(reinterpret_cast<const char*>(data), length);
      }
      if (data != nullptr) free(data);
    }
  }
  RtspConnection* c = stream_id == 0 ? nullptr : connectionOf(stream_id);
  if (c == nullptr) {
    if (status < 200 || status >= 300) {
      logText(pw::LogLevel::Warn, "mediamesh.rtsp_filter: a relay call of a closed connection failed (status " +
                                      std::to_string(status) + ")");
    }
    return;
  }
  if (proxy_set_effective_context(stream_id) != pw::Status::Ok) return;
  g_current_stream = stream_id;
  c->onHttpAnswer(token, status, body);
  proxy_set_effective_context(root_id);
}

__attribute__((export_name("proxy_on_delete"))) void mediamesh_on_delete(uint32_t context_id) {
  if (streams().erase(context_id) == 0) roots().erase(context_id);
}

}  // extern "C"
