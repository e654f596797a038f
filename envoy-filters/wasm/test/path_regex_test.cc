// The RegularExpression path matcher: RE2's syntax for what it supports, a
// full match, a clear refusal for the rest, and linear time whatever the
// pattern.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "path_regex.h"

namespace mediamesh {
namespace rtsp_filter {
namespace {

struct Case {
  const char* pattern;
  const char* path;
  bool matches;
};

class PathRegexMatch : public ::testing::TestWithParam<Case> {};

TEST_P(PathRegexMatch, FullMatch) {
  const Case& c = GetParam();
  std::string error;
  auto regex = PathRegex::compile(c.pattern, error);
  ASSERT_NE(regex, nullptr) << c.pattern << ": " << error;
  EXPECT_EQ(regex->matches(c.path), c.matches) << c.pattern << " on " << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PathRegexMatch,
    ::testing::Values(
        Case{"/cam1", "/cam1", true}, Case{"/cam1", "/cam12", false}, Case{"/cam1", "/cam", false},
        Case{"/cam[0-9]+", "/cam42", true}, Case{"/cam[0-9]+", "/cam", false}, Case{"/cam[0-9]+", "/cam4a", false},
        Case{"/cam\\d{2}", "/cam07", true}, Case{"/cam\\d{2}", "/cam7", false}, Case{"/cam\\d{2,3}", "/cam123", true},
        Case{"/cam\\d{2,3}", "/cam1234", false}, Case{"/cam\\d{2,}", "/cam12345", true},
        Case{"/(lobby|hall)/.*", "/lobby/cam", true}, Case{"/(lobby|hall)/.*", "/hall/", true},
        Case{"/(lobby|hall)/.*", "/kitchen/cam", false}, Case{"/(?:a|b)+c", "/ababc", true},
        Case{".*", "", true}, Case{"", "", true}, Case{"", "/", false}, Case{"/a?", "/", true},
        Case{"/a*?b", "/aaab", true}, Case{"/[^/]+/stream=\\d", "/cam/stream=0", true},
        Case{"/[^/]+/stream=\\d", "/a/b/stream=0", false}, Case{"^/x$", "/x", true}, Case{"\\A/x\\z", "/x", true},
        Case{"/x$", "/x/", false}, Case{"/\\w+\\.sdp", "/live_1.sdp", true}, Case{"/\\w+\\.sdp", "/live-1.sdp", false},
        Case{"/[a\\-z]", "/-", true}, Case{"/[a-]", "/-", true}, Case{"/[]a]", "/]", true}, Case{"/\\x41", "/A", true},
        Case{"/a{0}b", "/b", true}, Case{"/(a|)b", "/b", true}, Case{"/(a*)*b", "/aaaab", true},
        Case{"/\\S+", "/a b", false}, Case{"/[\\s]", "/ ", true}, Case{"/.", "/\n", false}));

TEST(PathRegex, RefusesWhatItDoesNotSupport) {
  const char* refused[] = {
      "(?i)/cam",       // flags
      "(?P<n>/cam)",    // named group
      "(?=/cam)",       // lookahead
      "/(cam)\\1",      // backreference
      "/\\bcam",        // word boundary
      "/\\pL",          // Unicode class
      "/[[:alpha:]]",   // POSIX class
      "/cam(",          // unbalanced
      "/cam)",          // unbalanced
      "/cam[",          // unterminated class
      "*cam",           // nothing to repeat
      "/a**",           // repeated repetition
      "/a{1001}",       // repeat bound
      "/a{3,2}",        // bad bounds
      "/[z-a]",         // reversed range
      "/\\",            // trailing backslash
      "/\\x4",          // short hex
  };
  for (const char* pattern : refused) {
    std::string error;
    EXPECT_EQ(PathRegex::compile(pattern, error), nullptr) << pattern;
    EXPECT_FALSE(error.empty()) << pattern;
  }
}

TEST(PathRegex, RefusesProgramsTooLargeToRun) {
  std::string error;
  EXPECT_EQ(PathRegex::compile("(((a{100}){100}){100})", error), nullptr);
  EXPECT_NE(error.find("instructions"), std::string::npos) << error;
}

TEST(PathRegex, NestingIsBounded) {
  std::string error;
  EXPECT_EQ(PathRegex::compile(std::string(100, '(') + "a" + std::string(100, ')'), error), nullptr);
  EXPECT_NE(error.find("nest"), std::string::npos) << error;
}

TEST(PathRegex, LinearTimeOnPathologicalPatterns) {
  std::string error;
  auto regex = PathRegex::compile("/(a*)*(a|b)*(a+)+c", error);
  ASSERT_NE(regex, nullptr) << error;
  const std::string path = "/" + std::string(4096, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(regex->matches(path));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 500);
}

TEST(PathRegex, ReusableAcrossMatches) {
  std::string error;
  auto regex = PathRegex::compile("/cam[12]", error);
  ASSERT_NE(regex, nullptr);
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(regex->matches("/cam1"));
    ASSERT_FALSE(regex->matches("/cam3"));
  }
}

}  // namespace
}  // namespace rtsp_filter
}  // namespace mediamesh
