#include "fake_host.h"

namespace mediamesh {
namespace rtsp_filter {
namespace testing {

namespace {
size_t slot(Direction d) { return d == Direction::ClientToServer ? 0 : 1; }
}  // namespace

bool FakeHost::readData(Direction direction, size_t start, size_t length, BytesView& out) {
  const std::string& bytes = held[slot(direction)];
  if (refuse_reads || start > bytes.size()) return false;
  out.data = reinterpret_cast<const uint8_t*>(bytes.data()) + start;
  out.size = std::min(length, bytes.size() - start);
  return true;
}

bool FakeHost::replaceData(Direction direction, size_t start, size_t length, std::string_view bytes) {
  std::string& held_bytes = held[slot(direction)];
  if (start > held_bytes.size()) return false;
  held_bytes.replace(start, std::min(length, held_bytes.size() - start), bytes);
  return true;
}

void FakeHost::resumeClient() {
  ++resumes;
  forwarded[0] += held[0];
  held[0].clear();
}

bool FakeHost::httpCall(std::string_view cluster, std::string_view method, std::string_view path,
                        std::string_view body, uint32_t timeout_ms, uint32_t& token) {
  if (refuse_calls) return false;
  token = static_cast<uint32_t>(calls.size() + 1);
  calls.push_back(HttpCall{std::string(cluster), std::string(method), std::string(path), std::string(body), timeout_ms,
                           token});
  return true;
}

bool FakeHost::setFilterState(std::string_view key, std::string_view value) {
  if (refuse_filter_state) return false;
  filter_state[std::string(key)] = std::string(value);
  return true;
}

bool FakeHost::defineMetric(MetricKind kind, std::string_view name, uint32_t& id) {
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i].name == name) {
      id = static_cast<uint32_t>(i);
      return true;
    }
  }
  metrics.push_back(Metric{kind, std::string(name), 0, {}});
  id = static_cast<uint32_t>(metrics.size() - 1);
  return true;
}

void FakeHost::incrementMetric(uint32_t id, int64_t delta) { metrics.at(id).value += delta; }

void FakeHost::recordMetric(uint32_t id, uint64_t value) {
  Metric& m = metrics.at(id);
  if (m.kind == MetricKind::Histogram) m.records.push_back(value);
  else m.value = static_cast<int64_t>(value);
}

const FakeHost::Metric* FakeHost::find(std::string_view full_name) const {
  for (const Metric& m : metrics) {
    if (m.name == full_name) return &m;
  }
  return nullptr;
}

int64_t FakeHost::stat(std::string_view full_name) const {
  const Metric* m = find(full_name);
  return m == nullptr ? 0 : m->value;
}

Verdict Driver::client(std::string_view bytes, bool end_of_stream) {
  return deliver(Direction::ClientToServer, bytes, end_of_stream);
}

Verdict Driver::server(std::string_view bytes, bool end_of_stream) {
  return deliver(Direction::ServerToClient, bytes, end_of_stream);
}

Verdict Driver::deliver(Direction direction, std::string_view bytes, bool end_of_stream) {
  std::string& held = host_.held[slot(direction)];
  held.append(bytes.data(), bytes.size());
  const Verdict verdict = direction == Direction::ClientToServer ? connection_.onClientData(held.size(), end_of_stream)
                                                                 : connection_.onServerData(held.size(), end_of_stream);
  if (verdict == Verdict::Continue) {
    host_.forwarded[slot(direction)] += held;
    held.clear();
  }
  return verdict;
}

}  // namespace testing
}  // namespace rtsp_filter
}  // namespace mediamesh
