#include "path_regex.h"

#include <algorithm>
#include <utility>

namespace mediamesh {
namespace rtsp_filter {

namespace {

using ByteSet = std::array<uint64_t, 4>;

void addByte(ByteSet& set, uint8_t b) noexcept { set[b >> 6] |= uint64_t{1} << (b & 63); }

void addRange(ByteSet& set, uint8_t lo, uint8_t hi) noexcept {
  for (unsigned b = lo; b <= hi; ++b) addByte(set, static_cast<uint8_t>(b));
}

bool hasByte(const ByteSet& set, uint8_t b) noexcept { return (set[b >> 6] >> (b & 63)) & 1; }

void addSet(ByteSet& into, const ByteSet& from) noexcept {
  for (size_t i = 0; i < into.size(); ++i) into[i] |= from[i];
}

ByteSet complement(const ByteSet& set) noexcept {
  ByteSet out;
  for (size_t i = 0; i < set.size(); ++i) out[i] = ~set[i];
  return out;
}

ByteSet digitSet() noexcept {
  ByteSet s{};
  addRange(s, '0', '9');
  return s;
}

ByteSet wordSet() noexcept {
  ByteSet s{};
  addRange(s, '0', '9');
  addRange(s, 'A', 'Z');
  addRange(s, 'a', 'z');
  addByte(s, '_');
  return s;
}

// RE2's \s: [\t\n\f\r ].
ByteSet spaceSet() noexcept {
  ByteSet s{};
  addByte(s, '\t');
  addByte(s, '\n');
  addByte(s, '\f');
  addByte(s, '\r');
  addByte(s, ' ');
  return s;
}

bool isAlnum(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Pattern → syntax tree → program. Lives only during compile().
class RegexCompiler {
 public:
  RegexCompiler(std::string_view pattern, PathRegex& out, std::string& error)
      : pattern_(pattern), out_(out), error_(error) {}

  bool run() {
    if (pattern_.size() > PathRegex::kMaxPatternLength) return fail("pattern is too long");
    uint32_t root = 0;
    if (!parseAlternation(root, 0)) return false;
    if (pos_ != pattern_.size()) return fail("unmatched ')'");
    if (!emit(root)) return false;
    if (!push({PathRegex::Op::Match})) return false;
    return true;
  }

 private:
  enum class Kind : uint8_t { Empty, Class, Begin, End, Concat, Alternate, Repeat };
  struct Node {
    Kind kind;
    uint32_t cls = 0;                // Class
    std::vector<uint32_t> children;  // Concat, Alternate, Repeat (one)
    uint32_t min = 0;                // Repeat
    uint32_t max = 0;                // Repeat; kInfinite for no bound
  };
  static constexpr uint32_t kInfinite = UINT32_MAX;

  bool fail(const char* why) {
    if (error_.empty()) {
      error_ = why;
      error_ += " at offset ";
      error_ += std::to_string(pos_);
    }
    return false;
  }

  bool atEnd() const noexcept { return pos_ >= pattern_.size(); }
  char peek() const noexcept { return pattern_[pos_]; }

  uint32_t addNode(Node node) {
    nodes_.push_back(std::move(node));
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  uint32_t addClass(const ByteSet& set) {
    out_.classes_.push_back(set);
    return addNode(Node{Kind::Class, static_cast<uint32_t>(out_.classes_.size() - 1), {}, 0, 0});
  }

  bool parseAlternation(uint32_t& out, size_t depth) {
    if (depth > PathRegex::kMaxNesting) return fail("groups nest too deeply");
    std::vector<uint32_t> branches;
    uint32_t branch = 0;
    if (!parseConcatenation(branch, depth)) return false;
    branches.push_back(branch);
    while (!atEnd() && peek() == '|') {
      ++pos_;
      if (!parseConcatenation(branch, depth)) return false;
      branches.push_back(branch);
    }
    out = branches.size() == 1 ? branches[0] : addNode(Node{Kind::Alternate, 0, std::move(branches), 0, 0});
    return true;
  }

  bool parseConcatenation(uint32_t& out, size_t depth) {
    std::vector<uint32_t> items;
    while (!atEnd() && peek() != '|' && peek() != ')') {
      uint32_t item = 0;
      if (!parseRepetition(item, depth)) return false;
      items.push_back(item);
    }
    if (items.empty()) out = addNode(Node{Kind::Empty, 0, {}, 0, 0});
    else if (items.size() == 1) out = items[0];
    else out = addNode(Node{Kind::Concat, 0, std::move(items), 0, 0});
    return true;
  }

  // {n}, {n,} or {n,m} at pos_; false (pos_ unchanged) when the brace is a literal.
  bool braceRepeat(uint32_t& min, uint32_t& max) {
    size_t p = pos_ + 1;
    auto number = [&](uint32_t& value) {
      size_t start = p;
      uint64_t v = 0;
      while (p < pattern_.size() && pattern_[p] >= '0' && pattern_[p] <= '9') {
        v = v * 10 + static_cast<uint64_t>(pattern_[p] - '0');
        if (v > 100000) v = 100000;
        ++p;
      }
      value = static_cast<uint32_t>(v);
      return p > start;
    };
    if (!number(min)) return false;
    max = min;
    if (p < pattern_.size() && pattern_[p] == ',') {
      ++p;
      if (!number(max)) max = kInfinite;
    }
    if (p >= pattern_.size() || pattern_[p] != '}') return false;
    pos_ = p + 1;
    return true;
  }

  bool parseRepetition(uint32_t& out, size_t depth) {
    uint32_t atom = 0;
    if (!parseAtom(atom, depth)) return false;
    bool repeated = false;
    while (!atEnd()) {
      uint32_t min = 0, max = 0;
      char c = peek();
      if (c == '*') {
        min = 0, max = kInfinite, ++pos_;
      } else if (c == '+') {
        min = 1, max = kInfinite, ++pos_;
      } else if (c == '?') {
        min = 0, max = 1, ++pos_;
      } else if (c == '{') {
        if (!braceRepeat(min, max)) break;
        if (min > PathRegex::kMaxRepeat || (max != kInfinite && max > PathRegex::kMaxRepeat)) {
          return fail("repetition count above 1000");
        }
        if (max < min) return fail("repetition {n,m} with m below n");
      } else {
        break;
      }
      if (repeated) return fail("a repetition operator applied to a repetition");
      const Kind kind = nodes_[atom].kind;
      if (kind == Kind::Empty || kind == Kind::Begin || kind == Kind::End) {
        return fail("missing argument to repetition operator");
      }
      repeated = true;
      if (!atEnd() && peek() == '?') ++pos_;  // lazy: the same set of matches
      atom = addNode(Node{Kind::Repeat, 0, {atom}, min, max});
    }
    out = atom;
    return true;
  }

  bool parseAtom(uint32_t& out, size_t depth) {
    const char c = peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (!atEnd() && peek() == '?') {
          if (pos_ + 1 < pattern_.size() && pattern_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            return fail("only (?:...) groups are supported (no flags, named groups or lookaround)");
          }
        }
        if (!parseAlternation(out, depth + 1)) return false;
        if (atEnd() || peek() != ')') return fail("missing ')'");
        ++pos_;
        return true;
      }
      case '[':
        return parseClass(out);
      case '.': {
        ++pos_;
        ByteSet s{};
        addRange(s, 0, 255);
        s['\n' >> 6] &= ~(uint64_t{1} << ('\n' & 63));
        out = addClass(s);
        return true;
      }
      case '^':
        ++pos_;
        out = addNode(Node{Kind::Begin, 0, {}, 0, 0});
        return true;
      case '$':
        ++pos_;
        out = addNode(Node{Kind::End, 0, {}, 0, 0});
        return true;
      case '*':
      case '+':
      case '?':
        return fail("missing argument to repetition operator");
      case '\\':
        return parseEscape(out);
      default: {
        ++pos_;
        ByteSet s{};
        addByte(s, static_cast<uint8_t>(c));
        out = addClass(s);
        return true;
      }
    }
  }

  // After a backslash: a class escape (\d ...) into `set`, or one byte into `byte`.
  // `in_class` refuses the assertions (\A \z), which mean nothing inside [...].
  bool escape(ByteSet& set, bool& is_set, uint8_t& byte, bool in_class) {
    ++pos_;  // the backslash
    if (atEnd()) return fail("trailing backslash");
    const char c = peek();
    ++pos_;
    is_set = true;
    switch (c) {
      case 'd': set = digitSet(); return true;
      case 'D': set = complement(digitSet()); return true;
      case 'w': set = wordSet(); return true;
      case 'W': set = complement(wordSet()); return true;
      case 's': set = spaceSet(); return true;
      case 'S': set = complement(spaceSet()); return true;
      default: break;
    }
    is_set = false;
    switch (c) {
      case 't': byte = '\t'; return true;
      case 'n': byte = '\n'; return true;
      case 'r': byte = '\r'; return true;
      case 'f': byte = '\f'; return true;
      case 'v': byte = '\v'; return true;
      case 'a': byte = '\a'; return true;
      case 'x': {
        if (pos_ + 2 > pattern_.size() || hexValue(pattern_[pos_]) < 0 || hexValue(pattern_[pos_ + 1]) < 0) {
          return fail("\\x needs two hex digits (\\x{...} is not supported)");
        }
        byte = static_cast<uint8_t>(hexValue(pattern_[pos_]) * 16 + hexValue(pattern_[pos_ + 1]));
        pos_ += 2;
        return true;
      }
      case 'A':
      case 'z':
        if (in_class) return fail("\\A and \\z are not allowed in a class");
        byte = static_cast<uint8_t>(c);  // the caller turns it into an assertion
        return true;
      default:
        break;
    }
    if (isAlnum(c)) return fail("unsupported escape (\\b, \\p, backreferences and the like are not supported)");
    byte = static_cast<uint8_t>(c);
    return true;
  }

  bool parseEscape(uint32_t& out) {
    ByteSet set{};
    bool is_set = false;
    uint8_t byte = 0;
    const char next = pos_ + 1 < pattern_.size() ? pattern_[pos_ + 1] : '\0';
    if (!escape(set, is_set, byte, false)) return false;
    if (next == 'A') {
      out = addNode(Node{Kind::Begin, 0, {}, 0, 0});
      return true;
    }
    if (next == 'z') {
      out = addNode(Node{Kind::End, 0, {}, 0, 0});
      return true;
    }
    if (!is_set) addByte(set, byte);
    out = addClass(set);
    return true;
  }

  bool parseClass(uint32_t& out) {
    ++pos_;  // '['
    bool negate = false;
    if (!atEnd() && peek() == '^') {
      negate = true;
      ++pos_;
    }
    ByteSet set{};
    bool first = true;
    while (true) {
      if (atEnd()) return fail("missing ']'");
      char c = peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && pos_ + 1 < pattern_.size() && pattern_[pos_ + 1] == ':') {
        return fail("POSIX classes like [:alpha:] are not supported");
      }
      uint8_t lo = 0;
      if (c == '\\') {
        ByteSet escaped{};
        bool is_set = false;
        if (!escape(escaped, is_set, lo, true)) return false;
        if (is_set) {
          addSet(set, escaped);
          continue;
        }
      } else {
        lo = static_cast<uint8_t>(c);
        ++pos_;
      }
      // A range lo-hi, unless the '-' is the last character of the class.
      if (pos_ + 1 < pattern_.size() && peek() == '-' && pattern_[pos_ + 1] != ']') {
        ++pos_;
        uint8_t hi = 0;
        if (peek() == '\\') {
          ByteSet escaped{};
          bool is_set = false;
          if (!escape(escaped, is_set, hi, true)) return false;
          if (is_set) return fail("a class escape cannot end a range");
        } else {
          hi = static_cast<uint8_t>(peek());
          ++pos_;
        }
        if (hi < lo) return fail("range out of order in class");
        addRange(set, lo, hi);
      } else {
        addByte(set, lo);
      }
    }
    out = addClass(negate ? complement(set) : set);
    return true;
  }

