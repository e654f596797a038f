// The per-datagram path must not allocate once a filter exists: count every
// operator new while on_data runs.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "envoy_abi.h"
#include "fake_envoy_abi.h"
#include "gtest/gtest.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};
}  // namespace

// Replacement allocation functions: count while g_counting is set.
void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace mediamesh {
namespace rtp_filter {
namespace {

using testing::FakeEnvoy;
using testing::FakeWorker;

std::string rtpPacket(uint16_t seq, uint32_t ssrc) {
  std::string p(172, '\x22');
  p[0] = '\x80';
  p[1] = 96;
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  p[7] = static_cast<char>(seq);  // timestamp low byte
  p[11] = static_cast<char>(ssrc);
  return p;
}

TEST(AllocationTest, CountingAllocatorCounts) {
  g_allocations = 0;
  g_counting = true;
  void* p = ::operator new(16);  // a direct call cannot be elided
  g_counting = false;
  ::operator delete(p);
  EXPECT_EQ(1u, g_allocations.load());
}

TEST(AllocationTest, OnDataDoesNotAllocate) {
  FakeEnvoy::get().reset();
  const std::string json = R"({"route":"media.feed","max_sources":8})";
  const std::string name = "rtp";
  const void* config = envoy_dynamic_module_on_udp_listener_filter_config_new(
      &FakeEnvoy::get(), {name.data(), name.size()}, {json.data(), json.size()});
  ASSERT_NE(nullptr, config);
  FakeWorker w;
  const void* filter = envoy_dynamic_module_on_udp_listener_filter_new(config, &w);
  ASSERT_NE(nullptr, filter);

  // Every datagram prepared up front: single slice, several slices, garbage,
  // truncated, and more SSRCs than the table holds.
  std::vector<std::vector<std::string>> datagrams;
  for (uint16_t seq = 1; seq <= 300; ++seq) {
    const std::string p = rtpPacket(seq, seq % 20);
    if (seq % 7 == 0) {
      datagrams.push_back({p.substr(0, 5), p.substr(5, 9), p.substr(14)});
    } else {
      datagrams.push_back({p});
    }
    if (seq % 50 == 0) {
      datagrams.push_back({"not rtp at all"});
      datagrams.push_back({std::string("\x80\x60\x00", 3)});
    }
  }

  g_allocations = 0;
  g_counting = true;
  for (auto& d : datagrams) {
    w.chunks.swap(d);
    envoy_dynamic_module_on_udp_listener_filter_on_data(&w, filter);
    w.chunks.swap(d);
  }
  g_counting = false;
  EXPECT_EQ(0u, g_allocations.load());
  EXPECT_EQ(300, FakeEnvoy::get().counter("media.feed.packets"));

  envoy_dynamic_module_on_udp_listener_filter_destroy(filter);
  envoy_dynamic_module_on_udp_listener_filter_config_destroy(config);
}

}  // namespace
}  // namespace rtp_filter
}  // namespace mediamesh
