// Counting replacements of the global allocation functions, for tests that
// prove a hot path never allocates. Link counting_allocator.cc into exactly
// one test binary's sources; it replaces operator new/delete program-wide.
#pragma once

#include <cstdint>

namespace mediamesh {
namespace testing {

// Counts operator new calls made while counting is on, on any thread.
class AllocationCounter {
 public:
  static void start();
  // Stops counting; returns how many allocations happened since start().
  static uint64_t stop();
};

}  // namespace testing
}  // namespace mediamesh