  bool push(PathRegex::Inst inst) {
    if (out_.program_.size() >= PathRegex::kMaxProgramSize) {
      error_ = "pattern compiles to more than " + std::to_string(PathRegex::kMaxProgramSize) +
               " instructions (repetitions expand)";
      return false;
    }
    out_.program_.push_back(inst);
    return true;
  }

  uint32_t here() const noexcept { return static_cast<uint32_t>(out_.program_.size()); }

  bool emit(uint32_t index) {
    const Kind kind = nodes_[index].kind;
    switch (kind) {
      case Kind::Empty:
        return true;
      case Kind::Class:
        return push({PathRegex::Op::Byte, nodes_[index].cls, 0});
      case Kind::Begin:
        return push({PathRegex::Op::Begin});
      case Kind::End:
        return push({PathRegex::Op::End});
      case Kind::Concat:
        for (uint32_t child : nodes_[index].children) {
          if (!emit(child)) return false;
        }
        return true;
      case Kind::Alternate:
        return emitAlternation(index);
      case Kind::Repeat:
        return emitRepeat(index);
    }
    return false;
  }

  bool emitAlternation(uint32_t index) {
    const std::vector<uint32_t>& branches = nodes_[index].children;  // emit() adds no nodes
    std::vector<uint32_t> jumps;
    for (size_t i = 0; i < branches.size(); ++i) {
      if (i + 1 < branches.size()) {
        const uint32_t split = here();
        if (!push({PathRegex::Op::Split, split + 1, 0})) return false;
        if (!emit(branches[i])) return false;
        jumps.push_back(here());
        if (!push({PathRegex::Op::Jump})) return false;
        out_.program_[split].y = here();
      } else if (!emit(branches[i])) {
        return false;
      }
    }
    for (uint32_t j : jumps) out_.program_[j].x = here();
    return true;
  }

