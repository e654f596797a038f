#include "stats.h"

#include <string>

namespace mediamesh {
namespace rtsp_filter {

Method methodOf(std::string_view method) noexcept {
  for (size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (kMethodNames[i] == method) return static_cast<Method>(i);
  }
  return Method::Other;
}

bool RouteStats::define(Host& host, std::string_view route) {
  std::string name;
  bool ok = true;
  auto full = [&](std::string_view stat) {
    name.assign(kStatPrefix);
    name.append(route);
    name.push_back('.');
    name.append(stat);
    return std::string_view(name);
  };
  for (size_t i = 0; i < kStatCount; ++i) {
    ok = host.defineMetric(kStats[i].kind, full(kStats[i].name), ids_[i]) && ok;
  }
  std::string request;
  for (size_t i = 0; i < kMethodCount; ++i) {
    request.assign("requests.");
    request.append(kMethodNames[i]);
    ok = host.defineMetric(MetricKind::Counter, full(request), request_ids_[i]) && ok;
  }
  return ok;
}

}  // namespace rtsp_filter
}  // namespace mediamesh
