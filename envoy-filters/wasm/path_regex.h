// RegularExpression path matches of an RtspRoute: the RE2 syntax the
// control plane admits, matched in linear time (a Pike VM over a compiled
// program), so no pattern and no path can make a request slow or blow the
// Wasm stack. Envoy's safe_regex and Gateway API implementations on Envoy
// match a whole path, and so does this: matches() is a full match.
//
// Supported, byte by byte (paths are ASCII; a UTF-8 sequence is its bytes):
//   literals, escaped punctuation (\. \/ \- ...), \t \n \r \f \v \xHH
//   .            any byte but \n
//   [abc] [^a-z] classes with ranges and \d \w \s inside
//   \d \D \w \W \s \S
//   ( )  (?: )   groups (nothing is captured: only whether it matches)
//   a|b          alternation
//   * + ? {n} {n,} {n,m}, each optionally lazy (?), repeats at most 1000
//   ^ $ \A \z    start and end of the path
// Anything else (flags, named groups, \b, \p{..}, lookaround, backreferences)
// is refused with a reason: the filter then rejects its whole configuration,
// which Envoy reports as a NACK naming the pattern.
//
// compile() allocates the program and the match scratch once; matches()
// allocates nothing. Not thread-safe (one instance per Wasm VM).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mediamesh {
namespace rtsp_filter {

class PathRegex {
 public:
  // Bounds that keep a compiled pattern small whatever its repetitions ask.
  static constexpr size_t kMaxPatternLength = 4096;
  static constexpr size_t kMaxProgramSize = 20000;
  static constexpr uint32_t kMaxRepeat = 1000;
  static constexpr size_t kMaxNesting = 64;

  // Null with `error` set when the pattern is outside the subset above.
  static std::unique_ptr<PathRegex> compile(std::string_view pattern, std::string& error);

  // True when the whole of `text` matches.
  bool matches(std::string_view text) const noexcept;

  size_t programSize() const noexcept { return program_.size(); }

 private:
  enum class Op : uint8_t { Byte, Split, Jump, Begin, End, Match };
  struct Inst {
    Op op;
    uint32_t x = 0;  // Byte: class index; Split/Jump: target
    uint32_t y = 0;  // Split: second target (lower priority)
  };
  using ByteSet = std::array<uint64_t, 4>;

  friend class RegexCompiler;
  PathRegex() = default;

  void addThread(std::vector<uint32_t>& list, std::vector<uint32_t>& mark, uint32_t generation, uint32_t pc,
                 size_t pos, size_t length) const noexcept;

  std::vector<Inst> program_;
  std::vector<ByteSet> classes_;
  // Scratch for matches(): two thread lists, their membership marks, a stack.
  mutable std::vector<uint32_t> current_;
  mutable std::vector<uint32_t> next_;
  mutable std::vector<uint32_t> mark_current_;
  mutable std::vector<uint32_t> mark_next_;
  mutable std::vector<uint32_t> stack_;
  mutable uint32_t generation_ = 0;
};

}  // namespace rtsp_filter
}  // namespace mediamesh