  bool emitRepeat(uint32_t index) {
    const uint32_t child = nodes_[index].children[0];
    const uint32_t min = nodes_[index].min;
    const uint32_t max = nodes_[index].max;
    for (uint32_t i = 0; i < min; ++i) {
      if (!emit(child)) return false;
    }
    if (max == kInfinite) {
      const uint32_t loop = here();
      if (!push({PathRegex::Op::Split, loop + 1, 0})) return false;
      if (!emit(child)) return false;
      if (!push({PathRegex::Op::Jump, loop, 0})) return false;
      out_.program_[loop].y = here();
      return true;
    }
    // max - min optional copies, nested: (x(x(x)?)?)?
    std::vector<uint32_t> splits;
    for (uint32_t i = min; i < max; ++i) {
      splits.push_back(here());
      if (!push({PathRegex::Op::Split, here() + 1, 0})) return false;
      if (!emit(child)) return false;
    }
    for (uint32_t s : splits) out_.program_[s].y = here();
    return true;
  }

  std::string_view pattern_;
  size_t pos_ = 0;
  PathRegex& out_;
  std::string& error_;
  std::vector<Node> nodes_;
};

std::unique_ptr<PathRegex> PathRegex::compile(std::string_view pattern, std::string& error) {
  error.clear();
  std::unique_ptr<PathRegex> regex(new PathRegex());
  RegexCompiler compiler(pattern, *regex, error);
  if (!compiler.run()) {
    if (error.empty()) error = "invalid pattern";
    return nullptr;
  }
  const size_t n = regex->program_.size();
  regex->current_.reserve(n);
  regex->next_.reserve(n);
  regex->mark_current_.assign(n, 0);
  regex->mark_next_.assign(n, 0);
  regex->stack_.reserve(n);
  return regex;
}

void PathRegex::addThread(std::vector<uint32_t>& list, std::vector<uint32_t>& mark, uint32_t generation,
                          uint32_t start, size_t pos, size_t length) const noexcept {
  stack_.clear();
  stack_.push_back(start);
  while (!stack_.empty()) {
    const uint32_t pc = stack_.back();
    stack_.pop_back();
    if (mark[pc] == generation) continue;
    mark[pc] = generation;
    const Inst& inst = program_[pc];
    switch (inst.op) {
      case Op::Byte:
      case Op::Match:
        list.push_back(pc);
        break;
      case Op::Jump:
        stack_.push_back(inst.x);
        break;
      case Op::Split:
        // Pushed in reverse so x is explored first (priority only matters for captures).
        stack_.push_back(inst.y);
        stack_.push_back(inst.x);
        break;
      case Op::Begin:
        if (pos == 0) stack_.push_back(pc + 1);
        break;
      case Op::End:
        if (pos == length) stack_.push_back(pc + 1);
        break;
    }
  }
}

bool PathRegex::matches(std::string_view text) const noexcept {
  // Every instruction is marked at most once per list and generation, and
  // each list holds at most program_.size() entries: capacity was reserved.
  auto nextGeneration = [this]() {
    if (++generation_ == 0) {
      std::fill(mark_current_.begin(), mark_current_.end(), 0);
      std::fill(mark_next_.begin(), mark_next_.end(), 0);
      generation_ = 1;
    }
    return generation_;
  };
  const size_t length = text.size();
  current_.clear();
  addThread(current_, mark_current_, nextGeneration(), 0, 0, length);
  for (size_t pos = 0; pos < length; ++pos) {
    if (current_.empty()) return false;
    const uint8_t byte = static_cast<uint8_t>(text[pos]);
    next_.clear();
    const uint32_t generation = nextGeneration();
    for (uint32_t pc : current_) {
      const Inst& inst = program_[pc];
      if (inst.op == Op::Byte && hasByte(classes_[inst.x], byte)) {
        addThread(next_, mark_next_, generation, pc + 1, pos + 1, length);
      }
    }
    current_.swap(next_);
    mark_current_.swap(mark_next_);
  }
  for (uint32_t pc : current_) {
    if (program_[pc].op == Op::Match) return true;
  }
  return false;
}

}  // namespace rtsp_filter
}  // namespace mediamesh
